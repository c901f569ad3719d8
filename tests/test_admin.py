"""The admin surface over WebTest: sessions, cross-site refusals, throttling,
timeouts, the management endpoints, the audit log and what never leaks."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import webtest
from argon2 import PasswordHasher

from afinitwin_appliance import admins, config, sessions
from afinitwin_appliance.api import Api
from conftest import BASE, ROOT, SNAPSHOTS, make_world, settings_with

ADMIN = "/admin"
PASSWORD = "correct horse battery staple"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; frame-ancestors 'none';"
    " form-action 'self'; base-uri 'none'"
)
KEY_RE = re.compile(r"atk_live_[0-9a-f]{8}_[0-9a-f]{32}")


class CountingHasher(PasswordHasher):
    """argon2 at its cheapest, counting how often a password is checked."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str, password: str) -> bool:  # noqa: A002
        self.verified += 1
        return super().verify(hash, password)


class Client:
    """One browser: its own cookie and CSRF token, over the shared TestApp."""

    def __init__(
        self,
        app: webtest.TestApp,
        secure: bool = False,
        remote: str = "127.0.0.1",
        environ: dict | None = None,
    ) -> None:
        self.app = app
        self.secure = secure
        self.environ = {"REMOTE_ADDR": remote, **(environ or {})}
        if secure:
            self.environ["wsgi.url_scheme"] = "https"
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.responses: list[webtest.TestResponse] = []

    @property
    def cookie_name(self) -> str:
        return sessions.cookie_name(self.secure)

    def call(
        self,
        method: str,
        path: str,
        body=None,
        *,
        raw: bytes | None = None,
        headers: dict | None = None,
        csrf: bool = True,
        cookie="current",
    ):
        self.app.reset()  # the cookie is ours to send, not WebTest's jar
        sent = {}
        cookie = self.cookie if cookie == "current" else cookie
        if cookie:
            sent["Cookie"] = f"{self.cookie_name}={cookie}"
        if csrf and method != "GET" and self.csrf:
            sent["X-CSRF-Token"] = self.csrf
        sent.update(headers or {})
        kw = {"headers": sent, "extra_environ": self.environ, "expect_errors": True}
        if method == "GET":
            resp = self.app.get(ADMIN + path, **kw)
        else:
            if body is not None:
                raw, kw["content_type"] = json.dumps(body).encode(), "application/json"
            resp = getattr(self.app, method.lower())(
                ADMIN + path, params=raw or b"", **kw
            )
        for value in resp.headers.getall("Set-Cookie"):
            self.cookie = value.split(";")[0].split("=", 1)[1] or None
        if resp.content_type == "application/json" and "csrfToken" in resp.json:
            self.csrf = resp.json["csrfToken"]
        self.responses.append(resp)
        return resp

    def get(self, path: str, **kw):
        return self.call("GET", path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def sign_in(self, name: str = "root", password: str = PASSWORD):
        self.get("/api/session")
        return self.post("/api/session", {"name": name, "password": password})


def code_of(resp) -> str:
    assert resp.content_type == "application/json"
    body = resp.json["error"]
    assert set(body) <= {"code", "message", "requestId", "details"}
    assert body["requestId"] == resp.headers["X-Request-Id"]
    assert resp.headers["Cache-Control"] == "no-store"
    return body["code"]


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def env(storage, settings, clock, hasher):
    """The Lucía world (owner, snapshot, key) plus an admin named root."""
    world = make_world(storage, settings, clock)
    world.api.admin.passwords = admins.Passwords(hasher)
    admins.add(storage, clock, world.api.admin.passwords, "root", PASSWORD)
    world.browser = Client(world.app)
    return world


@pytest.fixture
def signed_in(env):
    resp = env.browser.sign_in()
    assert resp.status_int == 200
    return env


def fresh_api(storage, settings, clock):
    api = Api(storage, settings, clock)
    api.admin.passwords = admins.Passwords(CountingHasher())
    return api, webtest.TestApp(api)


# -- the page, its assets and its headers ----------------------------------------------


def test_admin_without_slash_redirects_to_the_page(env):
    resp = env.app.get(ADMIN)
    assert resp.status_int == 308
    assert resp.headers["Location"].endswith("/admin/")


def test_page_without_any_admin_names_the_command_that_creates_one(
    storage, settings, clock
):
    api, app = fresh_api(storage, settings, clock)
    page = app.get(ADMIN + "/")
    assert '<section id="setup" class="setup">' in page.text
    assert "afinitwin-appliance admin add NAME" in page.text
    state = Client(app).get("/api/session").json
    assert state["setupRequired"] is True
    assert state["setupCommand"] == "afinitwin-appliance admin add NAME"
    assert state["signedIn"] is False


def test_setup_command_names_the_configuration_file_in_use(storage, tmp_path, clock):
    cfg = tmp_path / "my appliance.toml"
    cfg.write_text(f'[storage]\ndatabase = "{tmp_path / "t.db"}"\n')
    api, app = fresh_api(storage, config.load(cfg, {}), clock)
    expected = f"afinitwin-appliance --config '{cfg}' admin add NAME"
    assert Client(app).get("/api/session").json["setupCommand"] == expected
    assert "afinitwin-appliance --config &#x27;" in app.get(ADMIN + "/").text


def test_sign_in_without_any_admin_says_which_command_creates_one(
    storage, settings, clock
):
    api, app = fresh_api(storage, settings, clock)
    resp = Client(app).sign_in()
    assert resp.status_int == 409
    assert code_of(resp) == "NO_ADMIN_ACCOUNT"
    assert resp.json["error"]["message"] == (
        "No admin account exists yet; create one with:"
        " afinitwin-appliance admin add NAME"
    )


def test_page_with_an_admin_keeps_the_setup_notice_hidden(env):
    page = env.app.get(ADMIN + "/")
    assert '<section id="setup" class="setup" hidden>' in page.text


def test_page_and_assets_carry_the_strict_security_headers(env):
    for path, content_type in (
        ("/", "text/html; charset=utf-8"),
        ("/admin.js", "text/javascript; charset=utf-8"),
        ("/admin.css", "text/css; charset=utf-8"),
        ("/icon.svg", "image/svg+xml"),
    ):
        resp = env.app.get(ADMIN + path)
        assert resp.headers["Content-Type"] == content_type
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Frame-Options"] == "DENY"


def test_api_answers_are_never_cached(signed_in):
    for path in ("/api/session", "/api/owners", "/api/audit", "/api/review"):
        resp = signed_in.browser.get(path)
        assert resp.status_int == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Content-Security-Policy"] == CSP


def test_page_has_no_inline_script_style_or_handlers():
    page = (ROOT / "static" / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert "<style" not in page
    assert re.findall(r"\sstyle=", page) == []
    assert re.findall(r"\son[a-z]+=", page) == []
    script = (ROOT / "static" / "admin.js").read_text()
    assert "innerHTML" not in script and "eval(" not in script
    assert "http://" not in script and "https://" not in script


def test_unknown_asset_and_python_files_are_not_served(env):
    for path in ("/nope.js", "/__init__.py", "/../api.py", "/index.html.bak"):
        resp = env.app.get(ADMIN + path, expect_errors=True)
        assert resp.status_int == 404
        assert code_of(resp) == "NOT_FOUND"


def test_assets_come_from_the_package_not_the_working_directory(
    env, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    resp = env.app.get(ADMIN + "/admin.js")
    assert resp.body == (ROOT / "static" / "admin.js").read_bytes()


def test_wrong_method_is_refused_with_allow(signed_in):
    resp = signed_in.browser.call("PUT", "/api/session", {})
    assert resp.status_int == 405
    assert code_of(resp) == "METHOD_NOT_ALLOWED"
    assert resp.headers["Allow"] == "DELETE, GET, HEAD, POST"


def test_a_crash_in_an_admin_handler_is_logged_once_and_enveloped(
    signed_in, monkeypatch, caplog
):
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(signed_in.storage, "list_owners", broken)
    resp = signed_in.browser.get("/api/owners")
    assert resp.status_int == 500
    assert resp.json["error"]["code"] == "INTERNAL_ERROR"
    request_id = resp.headers["X-Request-Id"]
    crashes = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in crashes] == [
        f"unhandled error in request {request_id}"
    ]


# -- sign-in, cookies, fixation, sign-out ----------------------------------------------


def test_endpoints_need_a_signed_in_session(env):
    resp = env.browser.get("/api/owners")
    assert resp.status_int == 401
    assert code_of(resp) == "NOT_SIGNED_IN"


def test_sign_in_sets_an_http_only_strict_cookie_scoped_to_admin(env):
    resp = env.browser.sign_in()
    assert resp.status_int == 200
    assert resp.json["signedIn"] is True and resp.json["admin"] == "root"
    assert resp.json["expiresAt"] == "2026-12-04T14:27:22Z"
    (cookie,) = resp.headers.getall("Set-Cookie")
    assert re.fullmatch(
        r"afinitwin-admin=[A-Za-z0-9_-]{43}; Path=/admin; HttpOnly; SameSite=Strict",
        cookie,
    )


def test_sign_in_over_tls_uses_a_host_prefixed_secure_cookie(env):
    browser = Client(env.app, secure=True)
    resp = browser.sign_in()
    assert resp.status_int == 200
    (cookie,) = resp.headers.getall("Set-Cookie")
    assert re.fullmatch(
        r"__Host-afinitwin-admin=[A-Za-z0-9_-]{43}; Path=/; HttpOnly;"
        r" SameSite=Strict; Secure",
        cookie,
    )
    assert browser.get("/api/owners").status_int == 200


def test_forwarded_proto_counts_only_from_a_trusted_proxy(storage, tmp_path, clock):
    trusting = settings_with(tmp_path, AFINITWIN_SERVER_TRUSTED_PROXIES="10.0.0.1")
    api, app = fresh_api(storage, trusting, clock)
    proto = {"HTTP_X_FORWARDED_PROTO": "https"}
    proxied = Client(app, remote="10.0.0.1", environ=proto).get("/api/session")
    direct = Client(app, remote="10.0.0.2", environ=proto).get("/api/session")
    assert proxied.headers["Set-Cookie"].startswith("__Host-afinitwin-admin=")
    assert direct.headers["Set-Cookie"].startswith("afinitwin-admin=")


def test_pre_sign_in_id_is_dead_after_sign_in(env):
    browser = env.browser
    browser.get("/api/session")
    before = browser.cookie
    resp = browser.post("/api/session", {"name": "root", "password": PASSWORD})
    assert resp.status_int == 200
    assert browser.cookie != before
    replay = browser.get("/api/owners", cookie=before)
    assert replay.status_int == 401
    assert code_of(replay) == "NOT_SIGNED_IN"
    assert browser.get("/api/owners").status_int == 200


def test_a_planted_session_id_never_becomes_signed_in(env):
    planted = sessions.new_id()
    browser = env.browser
    browser.cookie = planted
    browser.csrf = sessions.csrf_token(planted)
    assert (
        browser.post("/api/session", {"name": "root", "password": PASSWORD}).status_int
        == 200
    )
    assert browser.cookie != planted
    assert browser.get("/api/owners", cookie=planted).status_int == 401


def test_session_id_is_stored_only_as_its_sha256(signed_in, storage):
    session_id = signed_in.browser.cookie
    rows = storage._read("SELECT session_hash, admin FROM admin_sessions")
    assert [tuple(r) for r in rows] == [
        (hashlib.sha256(session_id.encode()).hexdigest(), "root")
    ]
    storage.close()
    assert session_id.encode() not in Path(storage.path).read_bytes()


def test_sign_out_kills_the_session_on_the_server(signed_in, storage):
    browser = signed_in.browser
    old = browser.cookie
    resp = browser.call("DELETE", "/api/session")
    assert resp.status_int == 200
    assert resp.json == {"signedIn": False}
    assert resp.headers["Set-Cookie"] == (
        "afinitwin-admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0"
    )
    assert storage._read("SELECT COUNT(*) FROM admin_sessions")[0][0] == 0
    assert browser.get("/api/owners", cookie=old).status_int == 401


def test_wrong_password_and_unknown_name_get_the_same_answer(env):
    wrong = Client(env.app).sign_in("root", "not the password at all")
    unknown = Client(env.app).sign_in("nobody", PASSWORD)
    for resp in (wrong, unknown):
        assert resp.status_int == 401
        assert code_of(resp) == "INVALID_CREDENTIALS"
        assert resp.json["error"]["message"] == "The name or the password is wrong."
        assert "Set-Cookie" not in resp.headers


def test_unknown_name_costs_the_same_argon2_work(env, hasher):
    Client(env.app).sign_in("nobody", PASSWORD)
    assert hasher.verified == 1


# -- timeouts, with the injected clock -------------------------------------------------


def test_idle_session_ends_after_30_minutes(signed_in, clock):
    browser = signed_in.browser
    clock.advance(29 * 60 + 59)
    assert browser.get("/api/owners").status_int == 200
    clock.advance(29 * 60 + 59)
    assert browser.get("/api/owners").status_int == 200
    clock.advance(30 * 60)
    resp = browser.get("/api/owners")
    assert resp.status_int == 401
    assert code_of(resp) == "NOT_SIGNED_IN"


def test_active_session_ends_after_12_hours_in_all(signed_in, clock):
    browser = signed_in.browser
    for _ in range(12 * 3 - 1):
        clock.advance(20 * 60)
        assert browser.get("/api/owners").status_int == 200
    clock.advance(20 * 60)  # 12 hours after sign-in
    assert browser.get("/api/owners").status_int == 401


def test_session_state_reports_when_the_session_ends_if_idle(signed_in, clock):
    clock.advance(600)
    state = signed_in.browser.get("/api/session").json
    assert state["expiresAt"] == "2026-12-04T14:37:22Z"


# -- cross-site protection -------------------------------------------------------------


def test_state_change_without_csrf_token_is_refused(signed_in):
    resp = signed_in.browser.post("/api/owners", {"name": "Eve"}, csrf=False)
    assert resp.status_int == 403
    assert code_of(resp) == "CSRF_TOKEN_INVALID"


def test_state_change_with_another_sessions_token_is_refused(signed_in):
    other = Client(signed_in.app)
    other.sign_in()
    resp = signed_in.browser.post(
        "/api/owners", {"name": "Eve"}, headers={"X-CSRF-Token": other.csrf}
    )
    assert resp.status_int == 403
    assert code_of(resp) == "CSRF_TOKEN_INVALID"


def test_sign_in_needs_the_pre_session_csrf_token(env):
    browser = env.browser
    browser.get("/api/session")
    resp = browser.post(
        "/api/session", {"name": "root", "password": PASSWORD}, csrf=False
    )
    assert resp.status_int == 403
    assert code_of(resp) == "CSRF_TOKEN_INVALID"


@pytest.mark.parametrize("site", ["cross-site", "same-site", "none"])
def test_request_from_another_site_is_refused_even_with_the_token(signed_in, site):
    resp = signed_in.browser.post(
        "/api/owners", {"name": "Eve"}, headers={"Sec-Fetch-Site": site}
    )
    assert resp.status_int == 403
    assert code_of(resp) == "CROSS_SITE_REQUEST"


def test_foreign_origin_is_refused(signed_in):
    resp = signed_in.browser.post(
        "/api/owners", {"name": "Eve"}, headers={"Origin": "http://evil.example"}
    )
    assert resp.status_int == 403
    assert code_of(resp) == "CROSS_SITE_REQUEST"


def test_same_origin_request_is_accepted(signed_in):
    resp = signed_in.browser.post(
        "/api/owners",
        {"name": "Ana"},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    )
    assert resp.status_int == 201


def test_cross_site_sign_in_is_refused(env):
    env.browser.get("/api/session")
    resp = env.browser.post(
        "/api/session",
        {"name": "root", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert resp.status_int == 403
    assert code_of(resp) == "CROSS_SITE_REQUEST"


# -- throttling and argon2 -------------------------------------------------------------


def test_failed_sign_ins_are_throttled_per_account_before_argon2(env, clock, hasher):
    for _ in range(5):
        assert Client(env.app).sign_in("root", "wrong password!").status_int == 401
    assert hasher.verified == 5
    clock.advance(60)
    resp = Client(env.app).sign_in("root", PASSWORD)
    assert resp.status_int == 429
    assert code_of(resp) == "RATE_LIMITED"
    assert resp.headers["Retry-After"] == "840"
    assert hasher.verified == 5  # refused before any argon2 work
    clock.advance(840)
    assert Client(env.app).sign_in("root", PASSWORD).status_int == 200


def test_failed_sign_ins_are_throttled_per_address(env, hasher):
    for n in range(20):
        assert Client(env.app).sign_in(f"guess{n}", "wrong password!").status_int == 401
    resp = Client(env.app).sign_in("root", PASSWORD)
    assert resp.status_int == 429
    assert resp.headers["Retry-After"] == "900"
    assert hasher.verified == 20
    assert Client(env.app, remote="192.0.2.7").sign_in().status_int == 200


def test_successful_sign_ins_are_not_throttled(env):
    for _ in range(8):
        assert Client(env.app).sign_in().status_int == 200


def test_sign_in_gives_up_with_503_when_argon2_stays_busy(env, hasher):
    env.api.admin.passwords = admins.Passwords(hasher, wait_seconds=0.05)
    assert env.api.admin.passwords._slots.acquire()
    try:
        resp = Client(env.app).sign_in()
        health = env.get("/health")
    finally:
        env.api.admin.passwords._slots.release()
    assert resp.status_int == 503
    assert code_of(resp) == "SERVICE_UNAVAILABLE"
    assert resp.headers["Retry-After"] == "2"
    assert health.status_int == 200


def test_password_is_stored_as_argon2id_with_its_parameters(storage, clock):
    admin = admins.add(storage, clock, admins.Passwords(), "ops", PASSWORD)
    assert admin.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert storage.get_admin("ops").password_hash == admin.password_hash


def test_sign_in_rehashes_a_password_made_with_weaker_parameters(env, storage):
    weak = storage.get_admin("root").password_hash
    assert weak.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    env.api.admin.passwords = admins.Passwords()
    assert Client(env.app).sign_in().status_int == 200
    strong = storage.get_admin("root").password_hash
    assert strong.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert Client(env.app).sign_in().status_int == 200


@pytest.mark.parametrize("password", ["", "eleven char", " leading space ok?"])
def test_weak_or_padded_passwords_are_refused(storage, clock, password):
    with pytest.raises(admins.Refused):
        admins.add(storage, clock, admins.Passwords(CountingHasher()), "ops", password)
    assert storage.get_admin("ops") is None


def test_twelve_characters_are_enough(storage, clock):
    admins.add(
        storage, clock, admins.Passwords(CountingHasher()), "ops", "twelve chars"
    )
    assert storage.get_admin("ops") is not None


def test_password_change_signs_the_admin_out_everywhere(signed_in, storage, clock):
    admins.change_password(
        storage, clock, signed_in.api.admin.passwords, "root", "a brand new passphrase"
    )
    assert signed_in.browser.get("/api/owners").status_int == 401
    assert Client(signed_in.app).sign_in("root", PASSWORD).status_int == 401
    assert (
        Client(signed_in.app).sign_in("root", "a brand new passphrase").status_int
        == 200
    )


# -- owners, snapshots, keys, review ---------------------------------------------------


def test_admin_adds_an_owner_and_changes_its_plan(signed_in, clock):
    browser = signed_in.browser
    clock.advance(1)
    resp = browser.post("/api/owners", {"name": "Tom", "plan": "personal"})
    assert resp.status_int == 201
    owner = resp.json["owner"]
    assert owner == {
        "id": owner["id"],
        "name": "Tom",
        "plan": "personal",
        "status": "active",
        "source": "manual",
        "activeUntil": None,
        "createdAt": "2026-12-04T13:57:23Z",
        "planActive": True,
        "keysAllowed": False,
        "snapshots": 0,
        "liveKeys": 0,
        "pendingReview": 0,
    }
    resp = browser.patch(
        f"/api/owners/{owner['id']}",
        {"plan": "professional", "activeUntil": "2027-06-01"},
    )
    assert resp.status_int == 200
    assert resp.json["owner"]["plan"] == "professional"
    assert resp.json["owner"]["activeUntil"] == "2027-06-01T00:00:00Z"
    assert resp.json["owner"]["keysAllowed"] is True
    names = [o["name"] for o in browser.get("/api/owners").json["owners"]]
    assert names == ["Lucía", "Tom"]


def test_owner_with_a_bad_plan_is_refused_with_the_rule(signed_in):
    resp = signed_in.browser.post("/api/owners", {"name": "Tom", "plan": "gold"})
    assert resp.status_int == 409
    assert code_of(resp) == "REFUSED"
    assert resp.json["error"]["message"] == (
        "Plan must be one of free, personal, professional, not 'gold'."
    )


def test_unknown_owner_is_404(signed_in):
    resp = signed_in.browser.get("/api/owners/usr_nobody/keys")
    assert resp.status_int == 404
    assert code_of(resp) == "NOT_FOUND"


def test_invalid_snapshot_is_refused_with_every_problem_and_its_path(signed_in):
    owner = signed_in.browser.post("/api/owners", {"name": "Tom"}).json["owner"]["id"]
    resp = signed_in.browser.post(
        f"/api/owners/{owner}/snapshots",
        raw=(SNAPSHOTS / "invalid-several-errors.yaml").read_bytes(),
        headers={"X-File-Name": "invalid-several-errors.yaml"},
    )
    assert resp.status_int == 422
    assert code_of(resp) == "SNAPSHOT_INVALID"
    assert resp.json["error"]["message"] == (
        "The snapshot was refused: 10 problems found; nothing was imported."
    )
    assert resp.json["error"]["details"]["problems"] == [
        "schema: must be afinitwin.snapshot/v1",
        "snapshotDate: must be a real calendar date in the form YYYY-MM-DD",
        "source: must be one of purchase, plan_included, import",
        "primaryLanguage: must be one of es, en, fr, de, it, pt",
        "person.displayName: is required",
        "bigFive.domains.openness.percentile: must be 0–100",
        "bigFive.domains.neuroticism: is required",
        "layers.negativeSpace.taboos[0].severity: must be one of low, medium, high",
        "portrait: is required",
        "favouriteColour: unknown key",
    ]
    assert signed_in.browser.get(f"/api/owners/{owner}/snapshots").json == {
        "snapshots": []
    }


def test_snapshot_upload_imports_and_lists_it(signed_in):
    browser = signed_in.browser
    owner = browser.post("/api/owners", {"name": "Tom"}).json["owner"]["id"]
    data = (SNAPSHOTS / "tom-whitfield.json").read_bytes()
    resp = browser.post(
        f"/api/owners/{owner}/snapshots",
        raw=data,
        headers={"X-File-Name": "tom-whitfield.json"},
    )
    assert resp.status_int == 201
    assert resp.json["created"] is True
    again = browser.post(
        f"/api/owners/{owner}/snapshots",
        raw=data,
        headers={"X-File-Name": "tom-whitfield.json"},
    )
    assert again.status_int == 200
    assert again.json["created"] is False
    listed = browser.get(f"/api/owners/{owner}/snapshots").json["snapshots"]
    assert [s["id"] for s in listed] == [resp.json["snapshot"]["id"]]
    assert listed[0]["status"] == "ready"


def test_oversized_snapshot_upload_is_refused(signed_in):
    resp = signed_in.browser.post(
        f"/api/owners/{signed_in.owner_id}/snapshots", raw=b"x" * (2 * 1024 * 1024 + 1)
    )
    assert resp.status_int == 413
    assert code_of(resp) == "PAYLOAD_TOO_LARGE"


def test_key_lifecycle_create_use_change_quota_revoke(signed_in):
    browser, owner = signed_in.browser, signed_in.owner_id
    resp = browser.post(
        f"/api/owners/{owner}/keys",
        {
            "name": "Support bot",
            "scopes": ["twin:write"],
            "monthlyQuota": 500,
            "expiresAt": "2027-03-01",
            "allowedNetworks": "127.0.0.0/8\n10.0.0.0/8",
        },
    )
    assert resp.status_int == 201
    plaintext, key = resp.json["plaintext"], resp.json["key"]
    assert KEY_RE.fullmatch(plaintext)
    assert key == {
        "keyId": plaintext[9:17],
        "ownerId": owner,
        "name": "Support bot",
        "scopes": ["twin:read", "twin:write"],
        "state": "live",
        "monthlyQuota": 500,
        "usedThisMonth": 0,
        "createdAt": "2026-12-04T13:57:22Z",
        "lastUsedAt": None,
        "expiresAt": "2027-03-01T00:00:00Z",
        "revokedAt": None,
        "allowedNetworks": ["127.0.0.0/8", "10.0.0.0/8"],
    }
    assert signed_in.get("/me", key=plaintext).status_int == 200
    listed = {
        k["keyId"]: k for k in browser.get(f"/api/owners/{owner}/keys").json["keys"]
    }
    assert listed[key["keyId"]]["usedThisMonth"] == 1
    assert listed[key["keyId"]]["lastUsedAt"] == "2026-12-04T13:57:22Z"

    resp = browser.patch(f"/api/keys/{key['keyId']}", {"monthlyQuota": 2000})
    assert resp.json["key"]["monthlyQuota"] == 2000
    resp = browser.post(f"/api/keys/{key['keyId']}/revoke")
    assert resp.status_int == 200
    assert resp.json["key"]["state"] == "revoked"
    refused = signed_in.get("/health", key=plaintext)
    assert refused.status_int == 401
    assert refused.json["error"]["code"] == "API_KEY_REVOKED"
    again = browser.post(f"/api/keys/{key['keyId']}/revoke")
    assert again.status_int == 409
    assert again.json["error"]["message"] == f"Key {key['keyId']} is already revoked."


def test_key_for_an_owner_without_an_active_professional_plan_is_refused(signed_in):
    browser = signed_in.browser
    owner = browser.post("/api/owners", {"name": "Tom", "status": "lapsed"}).json[
        "owner"
    ]["id"]
    resp = browser.post(f"/api/owners/{owner}/keys", {"name": "x"})
    assert resp.status_int == 409
    assert code_of(resp) == "REFUSED"
    assert resp.json["error"]["message"].startswith(
        "Keys can be created only for an owner whose plan is professional and active"
    )


def test_key_quota_outside_its_range_is_refused(signed_in):
    resp = signed_in.browser.patch(f"/api/keys/{signed_in.key_id}", {"monthlyQuota": 0})
    assert resp.status_int == 409
    assert resp.json["error"]["message"] == (
        "A monthly quota must be between 1 and 1,000,000."
    )


def test_key_plaintext_never_appears_after_the_creating_response(
    signed_in, storage, caplog
):
    caplog.set_level(logging.DEBUG)
    browser, owner = signed_in.browser, signed_in.owner_id
    created = browser.post(
        f"/api/owners/{owner}/keys", {"name": "Secret holder", "scopes": ["twin:write"]}
    )
    plaintext = created.json["plaintext"]
    key_id = plaintext[9:17]
    signed_in.get("/health", key=plaintext)
    browser.patch(f"/api/keys/{key_id}", {"monthlyQuota": 42})
    browser.get(f"/api/owners/{owner}/keys")
    browser.get("/api/owners")
    browser.get("/api/audit")
    browser.get("/api/review?status=all")
    browser.get("/api/session")
    browser.post(f"/api/keys/{key_id}/revoke")
    signed_in.get("/health", key=plaintext)
    browser.call("DELETE", "/api/session")

    later = browser.responses[browser.responses.index(created) + 1 :]
    assert len(later) == 8
    for resp in later:
        assert plaintext not in resp.text
        assert plaintext not in str(resp.headers)
    assert plaintext not in caplog.text
    assert key_id in caplog.text  # the log does name the key, by its id
    storage.close()
    database = Path(storage.path).read_bytes()
    wal = Path(str(storage.path) + "-wal")
    assert plaintext.encode() not in database + (
        wal.read_bytes() if wal.exists() else b""
    )


def test_no_log_line_holds_a_password_or_a_session_id(env, caplog):
    caplog.set_level(logging.DEBUG)
    failing = Client(env.app)
    failing.sign_in("root", "my wrong password guess")
    failing.sign_in("correct horse battery staple", "x" * 12)  # password in name field
    browser = Client(env.app)
    browser.sign_in()
    browser.get("/api/owners")
    text = caplog.text
    assert "my wrong password guess" not in text
    assert PASSWORD not in text
    assert browser.cookie not in text and failing.cookie not in text
    assert browser.csrf not in text
    assert "admin sign-in failed from 127.0.0.1 for root" in text
    assert "admin sign-in failed from 127.0.0.1 for an unknown name" in text


def test_review_queue_lists_and_decides_items(signed_in):
    writer = signed_in.new_key(scopes=["twin:write"])
    sent = signed_in.app.post_json(
        BASE + "/life-facts",
        {
            "facts": [
                {
                    "category": "hobbies",
                    "value": "Took up sailing",
                    "consent": True,
                    "externalRef": "crm-1",
                }
            ]
        },
        headers={"X-Twin-Key": writer},
    )
    assert sent.status_int == 202
    assert sent.json["inboxUrl"] == "http://localhost:80/admin/#review"
    browser = signed_in.browser
    (item,) = browser.get(f"/api/review?owner={signed_in.owner_id}").json["items"]
    assert item == {
        "id": item["id"],
        "ownerId": signed_in.owner_id,
        "keyId": writer[9:17],
        "kind": "life_fact",
        "externalRef": "crm-1",
        "payload": {
            "category": "hobbies",
            "value": "Took up sailing",
            "consent": True,
            "externalRef": "crm-1",
            "valence": "positive",
        },
        "status": "pending",
        "createdAt": "2026-12-04T13:57:22Z",
    }
    resp = browser.patch(f"/api/review/{item['id']}", {"status": "accepted"})
    assert resp.json["item"]["status"] == "accepted"
    assert browser.get("/api/review").json["items"] == []
    accepted = browser.get("/api/review?status=accepted").json["items"]
    assert [i["id"] for i in accepted] == [item["id"]]
    bad = browser.patch(f"/api/review/{item['id']}", {"status": "deleted"})
    assert bad.status_int == 400
    assert code_of(bad) == "INVALID_BODY"


# -- the audit log ---------------------------------------------------------------------


def test_audit_log_records_who_what_when_and_where_newest_first(signed_in, clock):
    browser = signed_in.browser
    clock.advance(5)
    owner = browser.post("/api/owners", {"name": "Tom"}).json["owner"]["id"]
    clock.advance(5)
    browser.post(f"/api/keys/{signed_in.key_id}/revoke")
    entries = browser.get("/api/audit").json
    assert entries["next"] is None
    assert [
        (e["action"], e["target"], e["at"], e["admin"], e["address"])
        for e in entries["entries"]
    ] == [
        ("key.revoke", signed_in.key_id, "2026-12-04T13:57:32Z", "root", "127.0.0.1"),
        ("owner.add", owner, "2026-12-04T13:57:27Z", "root", "127.0.0.1"),
        ("session.sign_in", "root", "2026-12-04T13:57:22Z", "root", "127.0.0.1"),
    ]
    assert entries["entries"][0]["details"] == {
        "name": "CRM production",
        "owner": signed_in.owner_id,
    }


def test_audit_log_pages_back_with_before(signed_in):
    for n in range(105):
        signed_in.browser.patch(
            f"/api/keys/{signed_in.key_id}", {"monthlyQuota": n + 1}
        )
    first = signed_in.browser.get("/api/audit").json
    assert len(first["entries"]) == 100
    rest = signed_in.browser.get(f"/api/audit?before={first['next']}").json
    assert len(rest["entries"]) == 6
    assert rest["entries"][-1]["action"] == "session.sign_in"
    assert rest["next"] is None


def test_database_refuses_to_change_or_remove_audit_entries(signed_in, storage):
    conn = sqlite3.connect(storage.path)
    for statement in (
        "UPDATE audit_log SET admin = 'someone else'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()
    assert len(signed_in.browser.get("/api/audit").json["entries"]) == 1


def test_no_code_path_updates_or_deletes_audit_entries():
    package = ROOT / "afinitwin_appliance"
    code = "\n".join(p.read_text() for p in package.glob("*.py"))
    assert re.findall(r"(?i)(update\s+audit_log|delete\s+from\s+audit_log)", code) == []


def test_audit_refuses_a_key_plaintext_in_its_details(storage, clock):
    from afinitwin_appliance import audit

    with pytest.raises(ValueError):
        audit.record(
            storage,
            clock,
            "root",
            "key.create",
            "x",
            "127.0.0.1",
            {"oops": "atk_live_0123abcd_" + "0" * 32},
        )
    assert audit.newest(storage) == []


# -- the command line ------------------------------------------------------------------


def run_cli(cfg: Path, *args: str, stdin: str = ""):
    return subprocess.run(
        [sys.executable, "-m", "afinitwin_appliance", "--config", str(cfg), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AFINITWIN_LOG_LEVEL": "warning"},
    )


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "appliance.toml"
    cfg.write_text('[storage]\ndatabase = "afinitwin.db"\n')
    return cfg


def test_cli_admin_add_reads_the_password_from_stdin(cli_config):
    added = run_cli(
        cli_config, "admin", "add", "root", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert (
        added.stdout
        == "admin root added; sign in at /admin/ on the running appliance\n"
    )
    listed = json.loads(run_cli(cli_config, "admin", "list", "--json").stdout)
    assert [a["name"] for a in listed] == ["root"]
    assert PASSWORD not in added.stdout + added.stderr


def test_cli_refuses_a_short_password(cli_config):
    result = run_cli(
        cli_config, "admin", "add", "root", "--password-stdin", stdin="short pass\n"
    )
    assert result.returncode == 1
    assert result.stderr == "error: a password must be at least 12 characters long\n"


def test_cli_never_takes_the_password_as_an_argument(cli_config):
    result = run_cli(cli_config, "admin", "add", "root", "--password", PASSWORD)
    assert result.returncode == 2


def test_cli_without_a_terminal_asks_for_password_stdin(cli_config):
    result = run_cli(cli_config, "admin", "add", "root")
    assert result.returncode == 1
    assert result.stderr == (
        "error: no terminal to ask for the password; pipe it with --password-stdin\n"
    )


def test_cli_passwd_changes_the_password_and_is_audited(cli_config, tmp_path):
    run_cli(cli_config, "admin", "add", "root", "--password-stdin", stdin=PASSWORD)
    changed = run_cli(
        cli_config,
        "admin",
        "passwd",
        "root",
        "--password-stdin",
        stdin="a different passphrase\n",
    )
    assert changed.returncode == 0, changed.stderr
    from afinitwin_appliance.storage import Storage

    store = Storage(tmp_path / "afinitwin.db").open(create=False)
    assert [(e.action, e.target, e.address) for e in store.audit_entries(None, 10)] == [
        ("admin.passwd", "root", "command line"),
        ("admin.add", "root", "command line"),
    ]
    store.close()


def test_a_burst_of_sign_ins_ties_up_at_most_two_threads():
    import threading

    from afinitwin_appliance import admins

    release = threading.Event()
    entered = threading.Event()

    class SlowHasher(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002
            entered.set()
            release.wait(10)
            raise admins.VerificationError("no")

    passwords = admins.Passwords(SlowHasher(), concurrency=1)
    passwords._dummy = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
    results: list[str] = []

    def attempt():
        try:
            passwords.verify(None, "wrong password!")
            results.append("checked")
        except admins.Busy:
            results.append("busy")

    working = threading.Thread(target=attempt)
    working.start()
    entered.wait(10)
    waiting = threading.Thread(target=attempt)
    waiting.start()
    turned_away = [threading.Thread(target=attempt) for _ in range(5)]
    for t in turned_away:
        t.start()
    for t in turned_away:
        t.join(10)
    assert results == ["busy"] * 5  # answered at once, while one works, one waits
    release.set()
    working.join(10)
    waiting.join(10)
    assert results == ["busy"] * 5 + ["checked", "checked"]
