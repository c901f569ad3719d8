"""Runtime hook of the frozen binary: keep the extraction folder from aging out.

The one-file binary unpacks its shared libraries and package data into a
`_MEI*` folder under $TMPDIR (else /tmp) and uses them for as long as it runs:
extension modules imported on first use, the admin page's assets read from
disk on every request. A temp cleaner that deletes old files there would break
a server that has been up for days.

systemd-tmpfiles skips a directory, and everything below it, while someone
holds a BSD file lock on it (tmpfiles.d(5), "Age"). So the process takes a
shared lock on its extraction folder at start and keeps it until it exits:
the descriptor is never closed, and it is close-on-exec, so children do not
inherit it.

Limitation: cleaners that ignore file locks (tmpreaper, tmpwatch) can still
remove the folder; the sample systemd unit points TMPDIR at the service's
runtime directory under /run, which no cleaner ages.
"""

import fcntl
import os
import sys


def _hold(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        # A file system without flock must not stop the appliance from
        # starting: it only loses the protection described above.
        os.close(fd)
        return
    sys._afinitwin_extraction_lock = fd  # referenced so the intent is visible


_hold(sys._MEIPASS)
