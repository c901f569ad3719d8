"""The frozen binary, run the way an admin runs it: from an empty folder.

The binary is $AFINITWIN_BINARY when set, else dist/afinitwin-appliance, which
is built with build/freeze.sh when missing. Outside CI these tests are skipped
when PyInstaller is not installed and there is no binary to test; in CI
(CI=true) a binary that cannot be had is a failure.

Every run of the binary gets a private TMPDIR, so the tests can see where the
one-file binary unpacks itself and that nothing is left behind there.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from afinitwin_appliance import __version__
from conftest import BASE, SNAPSHOTS, free_port

pytestmark = pytest.mark.binary

ROOT = Path(__file__).resolve().parents[1]
DIST_BINARY = ROOT / "dist" / "afinitwin-appliance"
IN_CI = os.environ.get("CI") == "true"
START_DEADLINE = 60.0
MIGRATIONS = len(list((ROOT / "afinitwin_appliance" / "migrations").glob("*.sql")))
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "yaml": "application/yaml; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def binary() -> Path:
    given = os.environ.get("AFINITWIN_BINARY")
    if given:
        path = Path(given).resolve()
        if not os.access(path, os.X_OK):
            pytest.fail(f"AFINITWIN_BINARY={given} is not an executable file")
        return path
    if not DIST_BINARY.exists():
        if importlib.util.find_spec("PyInstaller") is None and not IN_CI:
            pytest.skip(
                "no dist/afinitwin-appliance and PyInstaller is not installed"
                " (pip install -e '.[build]', or set AFINITWIN_BINARY)"
            )
        build = subprocess.run(
            ["bash", str(ROOT / "build" / "freeze.sh")],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if build.returncode != 0:
            _unavailable(
                f"build/freeze.sh failed:\n{build.stdout[-3000:]}"
                f"\n{build.stderr[-3000:]}"
            )
    return DIST_BINARY


def expected_commit() -> str | None:
    """What the spec stamps for this checkout; None for a binary built elsewhere."""
    if os.environ.get("AFINITWIN_BINARY"):
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


@dataclass
class Site:
    """An admin's server: a configuration folder, an empty working folder, a TMPDIR."""

    binary: Path
    etc: Path
    cwd: Path
    extract: Path

    @property
    def config(self) -> Path:
        return self.etc / "appliance.toml"

    @property
    def database(self) -> Path:
        # Relative to the configuration's folder, whatever the working folder.
        return self.etc / "data" / "afinitwin.db"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFINITWIN_")}
        # PYTHONPATH pointing at the working folder must change nothing either.
        return {**env, "TMPDIR": str(self.extract), "PYTHONPATH": str(self.cwd)}

    def run(
        self, *args: str, config: bool = True, stdin: str = ""
    ) -> subprocess.CompletedProcess:
        argv = [
            str(self.binary),
            *(["--config", str(self.config)] if config else []),
            *args,
        ]
        result = subprocess.run(
            argv,
            cwd=self.cwd,
            env=self.env(),
            capture_output=True,
            input=stdin,
            text=True,
            timeout=120,
        )
        assert (
            result.returncode == 0
        ), f"{args} exited {result.returncode}: {result.stderr}"
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def start(self, port: int) -> subprocess.Popen:
        argv = [str(self.binary), "--config", str(self.config), "serve"]
        # The server keeps its own copy of the log's descriptor.
        with open(self.etc / "server.log", "ab") as log:
            return subprocess.Popen(
                [*argv, "--port", str(port)],
                cwd=self.cwd,
                env=self.env(),
                stdout=log,
                stderr=log,
            )


@pytest.fixture
def site(binary: Path, tmp_path: Path) -> Site:
    made = Site(binary, tmp_path / "etc", tmp_path / "cwd", tmp_path / "extract")
    for folder in (made.etc, made.cwd, made.extract):
        folder.mkdir()
    made.config.write_text(
        '[storage]\ndatabase = "data/afinitwin.db"\n', encoding="utf-8"
    )
    return made


def prepared(site: Site) -> tuple[str, str]:
    """An owner with Lucía's snapshot and a key, all made by the binary's CLI."""
    owner = site.out(
        "owner", "add", "--name", "Lucía", "--plan", "professional", "--quiet"
    )
    site.out(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(SNAPSHOTS / "lucia-ortega.yaml"),
        "--quiet",
    )
    key = site.out("key", "create", "--owner", owner, "--name", "smoke", "--quiet")
    return owner, key


def get(port: int, path: str, key: str | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"X-Twin-Key": key} if key else {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def wait_for_health(proc: subprocess.Popen, port: int, key: str) -> dict:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            status, _, body = get(port, f"{BASE}/health", key)
        except OSError:
            time.sleep(0.05)
            continue
        assert status == 200, body
        return json.loads(body)
    raise AssertionError("no answer from /health before the deadline")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def flock_held_on(folder: Path) -> bool:
    inode = folder.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1:2] == ["FLOCK"] and fields[5].endswith(f":{inode}"):
            return True
    return False


def test_version_names_the_package_version_and_the_build_commit(site):
    text = site.out("--version")

    expected = expected_commit()
    if expected is None:
        assert re.fullmatch(
            rf"afinitwin-appliance {re.escape(__version__)} \(\S+\)", text
        )
    else:
        assert (
            text == f"afinitwin-appliance {__version__} ({expected})"
        ), "dist/afinitwin-appliance is stale: rebuild it with build/freeze.sh"


