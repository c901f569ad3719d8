"""Keys, owners and newest snapshots, read once per change rather than per request.

Revocation must take effect on the very next request, so nothing here may be
stale by even one request. Each request first learns the database's change
counter (moved by triggers on every change to keys, owners and snapshots,
whichever process makes it); a cached row is used only if it was read under
that same counter. The counter is read from its shared-memory mirror
(changes.py), which costs no SQLite read at all; when the mirror is unsure it
comes from the database.

Each entry is tagged with the counter read *before* its row was fetched, so
a row fetched just before a change can never be taken for a row of the newer
generation.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

from .keys import ApiKey
from .owners import Owner
from .storage import SnapshotRecord, Storage

T = TypeVar("T")
MAX_ENTRIES = 10_000
# How often the mirror is compared with the database's own counter, to catch
# a change made around the appliance (see the limitation in changes.py).
CHECK_SECONDS = 1.0


class Directory:
    def __init__(
        self, storage: Storage, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.storage = storage
        self.monotonic = monotonic
        self._next_check = 0.0
        self._entries: dict[tuple[str, str], tuple[int, Any]] = {}
        # Counts made by this process, for answers that report the count
        # without changing it (/health). Only this process counts requests.
        self._used: dict[tuple[str, str], int] = {}
        self._used_lock = threading.Lock()
        self._month = ""
        self._touched: dict[str, float] = {}

    def begin(self) -> int:
        """The generation for the request this thread is handling.

        Pass it to key, owner and newest_ready for the rest of the request.
        """
        changes = self.storage.changes
        mirrored = None if changes is None else changes.read()
        now = self.monotonic()
        if mirrored is not None and now < self._next_check:
            return mirrored
        generation = self.storage.generation()
        if now >= self._next_check:
            self._next_check = now + CHECK_SECONDS
            lost = changes is None or changes.replaced()
            if lost:
                # Missing, deleted or swapped under us: writers now mark the
                # file at the path, so that is the one to read.
                self.storage.reopen_changes()
            if lost or mirrored != generation:
                self.storage.republish_changes()
        return generation

    def _cached(
        self, kind: str, ident: str, generation: int, fetch: Callable[[str], T]
    ) -> T:
        entry = self._entries.get((kind, ident))
        if entry is not None and entry[0] == generation:
            return entry[1]
        value = fetch(ident)
        if value is not None:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[(kind, ident)] = (generation, value)
        return value

    def key(self, key_id: str, generation: int) -> ApiKey | None:
        return self._cached("key", key_id, generation, self.storage.get_key)

    def owner(self, owner_id: str, generation: int) -> Owner | None:
        return self._cached("owner", owner_id, generation, self.storage.get_owner)

    def newest_ready(self, owner_id: str, generation: int) -> SnapshotRecord | None:
        return self._cached("newest", owner_id, generation, self.storage.newest_ready)

    def counted(self, key_id: str, month: str, used: int) -> None:
        # Counts only grow; threads may finish out of order.
        with self._used_lock:
            if month != self._month:
                # Last month's counts are never asked for again.
                self._used = {k: v for k, v in self._used.items() if k[1] >= month}
                self._month = max(month, self._month)
            if used > self._used.get((key_id, month), -1):
                self._used[(key_id, month)] = used

    def used(self, key_id: str, month: str) -> int:
        known = self._used.get((key_id, month))
        if known is None:
            # Read once; from then on this process's own counts keep it right.
            known = self.storage.used(key_id, month)
            self.counted(key_id, month, known)
        return known

    def touch(self, key: ApiKey, now: float, every: int = 60) -> None:
        """Record the key's last use at most once a minute (shown to the minute)."""
        last = self._touched.get(key.key_id, key.last_used_at or 0)
        if now - last >= every and self.storage.touch_key(key.key_id, int(now)):
            self._touched[key.key_id] = now
