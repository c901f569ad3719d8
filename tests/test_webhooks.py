"""Webhooks: signatures, exact bodies, the events, the outbox, the sender, the
command line and the admin endpoints. Receivers run on 127.0.0.1 only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import logging
import re
import threading

import pytest
from afini_twin import verify_webhook_signature

from afinitwin_appliance import manage, quota, webhooks
from afinitwin_appliance.delivery import QuotaWatch, Sender, http_send
from afinitwin_appliance.storage import Storage
from conftest import SNAPSHOTS, cli, utc

SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")
NOW = utc(2026, 12, 4, 13, 57, 22)


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check written from the spec, independently."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = b".".join(
        [headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body]
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected.decode(), o) for o in offered)


def lucia(**fields: str) -> bytes:
    """Lucía's snapshot document with some top-level fields changed."""
    text = (SNAPSHOTS / "lucia-ortega.yaml").read_text(encoding="utf-8")
    for name, value in fields.items():
        text, count = re.subn(rf"(?m)^{name}: .*$", f"{name}: {value}", text)
        assert count == 1, name
    return text.encode("utf-8")


def endpoint(world, url: str = "http://127.0.0.1:9/hook", events=()):
    return manage.add_webhook(world.storage, world.clock, world.owner_id, url, events)


def deliveries(storage: Storage, event: str | None = None):
    found = storage.list_deliveries(limit=1000)
    return [d for d in found if event is None or d.event == event]