def test_look_alike_files_in_the_working_folder_never_replace_packaged_ones(site):
    # A package, migrations and translations that would break everything if
    # the binary ever read them instead of its own.
    poison = 'raise SystemExit("imported from the working folder")\n'
    for folder in (
        "afinitwin_appliance",
        "afinitwin_appliance/migrations",
        "afinitwin_appliance/translations",
        "afinitwin_appliance/demo",
        "migrations",
        "translations",
        "static",
    ):
        (site.cwd / folder).mkdir(parents=True)
    for module in (
        "afinitwin_appliance/__init__.py",
        "afinitwin_appliance/cli.py",
        "bottle.py",
        "waitress.py",
        "yaml.py",
        "json.py",
        "sqlite3.py",
    ):
        (site.cwd / module).write_text(poison, encoding="utf-8")
    for sql in (
        "afinitwin_appliance/migrations/0001_initial.sql",
        "migrations/0001_initial.sql",
        "afinitwin_appliance/migrations/9999_x.sql",
    ):
        (site.cwd / sql).write_text("CREATE TABLE poison (x);\n", encoding="utf-8")
    (site.cwd / "afinitwin_appliance/translations/en.json").write_text("{}")
    (site.cwd / "afinitwin_appliance/demo/demo-snapshot.yaml").write_text("poison: 1\n")
    (site.cwd / "afinitwin_appliance/BUILD_COMMIT").write_text("poison\n")

    assert "poison" not in site.out("--version")
    assert f"{site.database} (schema version {MIGRATIONS})" in site.out("init")
    demo = site.run("demo", "--dir", str(site.etc / "demo"), "--no-serve", config=False)
    assert re.search(r"atk_live_[0-9a-f]{8}_[0-9a-f]{32}", demo.stdout)
    demo_config = str(site.etc / "demo" / "appliance.toml")
    snapshots = json.loads(
        site.run(
            "--config", demo_config, "snapshot", "list", "--json", config=False
        ).stdout
    )
    assert [(s["ownerId"], s["status"]) for s in snapshots] == [("usr_demo", "ready")]


def test_every_command_works_from_the_binary(site):
    # State is read back through the --json listings, the interface scripts
    # rely on, rather than through the wording of each command's message.
    assert f"{site.database} (schema version {MIGRATIONS})" in site.out("init")
    owner, key = prepared(site)
    key_id = key[len("atk_live_") :][:8]

    check = site.out("check")
    assert str(site.config) in check and str(site.database) in check
    site.out("owner", "set-plan", owner, "--plan", "professional", "--status", "lapsed")
    owners = json.loads(site.out("owner", "list", "--json"))
    assert [(o["id"], o["name"], o["plan"], o["status"]) for o in owners] == [
        (owner, "Lucía", "professional", "lapsed")
    ]
    snapshots = json.loads(site.out("snapshot", "list", "--json"))
    assert [(s["ownerId"], s["id"], s["status"]) for s in snapshots] == [
        (owner, "snp_lucia_2026_11", "ready")
    ]
    site.out("key", "set-quota", key_id, "25")
    site.out("key", "revoke", key_id)
    keys = json.loads(site.out("key", "list", "--json"))
    assert [
        (k["keyId"], k["monthlyQuota"], k["usedThisMonth"], k["revokedAt"] is None)
        for k in keys
    ] == [(key_id, 25, 0, False)]
    # argon2's compiled cffi bindings, which the analysis cannot see.
    site.run(
        "admin", "add", "root", "--password-stdin", stdin="correct horse battery\n"
    )
    assert [a["name"] for a in json.loads(site.out("admin", "list", "--json"))] == [
        "root"
    ]
    assert sorted(p.name for p in site.cwd.iterdir()) == []


def test_served_from_the_binary_the_count_survives_a_restart_and_nothing_is_left(site):
    _, key = prepared(site)
    port = free_port()

    proc = site.start(port)
    try:
        health = wait_for_health(proc, port, key)
        assert health["apiKeyId"] == key[len("atk_live_") :][:8]
        extracted = list(site.extract.iterdir())
        assert [p.name[:4] for p in extracted] == ["_MEI"]
        assert flock_held_on(extracted[0])

        bodies = {}
        for fmt, content_type in CONTENT_TYPES.items():
            status, ctype, body = get(port, f"{BASE}/preset/estandar?format={fmt}", key)
            assert (status, ctype) == (200, content_type)
            bodies[fmt] = body
        assert json.loads(bodies["json"])["systemPrompt"] == bodies["md"].decode(
            "utf-8"
        )
        status, _, body = get(port, f"{BASE}/me", key)
        assert (status, json.loads(body)["quota"]["used"]) == (200, 5)

        # The admin page's assets come from the bundle too.
        status, ctype, page = get(port, "/admin/")
        assert (status, ctype) == (200, "text/html; charset=utf-8")
        assert get(port, "/admin/admin.css")[0] == 200
    finally:
        first_exit = stop(proc)
    assert first_exit == 0

    proc = site.start(port)
    try:
        wait_for_health(proc, port, key)
        status, _, body = get(port, f"{BASE}/me", key)
        assert (status, json.loads(body)["quota"]["used"]) == (200, 6)
    finally:
        second_exit = stop(proc)
    assert second_exit == 0

    assert list(site.extract.iterdir()) == []
    assert site.database.is_file()
    assert sorted(p.name for p in site.cwd.iterdir()) == []
