"""Time, injected.

Everything that depends on the time (quota months, rate-limit windows, key
expiry, instants in responses) takes a clock instead of calling time.time(), so
tests move time by hand and never sleep to cross a window.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch, UTC."""


class SystemClock:
    def now(self) -> float:
        return time.time()


def rfc3339(ts: float) -> str:
    """An instant as the contract writes it: UTC, whole seconds, a trailing Z."""
    return _rfc3339(int(ts))


@functools.lru_cache(maxsize=256)
def _rfc3339(second: int) -> str:
    # Every response carries the current second, so most calls repeat one.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def parse_instant(text: str) -> float:
    """Read a date (YYYY-MM-DD, meaning its midnight UTC) or an RFC 3339 instant.

    Raises ValueError naming the accepted forms.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return float(calendar.timegm(day.timetuple()))
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD) or an instant (2027-01-31T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()
