"""The database's change counter, mirrored in a small file beside it.

Every request must see a change to keys, owners or snapshots at once,
whichever process made it: revocation takes effect on the very next request.
The database holds the authoritative counter (the `generation` table, moved by
triggers), but reading it is a SQLite read transaction per request, and under
load that cost more than all the rest of /health: file locks on the WAL index,
and the interpreter lock handed to another thread and back while SQLite runs.
One 16-byte pread of this file costs a fraction of that.

Every process that writes to the database keeps the counter in
`<database>-changes` too, seqlock style: a write transaction first marks the
mirror as changing, and only after its commit publishes the new counter. A
reader that finds the mark, a short read or a torn value asks the database
instead, so a writer that dies between its commit and its publish leaves the
readers slower, never wrong. The value is stored with its bitwise complement,
which is how a torn or damaged value is recognised. The file is read with
pread, not mapped, so a file truncated under a running server reads as
unknown instead of crashing it.

Limitation: a change made around the appliance (a `sqlite3` shell editing the
database, or the mirror deleted while the server runs) is not marked in the
mirror the server reads. The directory compares the mirror with the database
once a second and reopens a replaced file, so such a change is seen within a
second rather than on the next request.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
import struct
from pathlib import Path
from typing import Iterator

_LAYOUT = struct.Struct("<QQ")  # the value, then its bitwise complement
_ALL_ONES = 2**64 - 1
_CHANGING = 1  # low bit of the value: a writer is between its mark and publish


class MirrorUnavailable(Exception):
    """The mirror cannot be opened for writing; the message says why."""


class ChangeMirror:
    """The counter in a file: `generation << 1`, or a writer's mark."""

    def __init__(self, path: Path, mode: int = 0o600) -> None:
        self.path = path
        # The mirror gets the database's permission bits, so whoever may
        # write the database may also mark its changes.
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
        self._inode = os.fstat(self._fd).st_ino

    @staticmethod
    def path_beside(database: Path) -> Path:
        return database.with_name(database.name + "-changes")

    @classmethod
    def beside(cls, database: Path) -> ChangeMirror:
        """The mirror of a database; MirrorUnavailable if it cannot be opened."""
        path = cls.path_beside(database)
        try:
            mode = stat.S_IMODE(os.stat(database).st_mode) & 0o666
            return cls(path, mode)
        except OSError as exc:
            raise MirrorUnavailable(
                f"cannot open {path} for writing ({exc.strerror}); it must be"
                " readable and writable by whoever writes the database"
            ) from None

    def read(self) -> int | None:
        """The mirrored counter; None while a write is under way or if unreadable."""
        data = os.pread(self._fd, _LAYOUT.size, 0)
        if len(data) != _LAYOUT.size:
            return None
        value, check = _LAYOUT.unpack(data)
        if value ^ check != _ALL_ONES or value & _CHANGING:
            return None
        return value >> 1

    def replaced(self) -> bool:
        """Whether the path now names another file than the one held open."""
        try:
            return os.stat(self.path).st_ino != self._inode
        except OSError:
            return True

    def mark(self) -> int:
        """Say that a write is under way; returns the mark, to publish against."""
        # A random mark, so a writer can tell its own mark from another's.
        mark = (secrets.randbits(62) << 1) | _CHANGING
        with self._locked():
            self._store(mark)
        return mark

    def publish(self, generation: int, mark: int) -> None:
        """Store the counter after a commit, unless another writer marked since."""
        # Publishing happens after the commit, outside the database's write
        # lock; the file lock keeps another process's mark from landing
        # between the comparison and the store (and being overwritten).
        with self._locked():
            data = os.pread(self._fd, _LAYOUT.size, 0)
            if len(data) == _LAYOUT.size and _LAYOUT.unpack(data)[0] != mark:
                return
            self._store(generation << 1)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _store(self, value: int) -> None:
        os.pwrite(self._fd, _LAYOUT.pack(value, value ^ _ALL_ONES), 0)

    def close(self) -> None:
        os.close(self._fd)
