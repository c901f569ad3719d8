"""Admission: the checks every API request passes, in the contract's order.

Per-address rate limit, key (401), the key's allowed networks, per-key rate
limit, plan (403), scope, monthly quota; the first that fails answers. Once the
key is identified, every answer (success or refusal) carries the quota and
RateLimit header fields, so a client always sees where it stands.

The RateLimit fields follow draft-ietf-httpapi-ratelimit-headers-11: a policy
per budget (`"minute";q=60;w=60`) and, per budget, the remaining requests and
the seconds until that budget frees up (`"minute";r=59;t=60`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

from . import errors, keys, quota
from .clock import Clock
from .config import Settings
from .directory import Directory
from .delivery import QuotaWatch
from .keys import ApiKey
from .owners import Owner
from .quota import QuotaState
from .ratelimit import Decision, SlidingWindowLimiter
from .storage import Storage


class Admitted(NamedTuple):
    """A request that passed admission (a NamedTuple: see ratelimit.Decision)."""

    key: ApiKey
    owner: Owner
    quota: QuotaState
    now: float
    # The directory's generation this request was admitted under, for any
    # further cached read it makes.
    generation: int
    headers: dict[str, str]


def client_address(
    peer: str, forwarded_for: str | None, trusted: Sequence[keys.Network]
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read from the right and the
    first address that is not itself a trusted proxy is the client; entries
    further left were written by the client and prove nothing.
    """
    peer = canonical_address(peer)
    if not forwarded_for or not trusted or not keys.address_in(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if keys.parse_address(hop) is None:
            return peer
        if not keys.address_in(hop, trusted):
            return canonical_address(hop)
    return peer


@functools.lru_cache(maxsize=4096)
def canonical_address(address: str) -> str:
    """One spelling per address, so one client has one rate-limit budget.

    ::ffff:192.0.2.1 is 192.0.2.1 arriving over IPv6, and 2001:DB8::1 is
    2001:db8::1.
    """
    ip = keys.parse_address(address)
    return address if ip is None else str(ip)


class Gate:
    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        limiter: SlidingWindowLimiter | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.limiter = limiter or SlidingWindowLimiter(max_buckets=settings.max_tracked)
        self.quota_watch = QuotaWatch(storage, clock)
        self.directory = Directory(storage)

    def admit(
        self,
        endpoint: str,
        *,
        counted: bool,
        scope: str,
        client_ip: str,
        x_twin_key: str | None,
        authorization: str | None,
    ) -> Admitted:
        now = self.clock.now()
        by_address = self.limiter.hit(
            ("address", endpoint, client_ip), self.settings.per_address[endpoint], now
        )
        if not by_address.allowed:
            raise errors.RateLimited(
                "Too many requests from this address; retry after the time in"
                " Retry-After.",
                headers={"Retry-After": str(by_address.retry_after)},
            )

        plaintext = keys.presented_key(x_twin_key, authorization)
        directory = self.directory
        generation = directory.begin()
        key = keys.verify(
            directory.key(keys.key_id_of(plaintext), generation), plaintext, now
        )
        owner = directory.owner(key.owner_id, generation)
        if owner is None:  # the foreign key makes this impossible short of corruption
            raise errors.InvalidApiKey("The API key is not valid.")
        month, resets = quota.month_and_reset(now)
        minute_budget = ("key", endpoint, key.key_id)
        limit = self.settings.per_key[endpoint]

        if not keys.network_allows(key, client_ip):
            raise self._refused(
                errors.IpNotAllowed(
                    "Requests with this key are not allowed from this client address."
                ),
                key,
                month,
                resets,
                self.limiter.peek(minute_budget, limit, now),
                now,
            )
        minute = self.limiter.hit(minute_budget, limit, now)
        if not minute.allowed:
            error: errors.ApiError = errors.RateLimited(
                "Too many requests with this key; retry after the time in"
                " Retry-After.",
                headers={"Retry-After": str(minute.retry_after)},
            )
            raise self._refused(error, key, month, resets, minute, now)
        if not owner.allows_keys(now):
            error = errors.SubscriptionInactive(
                "The owner's plan is not active, so this key is paused."
            )
            raise self._refused(error, key, month, resets, minute, now)
        if scope not in key.scopes:
            error = errors.InsufficientScope(
                f"This endpoint needs the {scope} scope, which the key does not"
                " have.",
                details={"requiredScope": scope, "keyScopes": list(key.scopes)},
            )
            raise self._refused(error, key, month, resets, minute, now)

        if counted:
            used = self.storage.count_request(key.key_id, month, key.monthly_quota)
            if used is None:
                self.quota_watch.exceeded(
                    owner.owner_id, key.key_id, month, key.monthly_quota
                )
                error = errors.TierQuotaExceeded(
                    "The key's monthly quota is used up; it resets at the start of"
                    " next month (UTC).",
                    headers={"Retry-After": str(resets - int(now))},
                )
                raise self._refused(
                    error, key, month, resets, minute, now, used=key.monthly_quota
                )
            self.directory.counted(key.key_id, month, used)
            self.quota_watch.counted(
                owner.owner_id, key.key_id, month, used, key.monthly_quota
            )
        else:
            used = self.directory.used(key.key_id, month)

        self.directory.touch(key, now)
        state = QuotaState(key.monthly_quota, min(used, key.monthly_quota), resets)
        return Admitted(
            key, owner, state, now, generation, self.headers(state, minute, now)
        )

    def _refused(
        self,
        error: errors.ApiError,
        key: ApiKey,
        month: str,
        resets: int,
        minute: Decision,
        now: float,
        used: int | None = None,
    ) -> errors.ApiError:
        """A refusal after the key is known: it still reports where the key stands."""
        if used is None:
            used = self.directory.used(key.key_id, month)
        state = QuotaState(key.monthly_quota, min(used, key.monthly_quota), resets)
        error.headers = {**self.headers(state, minute, now), **error.headers}
        error.key_id = key.key_id
        return error

    def headers(
        self, state: QuotaState, minute: Decision, now: float
    ) -> dict[str, str]:
        remaining = state.remaining
        return {
            "X-Twin-Quota-Limit": str(state.limit),
            "X-Twin-Quota-Used": str(state.used),
            "X-Twin-Quota-Remaining": str(remaining),
            "RateLimit-Policy": _policy(minute.limit, state.limit),
            "RateLimit": (
                f'"minute";r={minute.remaining};t={minute.reset},'
                f' "month";r={remaining};t={state.resets_at - int(now)}'
            ),
        }


@functools.lru_cache(maxsize=1024)
def _policy(per_minute: int, per_month: int) -> str:
    # The same few pairs come back on every request.
    return f'"minute";q={per_minute};w=60, "month";q={per_month}'
