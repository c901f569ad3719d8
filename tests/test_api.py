"""The public API over WebTest: shapes, error codes, order of checks, headers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from afinitwin_appliance import manage
from conftest import BASE, SNAPSHOTS, make_world, utc

LUCIA = "snp_lucia_2026_11"


def error_of(resp) -> str:
    assert resp.content_type == "application/json"
    body = resp.json["error"]
    assert set(body) <= {"code", "message", "requestId", "details"}
    assert body["requestId"] == resp.headers["X-Request-Id"]
    return body["code"]


# -- shapes -------------------------------------------------------------------------


def test_health_answers_key_owner_scopes_and_server_time(world):
    resp = world.get("/health")
    assert resp.status_int == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.json == {
        "ok": True,
        "apiKeyId": world.key_id,
        "userId": world.owner_id,
        "scopes": ["twin:read"],
        "serverTime": "2026-12-04T13:57:22Z",
    }


def test_health_is_free_but_carries_quota_headers(world):
    world.get("/me")
    resp = world.get("/health")
    assert resp.headers["X-Twin-Quota-Limit"] == "10000"
    assert resp.headers["X-Twin-Quota-Used"] == "1"
    assert resp.headers["X-Twin-Quota-Remaining"] == "9999"


def test_me_reports_plan_quota_and_twins(world):
    resp = world.get("/me")
    assert resp.status_int == 200
    assert resp.json == {
        "apiKeyId": world.key_id,
        "keyName": "CRM production",
        "userId": world.owner_id,
        "scopes": ["twin:read"],
        "plan": {
            "name": "professional",
            "status": "active",
            "source": "manual",
            "activeUntil": None,
        },
        "quota": {
            "monthlyLimit": 10000,
            "used": 1,
            "remaining": 9999,
            "resetsAt": "2027-01-01T00:00:00Z",
        },
        "twins": {
            "ready": 1,
            "total": 1,
            "latest": {
                "id": LUCIA,
                "snapshotDate": "2026-11-01",
                "version": "3.4.0",
                "source": "plan_included",
                "status": "ready",
                "primaryLanguage": "es",
                "languages": ["es", "en"],
                "hasNarratives": True,
                "importedAt": "2026-12-04T13:57:22Z",
            },
        },
    }


def test_json_is_written_with_real_non_ascii_characters(world):
    world.storage.set_plan(world.owner_id, "professional", "active", "manual", None)
    resp = world.get("/preset/estandar?format=json&lang=es")
    assert "Lucía".encode() in resp.body
    assert b"\\u00ed" not in resp.body


def test_historic_lists_every_snapshot_newest_first(world):
    world.clock.advance(10)
    for name in ("tom-whitfield.json", "tom-whitfield-generating.json"):
        manage.import_snapshot(
            world.storage,
            world.clock,
            world.owner_id,
            (SNAPSHOTS / name).read_bytes(),
            name,
        )
    resp = world.get("/historic")
    assert resp.status_int == 200
    # Same snapshotDate: the later import comes first.
    assert [(s["id"], s["status"]) for s in resp.json["snapshots"]] == [
        ("snp_tom_2026_11", "generating"),
        ("snp_lucia_2026_11", "ready"),
        ("snp_tom_2026_10", "ready"),
    ]


def test_snapshot_shows_summary_presets_and_sections_never_the_profile(world):
    resp = world.get(f"/snapshots/{LUCIA}")
    assert resp.status_int == 200
    body = resp.json
    assert body["id"] == LUCIA
    assert body["presets"] == ["estandar", "compacto"]
    assert "portrait" in body["sections"]
    assert "Lucía es una pensadora" not in resp.text


def test_another_owners_snapshot_is_the_same_404_as_a_missing_one(world):
    other = manage.add_owner(world.storage, world.clock, "Tom")
    manage.import_snapshot(
        world.storage,
        world.clock,
        other.owner_id,
        (SNAPSHOTS / "tom-whitfield.json").read_bytes(),
    )
    theirs = world.get("/snapshots/snp_tom_2026_10")
    missing = world.get("/snapshots/snp_nothing")
    assert theirs.status_int == missing.status_int == 404
    assert error_of(theirs) == error_of(missing) == "SNAPSHOT_NOT_FOUND"
    assert theirs.json["error"]["message"] == missing.json["error"]["message"]


# -- preset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,ctype",
    [
        ("json", "application/json; charset=utf-8"),
        ("yaml", "application/yaml; charset=utf-8"),
        ("md", "text/markdown; charset=utf-8"),
        ("txt", "text/plain; charset=utf-8"),
    ],
)
def test_preset_formats_have_their_content_types(world, fmt, ctype):
    resp = world.get(f"/preset/estandar?format={fmt}")
    assert resp.status_int == 200
    assert resp.headers["Content-Type"] == ctype
    assert resp.headers["X-Twin-Snapshot-Id"] == LUCIA
    assert resp.headers["Cache-Control"] == "private, no-cache"
    assert resp.headers["Vary"] == "X-Twin-Key, Authorization"
    assert resp.headers["Content-Language"] == "es"


def test_preset_json_is_the_artifact_with_md_as_system_prompt(world):
    art = world.get("/preset/estandar?lang=en&variant=claude").json
    md = world.get("/preset/estandar?lang=en&variant=claude&format=md").text
    assert list(art) == [
        "preset",
        "snapshotId",
        "snapshotDate",
        "lang",
        "contentLanguages",
        "variant",
        "includeNarratives",
        "systemPrompt",
        "sections",
        "approxTokens",
    ]
    assert art["preset"] == "estandar" and art["snapshotId"] == LUCIA
    assert art["lang"] == "en" and art["variant"] == "claude"
    assert art["includeNarratives"] is False
    assert art["systemPrompt"] == md


def test_preset_same_query_gives_identical_bytes_and_etag_gives_304(world):
    first = world.get("/preset/estandar?format=md&lang=en")
    second = world.get("/preset/estandar?format=md&lang=en")
    assert first.body == second.body
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = world.get(
        "/preset/estandar?format=md&lang=en", headers={"If-None-Match": etag}
    )
    assert again.status_int == 304
    assert again.body == b""
    assert again.headers["ETag"] == etag
    assert again.headers["X-Twin-Quota-Used"] == "3"
    # RFC 9110, 15.4.5: the validator and caching fields, not the content's.
    assert again.headers["Vary"] == "X-Twin-Key, Authorization"
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert again.headers["X-Twin-Snapshot-Id"] == first.headers["X-Twin-Snapshot-Id"]
    for field in ("Content-Type", "Content-Language", "Content-Length"):
        assert field not in again.headers


def test_include_narratives_is_case_insensitive(world):
    on = world.get("/preset/estandar?format=md&includeNarratives=TRUE")
    off = world.get("/preset/estandar?format=md&includeNarratives=False")
    assert on.status_int == off.status_int == 200
    assert on.body != off.body


def test_unknown_query_parameters_are_ignored(world):
    plain = world.get("/preset/estandar?format=md")
    extra = world.get("/preset/estandar?format=md&utm_source=crm&x=1")
    assert extra.status_int == 200 and extra.body == plain.body


@pytest.mark.parametrize(
    "query,param",
    [
        ("format=pdf", "format"),
        ("lang=ru", "lang"),
        ("variant=llama", "variant"),
        ("includeNarratives=yes", "includeNarratives"),
        ("format=", "format"),
        ("lang=en&lang=es", "lang"),
        ("format=md&format=md", "format"),
    ],
)
def test_bad_or_repeated_query_values_are_invalid_parameter(world, query, param):
    resp = world.get(f"/preset/estandar?{query}")
    assert resp.status_int == 400
    assert error_of(resp) == "INVALID_PARAMETER"
    assert resp.json["error"]["details"]["parameter"] == param


def test_remembered_queries_answer_like_fresh_ones(world):
    # api.preset_query keeps parsed query strings; a refusal is never kept,
    # and a long query string is parsed every time, not remembered.
    from afinitwin_appliance import api

    for _ in range(2):
        refused = world.get("/preset/estandar?format=md&format=json")
        assert refused.status_int == 400
        assert refused.json["error"]["details"]["parameter"] == "format"
    padding = "&pad=" + "x" * api.MAX_CACHED_QUERY
    short = world.get("/preset/estandar?format=md&lang=de")
    long = world.get(f"/preset/estandar?format=md&lang=de{padding}")
    assert short.status_int == long.status_int == 200
    assert short.body == long.body
    assert long.headers["Content-Language"] == "de, es"  # she quotes Spanish
    remembered = api._remembered_query.cache_info().currsize
    world.get(f"/preset/estandar?format=md&lang=fr{padding}")
    assert api._remembered_query.cache_info().currsize == remembered
    assert api.preset_query("format=yaml&includeNarratives=TRUE") == api.PresetQuery(
        fmt="yaml",
        lang=None,
        variant="generic",
        include_narratives=True,
        purchase_id=None,
    )


def test_invalid_parameter_lists_the_allowed_values(world):
    resp = world.get("/preset/estandar?variant=llama")
    assert resp.json["error"]["details"] == {
        "parameter": "variant",
        "allowed": ["claude", "gpt", "gemini", "generic"],
    }


def test_unknown_preset_lists_the_known_ones(world):
    resp = world.get("/preset/deluxe")
    assert resp.status_int == 404
    assert error_of(resp) == "PRESET_NOT_FOUND"
    assert resp.json["error"]["details"] == {"presets": ["estandar", "compacto"]}


def test_purchase_id_chooses_the_snapshot(world):
    manage.import_snapshot(
        world.storage,
        world.clock,
        world.owner_id,
        (SNAPSHOTS / "tom-whitfield.json").read_bytes(),
    )
    resp = world.get("/preset/estandar?purchaseId=snp_tom_2026_10&format=md")
    assert resp.status_int == 200
    assert resp.headers["X-Twin-Snapshot-Id"] == "snp_tom_2026_10"
    assert resp.headers["Content-Language"] == "en"


def test_generating_snapshot_is_not_ready(world):
    manage.import_snapshot(
        world.storage,
        world.clock,
        world.owner_id,
        (SNAPSHOTS / "tom-whitfield-generating.json").read_bytes(),
    )
    resp = world.get("/preset/estandar?purchaseId=snp_tom_2026_11")
    assert resp.status_int == 409
    assert error_of(resp) == "SNAPSHOT_NOT_READY"


def test_owner_with_only_unready_snapshots_gets_not_ready(storage, settings, clock):
    w = make_world(storage, settings, clock)
    other = manage.add_owner(storage, clock, "Tom")
    manage.import_snapshot(
        storage,
        clock,
        other.owner_id,
        (SNAPSHOTS / "tom-whitfield-generating.json").read_bytes(),
    )
    key = w.new_key(other.owner_id)
    resp = w.get("/preset/estandar", key=key)
    assert resp.status_int == 409
    assert error_of(resp) == "SNAPSHOT_NOT_READY"


def test_owner_without_any_snapshot_has_no_twin(world):
    other = manage.add_owner(world.storage, world.clock, "Nobody")
    key = world.new_key(other.owner_id)
    resp = world.get("/preset/estandar", key=key)
    assert resp.status_int == 403
    assert error_of(resp) == "NO_TWIN_PURCHASED"
    assert world.get("/historic", key=key).json == {"snapshots": []}


# -- authentication -------------------------------------------------------------------


def test_no_key_is_missing_api_key(world):
    resp = world.get("/health", key=None)
    assert resp.status_int == 401
    assert error_of(resp) == "MISSING_API_KEY"
    assert "X-Twin-Quota-Limit" not in resp.headers


def test_bearer_is_accepted_in_any_case(world):
    for scheme in ("Bearer", "bearer", "BEARER"):
        resp = world.get(
            "/health", key=None, headers={"Authorization": f"{scheme} {world.key}"}
        )
        assert resp.status_int == 200, scheme


def test_same_key_in_both_headers_is_fine_different_ones_are_refused(world):
    same = world.get("/health", headers={"Authorization": f"Bearer {world.key}"})
    assert same.status_int == 200
    other = world.new_key()
    both = world.get("/health", headers={"Authorization": f"Bearer {other}"})
    assert both.status_int == 401
    assert error_of(both) == "INVALID_API_KEY"


@pytest.mark.parametrize(
    "make_header",
    [
        lambda k: {"X-Twin-Key": k.upper()},
        lambda k: {"X-Twin-Key": k[:-1]},
        lambda k: {"X-Twin-Key": k + "0"},
        lambda k: {"X-Twin-Key": "“" + k + "”"},
        lambda k: {"X-Twin-Key": "atk_live_ñandú"},
        lambda k: {"X-Twin-Key": "atk_live_" + "a" * 10_000},
        lambda k: {"Authorization": "Basic " + k},
        lambda k: {"Authorization": "Bearer"},
        lambda k: {"Authorization": k},
        lambda k: {"X-Twin-Key": ""},
    ],
)
def test_malformed_keys_are_invalid_never_500(world, make_header):
    headers = {
        name: value.encode("utf-8").decode("latin-1")
        for name, value in make_header(world.key).items()
    }
    resp = world.get("/health", key=None, headers=headers)
    assert resp.status_int == 401
    assert error_of(resp) == "INVALID_API_KEY"
    assert world.key not in resp.text


def test_key_in_query_string_is_never_accepted(world):
    resp = world.get(f"/health?key={world.key}&apiKey={world.key}", key=None)
    assert resp.status_int == 401
    assert error_of(resp) == "MISSING_API_KEY"


def test_unknown_well_formed_key_is_invalid(world):
    resp = world.get("/health", key="atk_live_0badc0de_" + "0" * 32)
    assert resp.status_int == 401
    assert error_of(resp) == "INVALID_API_KEY"


def test_revoked_key_is_refused_on_next_request(world):
    assert world.get("/health").status_int == 200
    manage.revoke_key(world.storage, world.clock, world.key_id)
    resp = world.get("/health")
    assert resp.status_int == 401
    assert error_of(resp) == "API_KEY_REVOKED"


def test_expired_key_is_refused_from_its_expiry_instant(world):
    key = world.new_key(expires_at=int(world.clock.now()) + 60)
    world.clock.advance(59)
    assert world.get("/health", key=key).status_int == 200
    world.clock.advance(1)
    resp = world.get("/health", key=key)
    assert resp.status_int == 401
    assert error_of(resp) == "API_KEY_EXPIRED"


def test_lapsed_plan_pauses_keys_without_deleting_them(world):
    world.storage.set_plan(world.owner_id, "professional", "lapsed", "manual", None)
    resp = world.get("/me")
    assert resp.status_int == 403
    assert error_of(resp) == "SUBSCRIPTION_INACTIVE"
    assert resp.headers["X-Twin-Quota-Used"] == "0"
    world.storage.set_plan(world.owner_id, "professional", "active", "manual", None)
    assert world.get("/me").status_int == 200


def test_plan_past_active_until_is_inactive(world):
    world.storage.set_plan(
        world.owner_id, "professional", "active", "stripe", int(utc(2026, 12, 31))
    )
    assert world.get("/health").status_int == 200
    world.clock.t = utc(2026, 12, 31)
    assert error_of(world.get("/health")) == "SUBSCRIPTION_INACTIVE"


def test_key_outside_its_networks_is_refused(world):
    key = world.new_key(networks=["10.0.0.0/8"])
    resp = world.get("/health", key=key)
    assert resp.status_int == 403
    assert error_of(resp) == "IP_NOT_ALLOWED"
    assert resp.headers["X-Twin-Quota-Remaining"] == "10000"
    inside = world.get("/health", key=key, extra_environ={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_int == 200


def test_keys_are_created_only_for_an_active_professional_plan(world):
    world.storage.set_plan(world.owner_id, "personal", "active", "manual", None)
    with pytest.raises(manage.Refused, match="professional and active"):
        world.new_key()


# -- routing, methods, request ids -------------------------------------------------------


def test_unknown_route_is_a_json_not_found(world):
    resp = world.app.get("/nothing/here", expect_errors=True)
    assert resp.status_int == 404
    assert error_of(resp) == "NOT_FOUND"
    assert world.app.get(BASE + "/health/", expect_errors=True).status_int == 404


def test_wrong_method_is_405_with_allow(world):
    resp = world.app.post(
        BASE + "/health", headers={"X-Twin-Key": world.key}, expect_errors=True
    )
    assert resp.status_int == 405
    assert resp.headers["Allow"] == "GET, HEAD"
    assert error_of(resp) == "METHOD_NOT_ALLOWED"


def test_every_path_under_the_base_that_is_no_route_is_a_json_not_found(world):
    for path in ("", "/", "/snapshots/", "/preset/", "/Health", "/health%20"):
        resp = world.app.get(
            BASE + path, headers={"X-Twin-Key": world.key}, expect_errors=True
        )
        assert (path, resp.status_int, error_of(resp)) == (path, 404, "NOT_FOUND")
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    # Nothing was counted: a route that does not exist admits nothing.
    assert world.get("/me").json["quota"]["used"] == 1


def test_a_post_route_refuses_get_and_head_with_its_own_allow(world):
    for method in ("GET", "HEAD", "PUT"):
        resp = world.app.request(
            BASE + "/life-facts",
            method=method,
            headers={"X-Twin-Key": world.key},
            expect_errors=True,
        )
        assert resp.status_int == 405
        assert resp.headers["Allow"] == "POST"
    resp = world.app.request(
        BASE + "/preset/estandar", method="DELETE", expect_errors=True
    )
    assert resp.headers["Allow"] == "GET, HEAD"
    assert resp.json["error"]["message"] == (
        "DELETE is not allowed here; use GET, HEAD."
    )


def test_a_preset_slug_or_snapshot_id_with_slashes_is_not_found(world):
    resp = world.get("/preset/estandar/extra")
    assert (resp.status_int, error_of(resp)) == (404, "PRESET_NOT_FOUND")
    resp = world.get("/snapshots/a/b")
    assert (resp.status_int, error_of(resp)) == (404, "SNAPSHOT_NOT_FOUND")


def test_head_is_answered_like_get_and_counted_once(world):
    resp = world.app.head(
        BASE + "/preset/estandar?format=md", headers={"X-Twin-Key": world.key}
    )
    assert resp.status_int == 200
    assert resp.body == b""
    assert resp.headers["X-Twin-Quota-Used"] == "1"
    assert world.get("/me").json["quota"]["used"] == 2


def test_well_formed_request_id_is_echoed_else_one_is_made(world):
    echoed = world.get("/health", headers={"X-Request-Id": "crm-42.a_b"})
    assert echoed.headers["X-Request-Id"] == "crm-42.a_b"
    made = world.get("/health", headers={"X-Request-Id": "bad id!"})
    assert made.headers["X-Request-Id"] != "bad id!"
    assert len(made.headers["X-Request-Id"]) == 32
    too_long = world.get("/health", headers={"X-Request-Id": "a" * 65})
    assert too_long.headers["X-Request-Id"] != "a" * 65


def test_json_content_type_on_get_is_ignored(world):
    resp = world.get("/me", headers={"Content-Type": "application/json"})
    assert resp.status_int == 200


def test_unexpected_failure_is_an_internal_error_envelope(world, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kaboom with a secret " + world.key)

    monkeypatch.setattr(world.storage, "list_snapshots", boom)
    resp = world.get("/historic")
    assert resp.status_int == 500
    assert error_of(resp) == "INTERNAL_ERROR"
    assert "kaboom" not in resp.text and world.key not in resp.text


def test_busy_storage_is_503_with_retry_after(world):
    import sqlite3

    world.storage.busy_timeout_ms = 50
    world.storage.close()
    blocker = sqlite3.connect(world.storage.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        resp = world.get("/me")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert resp.status_int == 503
    assert error_of(resp) == "SERVICE_UNAVAILABLE"
    assert resp.headers["Retry-After"] == "1"


def test_served_prompt_matches_the_golden_rendering(world):
    golden = Path(__file__).parent / "golden" / "lucia-ortega.estandar.en.claude.md"
    resp = world.get("/preset/estandar?format=md&lang=en&variant=claude")
    assert resp.body == golden.read_bytes()


def test_lone_surrogates_in_a_batch_are_invalid_body(storage, settings, clock):
    w = make_world(storage, settings, clock)
    key = w.new_key(scopes=["twin:write"])
    for body in (
        '{"facts":[{"category":"hobbies","value":"ab\\ud800cd","consent":true}]}',
        '{"annotations":[{"tag":"abc","text":"abc","consent":true,"\\ud800":1}]}',
    ):
        path = "/life-facts" if "facts" in body else "/annotations"
        resp = w.app.post(
            BASE + path,
            body,
            headers={"X-Twin-Key": key, "Content-Type": "application/json"},
            expect_errors=True,
        )
        assert resp.status_int == 400
        assert error_of(resp) == "INVALID_BODY"


def test_log_lines_carry_no_forged_lines_and_no_key(world, caplog):
    caplog.set_level("INFO", logger="afinitwin_appliance.api")
    world.get("/snapshots/x%0d%0aFORGED%20INFO%20line")
    world.get(f"/snapshots/{world.key}")
    world.get("/snapshots/snp%00")
    lines = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("request")
    ]
    assert len(lines) == 3
    assert all("\n" not in l and "\r" not in l and "\x00" not in l for l in lines)
    assert all(world.key not in l and world.key[18:] not in l for l in lines)
    assert "atk_live_REDACTED" in lines[1]
    assert f"key={world.key_id}" in lines[1]


def test_refusal_after_identification_logs_the_key_id(world, caplog):
    caplog.set_level("INFO", logger="afinitwin_appliance.api")
    world.storage.set_plan(world.owner_id, "professional", "lapsed", "manual", None)
    world.get("/me")
    assert (
        f"key={world.key_id} GET /v1/public/twin/me status=403"
        in caplog.records[-1].getMessage()
    )


@pytest.mark.parametrize(
    "host,expected",
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080/admin/#review"),
        ("twin.internal", "http://twin.internal/admin/#review"),
        ("evil.example.com:443/x?", "http://127.0.0.1:80/admin/#review"),
        ('127.0.0.1:1"><script>', "http://127.0.0.1:80/admin/#review"),
        ("", "http://127.0.0.1:80/admin/#review"),
    ],
)
def test_inbox_url_uses_only_a_plain_host_header(world, host, expected):
    key = world.new_key(scopes=["twin:write"])
    resp = world.app.post(
        BASE + "/annotations",
        '{"annotations":[{"tag":"tone","text":"short answers","consent":true}]}',
        headers={"X-Twin-Key": key, "Content-Type": "application/json", "Host": host},
        expect_errors=True,
    )
    assert resp.status_int == 202
    assert resp.json["inboxUrl"] == expected


def test_key_state_follows_revocation_and_expiry(world):
    key = world.storage.get_key(
        world.new_key(expires_at=int(world.clock.now()) + 10)[9:17]
    )
    assert manage.key_state(key, world.clock.now()) == "live"
    assert manage.key_state(key, world.clock.now() + 10) == "expired"
    revoked = manage.revoke_key(world.storage, world.clock, key.key_id)
    assert manage.key_state(revoked, world.clock.now()) == "revoked"


def test_changes_from_another_connection_are_seen_on_the_next_request(world):
    from afinitwin_appliance.storage import Storage

    assert world.get("/health").status_int == 200  # the key and owner are now cached
    other = Storage(world.storage.path).open()  # as the CLI or admin page would
    other.set_plan(world.owner_id, "professional", "lapsed", "manual", None)
    assert error_of(world.get("/health")) == "SUBSCRIPTION_INACTIVE"
    other.set_plan(world.owner_id, "professional", "active", "manual", None)
    assert world.get("/health").status_int == 200
    other.revoke_key(world.key_id, int(world.clock.now()))
    assert error_of(world.get("/health")) == "API_KEY_REVOKED"
    other.close()


def test_a_newer_snapshot_is_served_as_soon_as_it_is_imported(world):
    assert (
        world.get("/preset/estandar?format=md").headers["X-Twin-Snapshot-Id"] == LUCIA
    )
    doc = (
        (SNAPSHOTS / "tom-whitfield.json")
        .read_text()
        .replace('"2026-10-01"', '"2026-12-01"')
    )
    manage.import_snapshot(world.storage, world.clock, world.owner_id, doc.encode())
    resp = world.get("/preset/estandar?format=md")
    assert resp.headers["X-Twin-Snapshot-Id"] == "snp_tom_2026_10"


def test_a_key_shaped_request_id_is_echoed_as_the_contract_says_but_not_logged(
    world, caplog
):
    caplog.set_level("INFO", logger="afinitwin_appliance.api")
    resp = world.get("/health", key=None, headers={"X-Request-Id": world.key})
    assert resp.headers["X-Request-Id"] == world.key
    assert resp.json["error"]["requestId"] == world.key
    assert world.key not in caplog.text
    assert "request id=atk_live_REDACTED key=- GET" in caplog.text


def test_the_stored_hash_is_the_sha256_hex_of_the_full_key(world):
    # Contract section 2: only sha256(full key) is stored, whichever SHA-256
    # implementation computes it.
    stored = world.storage.get_key(world.key_id).key_hash
    assert stored == hashlib.sha256(world.key.encode("ascii")).hexdigest()
    assert len(stored) == 64


def test_health_body_follows_the_clock_second_by_second(world):
    first = world.get("/health").json["serverTime"]
    assert world.get("/health").json["serverTime"] == first
    world.clock.advance(1)
    assert world.get("/health").json["serverTime"] == "2026-12-04T13:57:23Z"
    assert first == "2026-12-04T13:57:22Z"
