"""Shared fixtures: a real SQLite file per test, an injected clock, the app."""

from __future__ import annotations

import calendar
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import webtest

from afinitwin_appliance import config
from afinitwin_appliance.storage import Storage

# The benchmark is a script, not a test (see tests/bench/bench.py).
collect_ignore = ["bench"]

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "data" / "snapshots"
SHARED_SNAPSHOTS = ROOT.parent / "shared" / "data" / "snapshots"
BASE = "/v1/public/twin"


def utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, *(0,) * (6 - len(parts)))))


class FakeClock:
    def __init__(self, now: float = utc(2026, 12, 4, 13, 57, 22)) -> None:
        self.t = now

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def settings_with(tmp_path: Path, **env: str) -> config.Settings:
    """Settings for the test database in tmp_path, with AFINITWIN_* overrides."""
    return config.load(
        None, {"AFINITWIN_STORAGE_DATABASE": str(tmp_path / "t.db"), **env}
    )


@pytest.fixture
def settings(tmp_path: Path) -> config.Settings:
    return settings_with(tmp_path)


@pytest.fixture
def storage(settings: config.Settings):
    store = Storage(settings.database).open()
    yield store
    store.close()


@dataclass
class World:
    """One owner with the Lucía snapshot and a read key, over WebTest."""

    storage: Storage
    clock: FakeClock
    api: "Api"  # noqa: F821
    app: webtest.TestApp
    owner_id: str
    key: str
    key_id: str

    def get(self, path: str, key: str | None = "default", **kw):
        headers = dict(kw.pop("headers", {}))
        if key == "default":
            key = self.key
        if key is not None:
            headers["X-Twin-Key"] = key
        kw.setdefault("expect_errors", True)
        return self.app.get(BASE + path, headers=headers, **kw)

    def new_key(self, owner_id: str | None = None, **kw) -> str:
        from afinitwin_appliance import manage

        created = manage.create_key(
            self.storage,
            self.clock,
            owner_id or self.owner_id,
            kw.pop("name", "test"),
            **kw,
        )
        return created.plaintext


def make_world(storage, settings, clock, remote="127.0.0.1") -> World:
    from afinitwin_appliance import manage
    from afinitwin_appliance.api import Api

    owner = manage.add_owner(storage, clock, "Lucía")
    manage.import_snapshot(
        storage,
        clock,
        owner.owner_id,
        (SNAPSHOTS / "lucia-ortega.yaml").read_bytes(),
        "lucia.yaml",
    )
    created = manage.create_key(storage, clock, owner.owner_id, "CRM production")
    api = Api(storage, settings, clock)
    app = webtest.TestApp(api, extra_environ={"REMOTE_ADDR": remote})
    return World(
        storage, clock, api, app, owner.owner_id, created.plaintext, created.key.key_id
    )


@pytest.fixture
def world(storage, settings, clock) -> World:
    return make_world(storage, settings, clock)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(
    *args: str,
    config_path: Path | None = None,
    check: bool = True,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "afinitwin_appliance"]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    result = subprocess.run(
        argv + list(args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stderr}")
    return result


class RunningServer:
    def __init__(self, config_path: Path, port: int, env: dict | None = None) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "afinitwin_appliance",
                "--config",
                str(config_path),
                "serve",
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(self.proc.stderr.read())
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=30)


@pytest.fixture
def appliance_dir(tmp_path: Path):
    """A configuration in tmp_path, an owner with Lucía's snapshot and a key."""
    cfg = tmp_path / "appliance.toml"
    cfg.write_text(
        '[storage]\ndatabase = "data/afinitwin.db"\n[log]\nlevel = "warning"\n'
    )
    cli("init", config_path=cfg)
    owner = cli(
        "owner",
        "add",
        "--name",
        "Lucía",
        "--plan",
        "professional",
        "--quiet",
        config_path=cfg,
    ).stdout.strip()
    cli(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(SNAPSHOTS / "lucia-ortega.yaml"),
        "--quiet",
        config_path=cfg,
    )
    return cfg, owner


@pytest.fixture
def server(appliance_dir):
    cfg, owner = appliance_dir
    running = RunningServer(cfg, free_port())
    running.config_path, running.owner = cfg, owner
    yield running
    running.stop()
