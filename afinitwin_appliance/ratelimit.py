"""Per-minute rate limits: an exact sliding window, in process.

A request is admitted when fewer than `limit` requests were admitted in the 60
seconds before it, so each bucket keeps the instants of its admitted requests
(never more than `limit` of them) and a request is refused until the oldest one
leaves the window. That is exact where fixed windows and token buckets let
twice the budget through around a boundary.

Memory stays bounded whatever the number of distinct addresses or keys: buckets
sit in least-recently-used order, buckets whose every instant has left the
window are dropped as new ones arrive, and past `max_buckets` the least
recently used bucket is dropped even if still live.

Limitation: a bucket dropped while live (only when more than `max_buckets`
distinct callers were seen within one minute) forgets its admitted requests,
so that caller may get up to one extra minute's budget.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from typing import Hashable, NamedTuple

WINDOW_SECONDS = 60
DEFAULT_MAX_BUCKETS = 50_000


class Decision(NamedTuple):
    """The outcome for one bucket, in the terms of the RateLimit header fields.

    A NamedTuple rather than a frozen dataclass: both are immutable, and two
    are made per request, where the dataclass's constructor measured several
    times slower.
    """

    allowed: bool
    limit: int
    remaining: int
    reset: int  # whole seconds until the oldest admitted request leaves the window

    @property
    def retry_after(self) -> int:
        return max(self.reset, 1)


class SlidingWindowLimiter:
    def __init__(
        self,
        window: int = WINDOW_SECONDS,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> None:
        self.window = window
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, bucket: Hashable, limit: int, now: float) -> Decision:
        """Admit or refuse one request for `bucket`, recording it if admitted."""
        with self._lock:
            times = self._buckets.get(bucket)
            if times is None:
                self._evict(now)
                times = self._buckets[bucket] = deque()
            else:
                self._buckets.move_to_end(bucket)
            horizon = now - self.window
            while times and times[0] <= horizon:
                times.popleft()
            allowed = len(times) < limit
            if allowed:
                times.append(now)
            count, oldest = len(times), times[0] if times else None
        return self._decision(allowed, count, oldest, limit, now)

    def peek(self, bucket: Hashable, limit: int, now: float) -> Decision:
        """The state of a bucket without recording anything."""
        with self._lock:
            times = self._buckets.get(bucket)
            live = [t for t in times if t > now - self.window] if times else []
        oldest = live[0] if live else None
        return self._decision(len(live) < limit, len(live), oldest, limit, now)

    def _evict(self, now: float) -> None:
        # Look only at the least recently used end: a stale bucket there costs
        # nothing to drop, and stopping at the first live one keeps each call
        # O(1) amortised.
        horizon = now - self.window
        while self._buckets:
            oldest_key, times = next(iter(self._buckets.items()))
            stale = not times or times[-1] <= horizon
            if not stale and len(self._buckets) < self.max_buckets:
                break
            del self._buckets[oldest_key]

    def _decision(
        self, allowed: bool, count: int, oldest: float | None, limit: int, now: float
    ) -> Decision:
        """A bucket holding `count` instants, the oldest at `oldest`."""
        remaining = max(limit - count, 0)
        reset = self.window if oldest is None else math.ceil(oldest + self.window - now)
        return Decision(allowed, limit, remaining, reset)
