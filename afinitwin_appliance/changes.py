"""The database's change counter, mirrored in a small shared-memory file.

Every request must see a change to keys, owners or snapshots at once,
whichever process made it: revocation takes effect on the very next request.
The database holds the authoritative counter (the `generation` table, moved by
triggers), but reading it is a SQLite read transaction per request, and under
load that cost more than all the rest of /health: file locks on the WAL index,
and the interpreter lock handed to another thread and back while SQLite runs.

So every process that opens the database for writing maps `<database>-changes`
and keeps the counter there too, seqlock style: a write transaction first
marks the mirror as changing, and only after its commit publishes the new
counter. A reader that finds the mark, or a torn or missing value, asks the
database instead, so a writer that dies between its commit and its publish
leaves the readers slower, never wrong. The value is stored with its bitwise
complement, which is how a torn read is recognised.

Limitation: a change made around the appliance (a `sqlite3` shell editing the
database) moves the database's counter but not the mirror. Readers compare the
two once a second (Directory), so such a change is seen within a second rather
than on the next request.
"""

from __future__ import annotations

import logging
import mmap
import os
import secrets
import struct
from pathlib import Path

log = logging.getLogger(__name__)

_LAYOUT = struct.Struct("<QQ")  # the value, then its bitwise complement
_ALL_ONES = 2**64 - 1
_CHANGING = 1  # low bit of the value: a writer is between its mark and publish


class ChangeMirror:
    """The counter in shared memory: `generation << 1`, or a writer's mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _LAYOUT.size:
                # Zeros are not a valid value (their complement is not all
                # ones), so a fresh file reads as unknown until published.
                os.ftruncate(fd, _LAYOUT.size)
            self._map = mmap.mmap(fd, _LAYOUT.size)
        finally:
            os.close(fd)

    @classmethod
    def open(cls, database: Path) -> ChangeMirror | None:
        """The mirror beside a database, or None if it cannot be made there."""
        path = database.with_name(database.name + "-changes")
        try:
            return cls(path)
        except (OSError, ValueError) as exc:
            # Without a mirror every request asks the database: slower, right.
            log.warning("no change mirror at %s (%s); reading the database", path, exc)
            return None

    def read(self) -> int | None:
        """The mirrored counter; None while a write is under way or if unreadable."""
        value, check = _LAYOUT.unpack_from(self._map)
        if value ^ check != _ALL_ONES or value & _CHANGING:
            return None
        return value >> 1

    def mark(self) -> int:
        """Say that a write is under way; returns the mark, to publish against."""
        # A random mark, so a writer can tell its own mark from another's.
        mark = (secrets.randbits(62) << 1) | _CHANGING
        self._store(mark)
        return mark

    def publish(self, generation: int, mark: int | None = None) -> None:
        """Store the counter after a commit, unless another writer marked since.

        With `mark` None, store unconditionally: only while holding the
        database's write lock, when no other writer can be half-way.
        """
        if mark is not None and _LAYOUT.unpack_from(self._map)[0] != mark:
            return
        self._store(generation << 1)

    def _store(self, value: int) -> None:
        _LAYOUT.pack_into(self._map, 0, value, value ^ _ALL_ONES)

    def close(self) -> None:
        self._map.close()
