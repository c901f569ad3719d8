"""The command line as scripts drive it: exit codes, --quiet, --json, errors."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SNAPSHOTS, cli

KEY_RE = re.compile(r"atk_live_[0-9a-f]{8}_[0-9a-f]{32}")


def test_every_subcommand_has_help():
    for args in (
        ["--help"],
        ["init", "--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["check", "--help"],
        ["owner", "add", "--help"],
        ["owner", "list", "--help"],
        ["owner", "set-plan", "--help"],
        ["snapshot", "import", "--help"],
        ["snapshot", "list", "--help"],
        ["key", "create", "--help"],
        ["key", "list", "--help"],
        ["key", "revoke", "--help"],
        ["key", "set-quota", "--help"],
    ):
        result = cli(*args)
        assert result.returncode == 0 and "usage:" in result.stdout, args


def test_scripted_setup_prints_bare_values(appliance_dir):
    cfg, owner = appliance_dir
    assert re.fullmatch(r"usr_[0-9a-f]{16}", owner)
    key = cli(
        "key",
        "create",
        "--owner",
        owner,
        "--name",
        "CRM",
        "--quota",
        "500",
        "--scope",
        "twin:write",
        "--expires",
        "2099-01-01",
        "--allow",
        "10.0.0.0/8",
        "--quiet",
        config_path=cfg,
    ).stdout
    assert KEY_RE.fullmatch(key.strip()) and key.endswith("\n") and key.count("\n") == 1
    listed = json.loads(cli("key", "list", "--json", config_path=cfg).stdout)
    assert len(listed) == 1
    entry = listed[0]
    assert entry["keyId"] == key[9:17]
    assert entry["scopes"] == ["twin:read", "twin:write"]
    assert entry["monthlyQuota"] == 500 and entry["usedThisMonth"] == 0
    assert entry["expiresAt"] == "2099-01-01T00:00:00Z"
    assert entry["allowedNetworks"] == ["10.0.0.0/8"]
    plain_list = cli("key", "list", config_path=cfg).stdout
    assert key.strip() not in plain_list and key.strip()[17:] not in plain_list
    assert key.strip()[18:] not in json.dumps(listed)


def test_key_plaintext_is_never_stored_in_the_database(appliance_dir):
    cfg, owner = appliance_dir
    key = cli(
        "key", "create", "--owner", owner, "--name", "x", "--quiet", config_path=cfg
    ).stdout.strip()
    for path in (cfg.parent / "data").iterdir():
        data = path.read_bytes()
        assert key.encode() not in data and key[18:].encode() not in data, path


def test_revoke_and_set_quota_take_the_key_id(appliance_dir):
    cfg, owner = appliance_dir
    key = cli(
        "key", "create", "--owner", owner, "--name", "x", "--quiet", config_path=cfg
    ).stdout.strip()
    key_id = key[9:17]
    assert cli("key", "set-quota", key_id, "42", config_path=cfg).returncode == 0
    assert cli("key", "revoke", key_id, config_path=cfg).returncode == 0
    again = cli("key", "revoke", key_id, config_path=cfg, check=False)
    assert again.returncode == 1
    assert again.stderr == f"error: key {key_id} is already revoked\n"
    bad = cli("key", "set-quota", key_id, "0", config_path=cfg, check=False)
    assert bad.returncode == 1
    assert bad.stderr == "error: a monthly quota must be between 1 and 1,000,000\n"
    wrong = cli("key", "revoke", "XYZ", config_path=cfg, check=False)
    assert wrong.stderr == "error: 'XYZ' is not a key id (8 lowercase hex characters)\n"


def test_keys_refused_for_lapsed_or_non_professional_owner(appliance_dir):
    cfg, owner = appliance_dir
    cli(
        "owner",
        "set-plan",
        owner,
        "--plan",
        "professional",
        "--status",
        "lapsed",
        config_path=cfg,
    )
    result = cli(
        "key", "create", "--owner", owner, "--name", "x", config_path=cfg, check=False
    )
    assert result.returncode == 1
    assert "professional and active" in result.stderr
    personal = cli(
        "owner", "add", "--name", "P", "--plan", "personal", "--quiet", config_path=cfg
    ).stdout.strip()
    assert (
        cli(
            "key",
            "create",
            "--owner",
            personal,
            "--name",
            "x",
            config_path=cfg,
            check=False,
        ).returncode
        == 1
    )


def test_invalid_snapshot_lists_every_problem_and_imports_nothing(appliance_dir):
    cfg, owner = appliance_dir
    result = cli(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(SNAPSHOTS / "invalid-several-errors.yaml"),
        config_path=cfg,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: the snapshot was refused (10 problems):\n")
    for path in (
        "schema:",
        "snapshotDate:",
        "source:",
        "primaryLanguage:",
        "person.displayName:",
        "bigFive.domains.openness.percentile:",
        "bigFive.domains.neuroticism:",
        "layers.negativeSpace.taboos[0].severity:",
        "portrait:",
        "favouriteColour:",
    ):
        assert f"  - {path}" in result.stderr
    listed = json.loads(cli("snapshot", "list", "--json", config_path=cfg).stdout)
    assert [s["id"] for s in listed] == ["snp_lucia_2026_11"]


def test_reimport_is_a_no_op_and_a_changed_document_is_refused(appliance_dir, tmp_path):
    cfg, owner = appliance_dir
    again = cli(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(SNAPSHOTS / "lucia-ortega.yaml"),
        config_path=cfg,
    )
    assert "already imported; nothing changed" in again.stdout
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        (SNAPSHOTS / "lucia-ortega.yaml")
        .read_text()
        .replace('version: "3.4.0"', 'version: "3.4.1"')
    )
    refused = cli(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(changed),
        config_path=cfg,
        check=False,
    )
    assert refused.returncode == 1
    assert "already exists with different content" in refused.stderr


def test_unknown_owner_and_missing_file_are_named(appliance_dir):
    cfg, _ = appliance_dir
    r = cli(
        "snapshot",
        "import",
        "--owner",
        "usr_nobody",
        str(SNAPSHOTS / "tom-whitfield.json"),
        config_path=cfg,
        check=False,
    )
    assert (r.returncode, r.stderr) == (1, "error: no owner has the id 'usr_nobody'\n")
    r = cli(
        "snapshot",
        "import",
        "--owner",
        "usr_x",
        "/nonexistent.yaml",
        config_path=cfg,
        check=False,
    )
    assert r.returncode == 1 and "cannot read /nonexistent.yaml" in r.stderr


def test_check_validates_configuration_and_database(appliance_dir, tmp_path):
    cfg, _ = appliance_dir
    ok = cli("check", config_path=cfg)
    assert "configuration: ok" in ok.stdout and "database: ok" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 99999\n")
    r = cli("check", config_path=bad, check=False)
    assert r.returncode == 1
    assert r.stderr == "error: server.port must be between 0 and 65535, not 99999\n"
    corrupt_cfg = tmp_path / "c.toml"
    corrupt_cfg.write_text('[storage]\ndatabase = "junk.db"\n')
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    r = cli("check", config_path=corrupt_cfg, check=False)
    assert r.returncode == 1 and "is not a usable SQLite database" in r.stderr


def test_config_from_environment_variable(appliance_dir):
    cfg, _ = appliance_dir
    r = cli("owner", "list", "--json", env={"AFINITWIN_CONFIG": str(cfg)})
    assert [o["name"] for o in json.loads(r.stdout)] == ["Lucía"]


def test_demo_creates_once_then_reuses(tmp_path):
    first = cli("demo", "--dir", str(tmp_path / "d"), "--no-serve")
    keys = KEY_RE.findall(first.stdout)
    assert len(keys) == 1
    second = cli("demo", "--dir", str(tmp_path / "d"), "--no-serve")
    assert "Reusing the demo database" in second.stdout
    assert KEY_RE.findall(second.stdout) == []
    assert "key create --owner usr_demo --name demo" in second.stdout


def test_version_names_the_build():
    out = cli("--version").stdout
    assert re.fullmatch(r"afinitwin-appliance 1\.0\.0 \(.+\)\n", out)


def test_serve_on_a_taken_port_fails_cleanly(appliance_dir, server):
    cfg, _ = appliance_dir
    r = cli("serve", "--port", str(server.port), config_path=cfg, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: cannot listen on 127.0.0.1:{server.port}")


def test_cli_changes_land_in_the_audit_log(appliance_dir):
    from afinitwin_appliance import config as cfgmod
    from afinitwin_appliance.storage import Storage

    cfg, owner = appliance_dir
    key = cli(
        "key", "create", "--owner", owner, "--name", "x", "--quiet", config_path=cfg
    ).stdout.strip()
    cli("key", "revoke", key[9:17], config_path=cfg)
    storage = Storage(cfgmod.load(cfg, {}).database).open()
    entries = storage.audit_entries(None, 100)
    assert [e.action for e in entries] == [
        "key.revoke",
        "key.create",
        "snapshot.import",
        "owner.add",
    ]
    assert {e.address for e in entries} == {"command line"}
    assert all(e.admin.startswith("cli") for e in entries)
    assert key not in repr(entries) and key[18:] not in repr(entries)


def test_check_changes_nothing_and_reports_a_database_without_schema(tmp_path):
    cfg = tmp_path / "a.toml"
    cfg.write_text('[storage]\ndatabase = "empty.db"\n')
    (tmp_path / "empty.db").write_bytes(b"")
    r = cli("check", config_path=cfg, check=False)
    assert r.returncode == 1
    from afinitwin_appliance.storage import migrations

    assert (
        f"lacks {len(migrations())} schema migration(s) (0001_initial.sql" in r.stderr
    )
    assert (tmp_path / "empty.db").read_bytes() == b""
    assert not (tmp_path / "empty.db-wal").exists()


def test_plan_end_in_the_past_is_refused_and_lapsed_plans_show_lapsed(appliance_dir):
    cfg, owner = appliance_dir
    r = cli(
        "owner",
        "set-plan",
        owner,
        "--plan",
        "professional",
        "--until",
        "2020-01-01",
        config_path=cfg,
        check=False,
    )
    assert (r.returncode, r.stderr) == (
        1,
        "error: the plan's end (--until) must be in the future\n",
    )
    cli(
        "owner",
        "set-plan",
        owner,
        "--plan",
        "professional",
        "--status",
        "lapsed",
        config_path=cfg,
    )
    listed = json.loads(cli("owner", "list", "--json", config_path=cfg).stdout)
    assert listed[0]["status"] == "lapsed"
    r = cli(
        "key", "create", "--owner", owner, "--name", "x", config_path=cfg, check=False
    )
    assert r.stderr == (
        "error: keys can be created only for an owner whose plan is"
        f" professional and active; {owner} has the professional plan,"
        " lapsed\n"
    )


def test_list_json_into_a_closed_pipe_is_quiet(appliance_dir):
    import subprocess
    import sys

    cfg, _ = appliance_dir
    shell = (
        f"{sys.executable} -m afinitwin_appliance --config {cfg} snapshot list --json"
        " | head -c 1"
    )
    r = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True
    )
    assert "Traceback" not in r.stderr


def test_demo_port_check_takes_a_port_only_old_connections_linger_on():
    # A restarted demo found its port "in use": the previous server had
    # closed its keep-alive connections first, leaving them in TIME_WAIT,
    # and the check bound without SO_REUSEADDR (Waitress binds with it).
    import socket

    from afinitwin_appliance import cli as cli_module

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server's end closes first: TIME_WAIT on its port
    assert client.recv(1) == b""
    client.close()
    with pytest.raises(cli_module.CliError, match=f"cannot listen on 127.0.0.1:{port}"):
        cli_module._port_free("127.0.0.1", port)  # still listening: refused
    listener.close()
    cli_module._port_free("127.0.0.1", port)  # only TIME_WAIT left: free
