"""Monthly quota arithmetic.

The month is the UTC calendar month: a key's count starts from zero at
00:00:00Z on the 1st. Counts are stored per (key, month) row, so a new month
needs no reset job: its row simply does not exist yet. The admission itself is
one conditional UPDATE in the storage layer, which keeps it exact under
concurrency; this module only says which month an instant falls in and when
the next one starts.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import NamedTuple

DEFAULT_MONTHLY = 10_000
MIN_MONTHLY = 1
MAX_MONTHLY = 1_000_000


@dataclass(frozen=True)
class _Month:
    name: str
    starts: int
    ends: int


_current = _Month("", 0, 0)


def _month(ts: float) -> _Month:
    # Every request asks; the answer changes twelve times a year, so the last
    # month computed is kept and reused while ts falls inside it.
    global _current
    month, second = _current, int(ts)
    if month.starts <= second < month.ends:
        return month
    t = time.gmtime(second)
    year, number = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    month = _Month(
        name=f"{t.tm_year:04d}-{t.tm_mon:02d}",
        starts=calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)),
        ends=calendar.timegm((year, number, 1, 0, 0, 0)),
    )
    _current = month
    return month


def month_and_reset(ts: float) -> tuple[str, int]:
    """The quota month of an instant (YYYY-MM) and the instant it ends."""
    month = _month(ts)
    return month.name, month.ends


def month_of(ts: float) -> str:
    """The quota month of an instant, as YYYY-MM."""
    return _month(ts).name


def check_limit(value: int) -> int:
    """Validate a monthly limit; raises ValueError naming the allowed range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a monthly quota must be a whole number")
    if not MIN_MONTHLY <= value <= MAX_MONTHLY:
        raise ValueError(
            f"a monthly quota must be between {MIN_MONTHLY:,} and {MAX_MONTHLY:,}"
        )
    return value


class QuotaState(NamedTuple):
    """A key's quota after the current request was (or was not) counted.

    Made on every request: a NamedTuple for the reason given at Decision.
    """

    limit: int
    used: int
    resets_at: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)