class Recorder:
    """A fake `send`: records each call and answers from a list of statuses."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, bytes, dict[str, str], float]] = []

    def __call__(self, url, body, headers, timeout):
        self.calls.append((url, body, headers, timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


# -- the pure part ---------------------------------------------------------------------


def test_body_is_compact_json_with_real_characters_in_contract_order():
    text = webhooks.body("twin.test", "whd_1", NOW, {"userId": "usr_é", "n": 1})
    assert text == (
        '{"event":"twin.test","deliveryId":"whd_1","timestamp":"2026-12-04T13:57:22Z",'
        '"data":{"userId":"usr_é","n":1}}'
    )


def test_secret_is_whsec_and_base64_of_32_random_bytes():
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert SECRET_RE.fullmatch(first) and first != second
    assert len(base64.b64decode(first[6:])) == 32


def test_signatures_verify_with_the_sdk_and_the_standard_webhooks_scheme():
    secret = webhooks.new_secret()
    payload = webhooks.body("twin.test", "whd_abc", NOW, {"userId": "usr_ü"}).encode()
    heads = webhooks.headers(secret, "whd_abc", 1796392642, payload)
    assert verify_webhook_signature(payload, heads["X-AfiniTwin-Signature"], secret)
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", heads["X-AfiniTwin-Signature"])
    assert heads["webhook-id"] == "whd_abc"
    assert heads["webhook-timestamp"] == "1796392642"
    assert standard_webhooks_verify(secret, heads, payload)
    tampered = payload.replace(b"usr_", b"usr-")
    assert not verify_webhook_signature(
        tampered, heads["X-AfiniTwin-Signature"], secret
    )
    assert not standard_webhooks_verify(secret, heads, tampered)
    other = webhooks.new_secret()
    assert not verify_webhook_signature(payload, heads["X-AfiniTwin-Signature"], other)


def test_signature_is_the_hmac_of_the_exact_body_with_the_whole_secret():
    secret = "whsec_" + "A" * 43 + "="
    payload = b'{"event":"twin.test"}'
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    assert webhooks.signature(secret, payload) == "sha256=" + expected


@pytest.mark.parametrize(
    "url, problem",
    [
        ("ftp://crm.local/hook", "a webhook URL must start with http:// or https://"),
        ("javascript:alert(1)", "a webhook URL must start with http:// or https://"),
        (
            "http://user:pw@crm.local/hook",
            "a webhook URL must not carry a user name or password",
        ),
        (
            "https://user@crm.local/",
            "a webhook URL must not carry a user name or password",
        ),
        ("http:///nohost", "a webhook URL must name a host"),
        (
            "http://crm.local/a b",
            "a webhook URL must not contain spaces or control characters",
        ),
        ("http://crm.local:99999/", "'http://crm.local:99999/' is not a valid URL"),
        ("", "a webhook URL must be 1 to 2000 characters"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url, problem):
    with pytest.raises(ValueError) as caught:
        webhooks.check_url(url)
    assert str(caught.value) == problem


def test_any_host_is_allowed_on_premises():
    for url in (
        "http://10.1.2.3:8080/hooks",
        "https://crm.internal/afinitwin?x=1",
        "http://localhost/h",
        "HTTPS://[::1]:8443/h",
    ):
        assert webhooks.check_url(url) == url


def test_backoff_grows_for_about_a_day_then_gives_up():
    delays = [webhooks.retry_delay(n) for n in range(1, 10)]
    assert delays == [30, 120, 600, 1800, 3600, 10800, 21600, 43200, None]
    assert sum(webhooks.BACKOFF) == 81750  # 22 h 42 min between first and last


# -- events ---------------------------------------------------------------------------


def test_ready_snapshot_import_enqueues_one_delivery_per_subscribed_endpoint(world):
    everything = endpoint(world)
    endpoint(world, "http://127.0.0.1:9/keys-only", ["twin.api_key.revoked"])
    manage.import_snapshot(
        world.storage,
        world.clock,
        world.owner_id,
        lucia(id="snp_second"),
        "second.yaml",
    )
    [found] = deliveries(world.storage)
    assert found.endpoint_id == everything.endpoint.endpoint_id
    assert found.event == "twin.snapshot.ready"
    assert found.body == (
        f'{{"event":"twin.snapshot.ready","deliveryId":"{found.delivery_id}",'
        f'"timestamp":"2026-12-04T13:57:22Z","data":{{"userId":"{world.owner_id}",'
        '"snapshotId":"snp_second","snapshotDate":"2026-11-01","status":"ready"}}'
    )
    assert (found.status, found.attempts, found.next_attempt_at) == (
        "pending",
        0,
        int(NOW),
    )


def test_failed_snapshot_fires_failed_and_a_repeated_import_fires_nothing(world):
    endpoint(world)
    for _ in range(2):
        manage.import_snapshot(
            world.storage,
            world.clock,
            world.owner_id,
            lucia(id="snp_broken", status="failed"),
            "broken.yaml",
        )
    assert [d.event for d in deliveries(world.storage)] == ["twin.snapshot.failed"]
    data = json.loads(deliveries(world.storage)[0].body)["data"]
    assert data == {
        "userId": world.owner_id,
        "snapshotId": "snp_broken",
        "snapshotDate": "2026-11-01",
        "status": "failed",
    }


def test_revoking_a_key_fires_key_revoked_with_ids_only(world):
    endpoint(world)
    manage.revoke_key(world.storage, world.clock, world.key_id)
    [found] = deliveries(world.storage)
    body = json.loads(found.body)
    assert body["event"] == "twin.api_key.revoked"
    assert body["data"] == {
        "userId": world.owner_id,
        "keyId": world.key_id,
        "revokedAt": "2026-12-04T13:57:22Z",
    }
    assert world.key not in found.body and world.key[18:] not in found.body


def test_events_go_only_to_the_owners_own_endpoints(world):
    other = manage.add_owner(world.storage, world.clock, "Other")
    manage.add_webhook(
        world.storage, world.clock, other.owner_id, "http://127.0.0.1:9/"
    )
    manage.revoke_key(world.storage, world.clock, world.key_id)
    assert deliveries(world.storage) == []


def test_quota_warning_at_80_percent_and_exceeded_once_each(world):
    endpoint(world)
    key = world.new_key(monthly_quota=10)
    key_id = key[9:17]
    statuses = [world.get("/me", key=key).status_int for _ in range(7)]
    assert statuses == [200] * 7 and deliveries(world.storage) == []
    world.get("/me", key=key)  # the 8th of 10: 80%
    [warning] = deliveries(world.storage)
    assert json.loads(warning.body)["event"] == "twin.quota.warning_80"
    assert json.loads(warning.body)["data"] == {
        "userId": world.owner_id,
        "keyId": key_id,
        "month": "2026-12",
        "limit": 10,
        "used": 8,
    }
    statuses = [world.get("/me", key=key).status_int for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    events = [d.event for d in deliveries(world.storage)]
    assert sorted(events) == ["twin.quota.exceeded", "twin.quota.warning_80"]
    exceeded = deliveries(world.storage, "twin.quota.exceeded")[0]
    assert json.loads(exceeded.body)["data"] == {
        "userId": world.owner_id,
        "keyId": key_id,
        "month": "2026-12",
        "limit": 10,
        "used": 10,
    }


def test_quota_events_fire_again_in_the_next_month(world):
    endpoint(world)
    key = world.new_key(monthly_quota=2)
    for _ in range(3):
        world.get("/me", key=key)
    world.clock.t = utc(2026, 12, 31, 23, 59, 59)
    world.get("/me", key=key)
    assert len(deliveries(world.storage)) == 2
    world.clock.t = utc(2027, 1, 1)
    for _ in range(3):
        world.get("/me", key=key)
    months = sorted(
        (json.loads(d.body)["data"]["month"], d.event)
        for d in deliveries(world.storage)
    )
    assert months == [
        ("2026-12", "twin.quota.exceeded"),
        ("2026-12", "twin.quota.warning_80"),
        ("2027-01", "twin.quota.exceeded"),
        ("2027-01", "twin.quota.warning_80"),
    ]


def test_quota_events_fire_once_under_concurrency(world):
    endpoint(world)
    endpoint(world, "http://127.0.0.1:9/second")
    key_id, limit, month = world.key_id, 400, quota.month_of(NOW)
    world.storage.set_key_quota(key_id, limit)
    admitted = []

    def hammer() -> None:
        # Each thread has its own watch, as separate processes would: only
        # the database can keep them from firing twice.
        watch = QuotaWatch(world.storage, world.clock)
        while True:
            used = world.storage.count_request(key_id, month, limit)
            if used is None:
                watch.exceeded(world.owner_id, key_id, month, limit)
                return
            admitted.append(used)
            watch.counted(world.owner_id, key_id, month, used, limit)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(admitted) == list(range(1, limit + 1))
    events = sorted(d.event for d in deliveries(world.storage))
    assert events == ["twin.quota.exceeded"] * 2 + ["twin.quota.warning_80"] * 2
    for event in ("twin.quota.exceeded", "twin.quota.warning_80"):
        assert world.storage.quota_event_recorded(key_id, month, event)


def test_far_from_the_threshold_the_watch_touches_no_database(world):
    class NoStorage:
        def __getattr__(self, name):
            raise AssertionError(f"storage.{name} used below the threshold")

    watch = QuotaWatch(NoStorage(), world.clock)  # type: ignore[arg-type]
    for used in range(1, 80):
        watch.counted(world.owner_id, world.key_id, "2026-12", used, 100)


# -- the outbox and the sender ---------------------------------------------------------


def test_outbox_survives_reopening_the_database(world, settings):
    created = endpoint(world)
    delivery_id = manage.send_test_webhook(
        world.storage, world.clock, created.endpoint.endpoint_id
    )
    world.storage.close()
    reopened = Storage(settings.database).open()
    try:
        recorder = Recorder(200)
        assert Sender(reopened, world.clock, send=recorder).run_due() == 1
        assert reopened.get_delivery(delivery_id).status == "delivered"
        url, body, heads, timeout = recorder.calls[0]
        assert url == "http://127.0.0.1:9/hook" and timeout == 10.0
        assert verify_webhook_signature(
            body, heads["X-AfiniTwin-Signature"], created.secret
        )
        assert standard_webhooks_verify(created.secret, heads, body)
        assert json.loads(body) == {
            "event": "twin.test",
            "deliveryId": delivery_id,
            "timestamp": "2026-12-04T13:57:22Z",
            "data": {
                "userId": world.owner_id,
                "endpointId": created.endpoint.endpoint_id,
            },
        }
    finally:
        reopened.close()


def test_failed_attempts_back_off_then_give_up_after_about_a_day(world):
    created = endpoint(world)
    delivery_id = manage.send_test_webhook(
        world.storage, world.clock, created.endpoint.endpoint_id
    )
    recorder = Recorder(500)
    sender = Sender(world.storage, world.clock, send=recorder)
    start = int(world.clock.now())
    expected_at = [start]
    for delay in webhooks.BACKOFF:
        expected_at.append(expected_at[-1] + delay)
    for n, at in enumerate(expected_at):
        world.clock.t = at - 1
        assert sender.run_due() == 0, f"attempt {n + 1} came early"
        world.clock.t = at
        assert sender.run_due() == 1
        state = world.storage.get_delivery(delivery_id)
        assert state.attempts == n + 1
        assert state.last_status_code == 500 and state.last_error == "answered 500"
    assert state.status == "failed" and state.next_attempt_at is None
    world.clock.advance(10 * 86400)
    assert sender.run_due() == 0
    attempts = world.storage.delivery_attempts([delivery_id])
    assert [a.at for a in attempts] == expected_at
    assert {(a.status_code, a.error) for a in attempts} == {(500, "answered 500")}
    assert expected_at[-1] - start == 81750
    # A new Standard Webhooks timestamp on every attempt, the same id.
    stamps = [c[2]["webhook-timestamp"] for c in recorder.calls]
    assert stamps == [str(a) for a in expected_at]
    assert {c[2]["webhook-id"] for c in recorder.calls} == {delivery_id}


def test_a_connection_error_is_a_failed_attempt_then_a_retry_succeeds(world):
    created = endpoint(world)
    delivery_id = manage.send_test_webhook(
        world.storage, world.clock, created.endpoint.endpoint_id
    )
    sender = Sender(
        world.storage,
        world.clock,
        send=Recorder(ConnectionRefusedError(111, "Connection refused"), 204),
    )
    sender.run_due()
    state = world.storage.get_delivery(delivery_id)
    assert (state.status, state.last_status_code, state.last_error) == (
        "pending",
        None,
        "ConnectionRefusedError: [Errno 111] Connection refused",
    )
    assert state.next_attempt_at == int(NOW) + 30
    world.clock.advance(30)
    sender.run_due()
    state = world.storage.get_delivery(delivery_id)
    assert (state.status, state.attempts, state.last_status_code) == (
        "delivered",
        2,
        204,
    )


def test_removed_endpoint_stops_its_deliveries(world):
    created = endpoint(world)
    manage.send_test_webhook(world.storage, world.clock, created.endpoint.endpoint_id)
    manage.remove_webhook(world.storage, created.endpoint.endpoint_id)
    assert deliveries(world.storage) == []
    assert Sender(world.storage, world.clock, send=Recorder(200)).run_due() == 0


def test_disabled_endpoint_gets_no_events_and_pending_ones_fail(world):
    created = endpoint(world)
    eid = created.endpoint.endpoint_id
    delivery_id = manage.send_test_webhook(world.storage, world.clock, eid)
    manage.set_webhook_enabled(world.storage, eid, False)
    manage.revoke_key(world.storage, world.clock, world.key_id)
    recorder = Recorder(200)
    assert Sender(world.storage, world.clock, send=recorder).run_due() == 1
    assert recorder.calls == []
    state = world.storage.get_delivery(delivery_id)
    assert (state.status, state.last_error) == (
        "failed",
        "the endpoint was removed or disabled",
    )
    with pytest.raises(manage.Refused):
        manage.send_test_webhook(world.storage, world.clock, eid)


def test_sender_thread_stops_at_once_when_asked(world):
    sender = Sender(world.storage, world.clock, send=Recorder(200), poll=3600)
    sender.start()
    sender.stop()
    sender.join(timeout=5)
    assert not sender._thread.is_alive()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.hits.append(
            (self.path, dict(self.headers), self.rfile.read(length))
        )
        answer = self.server.answer
        self.send_response(answer)
        if 300 <= answer < 400:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receivers():
    """Receivers on 127.0.0.1, started and stopped by the test."""
    started = []

    def start(answer: int, location: str = ""):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.hits, server.answer, server.location = [], answer, location
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def test_real_delivery_to_a_local_receiver_verifies(world, receivers):
    server, base = receivers(200)
    created = endpoint(world, base + "/hooks/afinitwin?src=appliance")
    delivery_id = manage.send_test_webhook(
        world.storage, world.clock, created.endpoint.endpoint_id
    )
    Sender(world.storage, world.clock, send=http_send, timeout=5).run_due()
    [(path, heads, body)] = server.hits
    assert path == "/hooks/afinitwin?src=appliance"
    assert verify_webhook_signature(
        body, heads["X-AfiniTwin-Signature"], created.secret
    )
    assert standard_webhooks_verify(created.secret, heads, body)
    assert heads["Content-Type"] == "application/json; charset=utf-8"
    assert world.storage.get_delivery(delivery_id).status == "delivered"


def test_a_redirect_is_never_followed(world, receivers):
    target, target_base = receivers(200)
    redirector, base = receivers(302, target_base + "/stolen")
    created = endpoint(world, base + "/hook")
    delivery_id = manage.send_test_webhook(
        world.storage, world.clock, created.endpoint.endpoint_id
    )
    Sender(world.storage, world.clock, send=http_send, timeout=5).run_due()
    assert len(redirector.hits) == 1
    assert target.hits == []
    state = world.storage.get_delivery(delivery_id)
    assert (state.status, state.last_status_code, state.last_error) == (
        "pending",
        302,
        "redirect (302) not followed",
    )


def test_the_secret_is_never_logged_nor_listed(world, caplog):
    caplog.set_level(logging.DEBUG)
    created = endpoint(world)
    eid = created.endpoint.endpoint_id
    manage.send_test_webhook(world.storage, world.clock, eid)
    manage.revoke_key(world.storage, world.clock, world.key_id)
    Sender(world.storage, world.clock, send=Recorder(OSError("boom"), 200)).run_due()
    world.clock.advance(30)
    Sender(world.storage, world.clock, send=Recorder(200)).run_due()
    assert caplog.records, "the sender logs each attempt"
    for record in caplog.records:
        assert created.secret not in record.getMessage()
        assert created.secret[6:] not in record.getMessage()
    listed = repr(world.storage.list_webhook_endpoints()) + repr(
        world.storage.list_deliveries()
    )
    assert created.secret not in listed and created.secret[6:] not in listed


# -- the command line ------------------------------------------------------------------


def test_cli_add_quiet_prints_the_id_then_the_secret(appliance_dir):
    cfg, owner = appliance_dir
    out = cli(
        "webhook",
        "add",
        "--owner",
        owner,
        "--url",
        "http://127.0.0.1:9/h",
        "--event",
        "twin.test",
        "--event",
        "twin.api_key.revoked",
        "--quiet",
        config_path=cfg,
    ).stdout
    endpoint_id, secret = out.splitlines()
    assert out == f"{endpoint_id}\n{secret}\n"
    assert webhooks.ENDPOINT_ID_RE.fullmatch(endpoint_id)
    assert SECRET_RE.fullmatch(secret)
    listed = json.loads(cli("webhook", "list", "--json", config_path=cfg).stdout)
    assert listed == [
        {
            "endpointId": endpoint_id,
            "ownerId": owner,
            "url": "http://127.0.0.1:9/h",
            "events": ["twin.api_key.revoked", "twin.test"],
            "enabled": True,
            "createdAt": listed[0]["createdAt"],
        }
    ]
    plain = cli("webhook", "list", "--owner", owner, config_path=cfg).stdout
    for text in (plain, json.dumps(listed)):
        assert secret not in text and secret[6:] not in text


def test_cli_test_queues_a_delivery_listed_with_its_attempts(appliance_dir):
    cfg, owner = appliance_dir
    endpoint_id = cli(
        "webhook",
        "add",
        "--owner",
        owner,
        "--url",
        "http://127.0.0.1:9/h",
        "--quiet",
        config_path=cfg,
    ).stdout.split()[0]
    out = cli("webhook", "test", endpoint_id, config_path=cfg).stdout
    delivery_id = re.fullmatch(
        r"twin\.test delivery (whd_[0-9a-f]{24}) queued; the running appliance sends"
        r" it\n",
        out,
    ).group(1)
    listed = json.loads(
        cli(
            "webhook",
            "deliveries",
            "--endpoint",
            endpoint_id,
            "--json",
            config_path=cfg,
        ).stdout
    )
    assert [
        (d["deliveryId"], d["event"], d["status"], d["attempts"], d["history"])
        for d in listed
    ] == [(delivery_id, "twin.test", "pending", 0, [])]
    audit_rows = cli("webhook", "deliveries", config_path=cfg).stdout
    assert delivery_id in audit_rows
    assert cli("webhook", "disable", endpoint_id, config_path=cfg).stdout == (
        f"webhook endpoint {endpoint_id} disabled\n"
    )
    refused = cli("webhook", "test", endpoint_id, config_path=cfg, check=False)
    assert (refused.returncode, refused.stderr) == (
        1,
        f"error: webhook endpoint {endpoint_id} is disabled; enable it first\n",
    )
    assert cli("webhook", "remove", endpoint_id, config_path=cfg).stdout == (
        f"webhook endpoint {endpoint_id} removed with its deliveries\n"
    )
    gone = cli("webhook", "remove", endpoint_id, config_path=cfg, check=False)
    assert (gone.returncode, gone.stderr) == (
        1,
        f"error: no webhook endpoint has the id {endpoint_id!r}\n",
    )


def test_cli_refuses_bad_urls_and_events(appliance_dir):
    cfg, owner = appliance_dir
    bad = cli(
        "webhook",
        "add",
        "--owner",
        owner,
        "--url",
        "ftp://x/",
        config_path=cfg,
        check=False,
    )
    assert bad.stderr == "error: a webhook URL must start with http:// or https://\n"
    bad = cli(
        "webhook",
        "add",
        "--owner",
        owner,
        "--url",
        "http://x/",
        "--event",
        "twin.nope",
        config_path=cfg,
        check=False,
    )
    assert bad.stderr.startswith("error: unknown webhook event 'twin.nope'; known: ")


# -- the admin endpoints ---------------------------------------------------------------


@pytest.fixture
def admin(storage, settings, clock):
    from afinitwin_appliance import admins
    from conftest import make_world
    from test_admin import PASSWORD, Client, CountingHasher

    world = make_world(storage, settings, clock)
    world.api.admin.passwords = admins.Passwords(CountingHasher())
    admins.add(storage, clock, world.api.admin.passwords, "root", PASSWORD)
    world.browser = Client(world.app)
    assert world.browser.sign_in().status_int == 200
    return world


def test_admin_adds_lists_tests_and_removes_an_endpoint(admin, caplog):
    caplog.set_level(logging.DEBUG)
    b, owner = admin.browser, admin.owner_id
    resp = b.post(
        f"/api/owners/{owner}/webhooks",
        {"url": "http://127.0.0.1:9/crm", "events": ["twin.test"]},
    )
    assert resp.status_int == 201
    secret, view = resp.json["secret"], resp.json["endpoint"]
    eid = view["endpointId"]
    assert SECRET_RE.fullmatch(secret)
    assert view == {
        "endpointId": eid,
        "ownerId": owner,
        "url": "http://127.0.0.1:9/crm",
        "events": ["twin.test"],
        "enabled": True,
        "createdAt": "2026-12-04T13:57:22Z",
    }
    listed = b.get(f"/api/owners/{owner}/webhooks").json
    assert listed == {"endpoints": [view], "events": list(webhooks.EVENTS)}

    resp = b.post(f"/api/webhooks/{eid}/test")
    assert resp.status_int == 202
    delivery_id = resp.json["deliveryId"]
    Sender(admin.storage, admin.clock, send=Recorder(503)).run_due()
    shown = b.get(f"/api/owners/{owner}/deliveries?endpoint={eid}").json["deliveries"]
    assert shown == [
        {
            "deliveryId": delivery_id,
            "endpointId": eid,
            "event": "twin.test",
            "status": "pending",
            "attempts": 1,
            "createdAt": "2026-12-04T13:57:22Z",
            "nextAttemptAt": "2026-12-04T13:57:52Z",
            "lastStatusCode": 503,
            "lastError": "answered 503",
            "history": [
                {
                    "at": "2026-12-04T13:57:22Z",
                    "statusCode": 503,
                    "error": "answered 503",
                    "durationMs": shown[0]["history"][0]["durationMs"],
                }
            ],
        }
    ]

    assert (
        b.patch(f"/api/webhooks/{eid}", {"enabled": False}).json["endpoint"]["enabled"]
        is False
    )
    assert b.call("DELETE", f"/api/webhooks/{eid}").json == {"removed": eid}
    assert b.get(f"/api/owners/{owner}/webhooks").json["endpoints"] == []

    actions = [
        (e["action"], e["target"])
        for e in b.get("/api/audit").json["entries"]
        if e["action"].startswith("webhook")
    ]
    assert actions == [
        ("webhook.remove", eid),
        ("webhook.disable", eid),
        ("webhook.test", eid),
        ("webhook.add", eid),
    ]
    everything = json.dumps([r.json for r in b.responses[3:]])  # after the add
    assert secret not in everything
    for record in caplog.records:
        assert secret[6:] not in record.getMessage()


def test_admin_webhook_changes_need_the_csrf_token(admin):
    from test_admin import code_of

    resp = admin.browser.post(
        f"/api/owners/{admin.owner_id}/webhooks",
        {"url": "http://127.0.0.1:9/"},
        csrf=False,
    )
    assert resp.status_int == 403 and code_of(resp) == "CSRF_TOKEN_INVALID"
    resp = admin.browser.post(
        f"/api/owners/{admin.owner_id}/webhooks",
        {"url": "http://127.0.0.1:9/"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert resp.status_int == 403 and code_of(resp) == "CROSS_SITE_REQUEST"
    assert admin.storage.list_webhook_endpoints() == []


def test_admin_refuses_a_bad_url_and_unknown_endpoint(admin):
    from test_admin import code_of

    b = admin.browser
    resp = b.post(f"/api/owners/{admin.owner_id}/webhooks", {"url": "http://u:p@h/"})
    assert resp.status_int == 409 and code_of(resp) == "REFUSED"
    assert resp.json["error"]["message"] == (
        "A webhook URL must not carry a user name or password."
    )
    resp = b.post("/api/webhooks/whe_0000000000000000/test")
    assert resp.status_int == 404 and code_of(resp) == "NOT_FOUND"
    resp = b.call("DELETE", "/api/webhooks/nope")
    assert resp.status_int == 404 and code_of(resp) == "NOT_FOUND"


@pytest.mark.slow
def test_serve_delivers_from_the_outbox_and_stops_cleanly_on_sigterm(
    appliance_dir, receivers
):
    import time

    from conftest import RunningServer, free_port

    cfg, owner = appliance_dir
    server, base = receivers(204)
    endpoint_id, secret = cli(
        "webhook",
        "add",
        "--owner",
        owner,
        "--url",
        base + "/in",
        "--quiet",
        config_path=cfg,
    ).stdout.split()
    # Queued while the appliance is down: the outbox keeps it until serve.
    cli("webhook", "test", endpoint_id, config_path=cfg)
    running = RunningServer(cfg, free_port())
    try:
        deadline = time.monotonic() + 20
        while not server.hits and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for an event, not testing a time window
    finally:
        code = running.stop()
    assert code == 0
    [(path, heads, body)] = server.hits
    assert path == "/in"
    assert verify_webhook_signature(body, heads["X-AfiniTwin-Signature"], secret)
    listed = json.loads(cli("webhook", "deliveries", "--json", config_path=cfg).stdout)
    assert [(d["status"], d["lastStatusCode"]) for d in listed] == [("delivered", 204)]
    assert secret not in running.proc.stderr.read()


def test_every_webhook_subcommand_has_help():
    for action in ("add", "list", "remove", "test", "enable", "disable", "deliveries"):
        result = cli("webhook", action, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, action


@pytest.mark.browser
@pytest.mark.slow
def test_admin_page_adds_tests_and_removes_an_endpoint(tmp_path, receivers):
    import time

    from test_admin_browser import WIDE, Watched, _appliance, _browser_missing, sign_in

    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    from test_admin_browser import CHROMIUM, CHROMIUM_ARGS

    receiver, base = receivers(200)
    appliance = _appliance(tmp_path)
    owner = cli(
        "owner", "add", "--name", "Lucía", "--quiet", config_path=appliance.config_path
    ).stdout.strip()
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            w = Watched(chromium, appliance.base, WIDE)
            page = w.page
            page.goto(appliance.base + "/admin/")
            sign_in(page)
            page.goto(f"{appliance.base}/admin/#owner/{owner}/webhooks")
            page.get_by_text("No webhook endpoints yet").wait_for()
            page.get_by_role("button", name="Add endpoint").click()
            page.locator("#view form").get_by_label("URL").fill(base + "/crm")
            page.locator("#view form").get_by_role(
                "button", name="Add endpoint"
            ).click()
            secret = page.locator("#new-webhook-secret").input_value()
            assert SECRET_RE.fullmatch(secret)
            w.shot("webhook-created")
            page.get_by_role("button", name="I have stored it").click()
            assert page.locator("#new-webhook-secret").count() == 0
            page.get_by_role("button", name="Send test").click()
            page.get_by_text("Test delivery").wait_for()
            deadline = time.monotonic() + 20
            while not receiver.hits and time.monotonic() < deadline:
                time.sleep(0.05)  # waiting for the sender, not testing a window
            page.get_by_role("button", name="Refresh").click()
            page.locator("#view .badge", has_text="delivered").wait_for()
            w.shot("webhooks")
            assert secret not in page.content()
            page.get_by_role("button", name="Remove").click()
            page.locator("#dialog").get_by_role(
                "button", name="Remove endpoint"
            ).click()
            page.get_by_text("No webhook endpoints yet").wait_for()
            assert w.errors == [] and w.foreign == []
            w.close()
            chromium.close()
    finally:
        appliance.stop()
    [(path, heads, body)] = receiver.hits
    assert verify_webhook_signature(body, heads["X-AfiniTwin-Signature"], secret)
