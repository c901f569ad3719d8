"""Monthly quota and per-minute rate limits, with an injected clock."""

from __future__ import annotations

import tracemalloc

import pytest

from afinitwin_appliance import config, quota
from afinitwin_appliance.admission import client_address
from afinitwin_appliance.ratelimit import SlidingWindowLimiter
from conftest import make_world, settings_with, utc


# -- month arithmetic -------------------------------------------------------------


@pytest.mark.parametrize(
    "instant,month,reset",
    [
        (utc(2026, 12, 31, 23, 59, 59), "2026-12", utc(2027, 1, 1)),
        (utc(2027, 1, 1, 0, 0, 0), "2027-01", utc(2027, 2, 1)),
        (utc(2028, 2, 29, 23, 59, 59), "2028-02", utc(2028, 3, 1)),
        (utc(2028, 3, 1), "2028-03", utc(2028, 4, 1)),
        (utc(2027, 2, 28, 23, 59, 59), "2027-02", utc(2027, 3, 1)),
    ],
)
def test_month_and_reset_instant(instant, month, reset):
    assert quota.month_and_reset(instant) == (month, reset)
    assert quota.month_of(instant) == month


def test_quota_count_restarts_at_midnight_utc_on_the_first(storage, settings, clock):
    clock.t = utc(2028, 2, 29, 23, 59, 58)
    w = make_world(storage, settings, clock)
    key = w.new_key(monthly_quota=2)
    assert w.get("/me", key=key).status_int == 200
    clock.t = utc(2028, 2, 29, 23, 59, 59)
    assert w.get("/me", key=key).status_int == 200
    refused = w.get("/me", key=key)
    assert refused.status_int == 429
    assert refused.json["error"]["code"] == "TIER_QUOTA_EXCEEDED"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-Twin-Quota-Used"] == "2"
    assert refused.headers["X-Twin-Quota-Remaining"] == "0"
    clock.t = utc(2028, 3, 1, 0, 0, 0)
    resp = w.get("/me", key=key)
    assert resp.status_int == 200
    assert resp.json["quota"] == {
        "monthlyLimit": 2,
        "used": 1,
        "remaining": 1,
        "resetsAt": "2028-04-01T00:00:00Z",
    }


def test_refused_and_free_requests_never_count(world):
    world.get("/health")
    world.get("/me", key="atk_live_0badc0de_" + "0" * 32)
    world.get("/me", key=None)
    assert world.get("/me").json["quota"]["used"] == 1


def test_requests_that_fail_after_the_quota_check_still_count(world):
    assert world.get("/preset/nothing").status_int == 404
    assert world.get("/preset/estandar?format=pdf").status_int == 400
    assert world.get("/me").json["quota"]["used"] == 3


def test_quota_headers_and_ratelimit_fields(world):
    resp = world.get("/me")
    assert resp.headers["RateLimit-Policy"] == '"minute";q=60;w=60, "month";q=10000'
    reset = int(utc(2027, 1, 1) - world.clock.now())
    assert resp.headers["RateLimit"] == f'"minute";r=59;t=60, "month";r=9999;t={reset}'


# -- sliding window -----------------------------------------------------------------


def test_sliding_window_edge_with_retry_after(world):
    clock = world.clock
    start = clock.now()
    for i in range(60):
        assert world.get("/me").status_int == 200, i
        clock.advance(0.5)
    # 60 admitted between start and start + 29.5 s.
    refused = world.get("/me")
    assert refused.status_int == 429
    assert refused.json["error"]["code"] == "RATE_LIMITED"
    assert refused.headers["Retry-After"] == "30"  # the oldest leaves at start + 60
    assert refused.headers["X-Twin-Quota-Used"] == "60"
    assert refused.headers["RateLimit"].startswith('"minute";r=0;t=30,')
    clock.t = start + 59.999
    assert world.get("/me").status_int == 429
    clock.t = start + 60
    assert world.get("/me").status_int == 200
    assert world.get("/me").status_int == 429  # the second oldest is still in


def test_rate_limited_requests_do_not_count_against_the_month(world):
    for _ in range(61):
        world.get("/historic")
    assert world.get("/me").json["quota"]["used"] == 61  # 60 historic + this one


def test_each_endpoint_has_its_own_budget(world):
    for _ in range(60):
        world.get("/me")
    assert world.get("/me").status_int == 429
    assert world.get("/historic").status_int == 200


def test_per_address_budget_throttles_key_guessing(storage, tmp_path, clock):
    settings = settings_with(tmp_path, AFINITWIN_RATE_LIMITS_PER_ADDRESS_HEALTH="3")
    w = make_world(storage, settings, clock)
    codes = [
        w.get("/health", key="atk_live_0badc0de_" + "0" * 32).status_int
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    refused = w.get("/health")
    assert refused.json["error"]["code"] == "RATE_LIMITED"
    assert refused.headers["Retry-After"] == "60"
    other = w.get("/health", extra_environ={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_int == 200


def test_limiter_memory_is_bounded_after_100000_addresses():
    limiter = SlidingWindowLimiter(max_buckets=10_000)
    now = 1_000_000.0
    tracemalloc.start()
    for i in range(100_000):
        limiter.hit(
            ("address", "me", f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"), 5, now
        )
        now += 0.01  # 100,000 callers over 1,000 s: at most 6,000 live at once
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(limiter) == 6_000
    assert held < 8 * 1024 * 1024  # ~1,300 bytes a live bucket, nothing for the rest


def test_limiter_caps_buckets_even_when_all_are_live():
    limiter = SlidingWindowLimiter(max_buckets=1_000)
    for i in range(100_000):
        limiter.hit(("address", "me", str(i)), 5, 1000.0)
    assert len(limiter) == 1_000


def test_limiter_window_is_exact():
    limiter = SlidingWindowLimiter()
    assert [limiter.hit("b", 2, t).allowed for t in (0, 1, 59.9, 60, 61, 61)] == [
        True,
        True,
        False,
        True,
        True,
        False,
    ]


# -- client address -----------------------------------------------------------------


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy():
    trusted = config.load(
        None, {"AFINITWIN_SERVER_TRUSTED_PROXIES": "10.0.0.5"}
    ).trusted_networks
    assert client_address("192.0.2.1", "203.0.113.9", trusted) == "192.0.2.1"
    assert client_address("10.0.0.5", "203.0.113.9", trusted) == "203.0.113.9"
    assert client_address("10.0.0.5", "1.1.1.1, 203.0.113.9", trusted) == "203.0.113.9"
    assert client_address("10.0.0.5", "junk", trusted) == "10.0.0.5"
    assert client_address("10.0.0.5", "203.0.113.9", ()) == "10.0.0.5"


def test_spoofed_forwarded_for_does_not_escape_the_address_budget(
    storage, tmp_path, clock
):
    settings = settings_with(tmp_path, AFINITWIN_RATE_LIMITS_PER_ADDRESS_ME="2")
    w = make_world(storage, settings, clock)
    codes = [
        w.get("/me", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_int
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_ipv4_mapped_and_plain_addresses_share_one_budget(storage, tmp_path, clock):
    settings = settings_with(tmp_path, AFINITWIN_RATE_LIMITS_PER_ADDRESS_ME="2")
    w = make_world(storage, settings, clock)
    codes = [
        w.get("/me", extra_environ={"REMOTE_ADDR": peer}).status_int
        for peer in ("203.0.113.5", "::ffff:203.0.113.5", "::FFFF:203.0.113.5")
    ]
    assert codes == [200, 200, 429]
