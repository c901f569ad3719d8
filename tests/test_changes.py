"""The change counter's shared-memory mirror: fast when nothing changed, never stale.

Each test names the way a change could be missed (another process, a writer
that died half-way, an edit made around the appliance, a torn or garbage
mirror) and checks that the next request still sees it.
"""

from __future__ import annotations

import sqlite3

import pytest

from afinitwin_appliance import manage
from afinitwin_appliance.changes import ChangeMirror
from afinitwin_appliance.storage import Storage
from conftest import SNAPSHOTS, cli
from test_api import error_of
from test_server import new_key, request


class Ticks:
    """An injected monotonic clock for the once-a-second comparison."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ticks(world) -> Ticks:
    fake = Ticks()
    world.api.gate.directory.monotonic = fake
    return fake


@pytest.fixture
def sql_reads(world, monkeypatch) -> list[int]:
    """Counts the requests that had to ask the database for the counter."""
    calls: list[int] = []
    real = world.storage.generation

    def counted() -> int:
        calls.append(1)
        return real()

    monkeypatch.setattr(world.storage, "generation", counted)
    return calls


def other_process(world) -> Storage:
    # A second Storage on the same file is what the CLI or a second process
    # holds: its own connections and its own mapping of the mirror.
    return Storage(world.storage.path).open()


def test_unchanged_database_answers_from_the_mirror_without_a_sql_read(
    world, ticks, sql_reads
):
    assert world.get("/health").status_int == 200  # the first compares once
    del sql_reads[:]
    for _ in range(20):
        assert world.get("/health").status_int == 200
        assert world.get("/preset/estandar?format=md").status_int == 200
    assert sql_reads == []


def test_a_revocation_by_another_process_is_refused_on_the_next_request(world, ticks):
    assert world.get("/health").status_int == 200
    other = other_process(world)
    manage.revoke_key(other, world.clock, world.key_id)
    other.close()
    resp = world.get("/health")
    assert (resp.status_int, error_of(resp)) == (401, "API_KEY_REVOKED")


def test_a_writer_that_died_after_its_commit_leaves_readers_right(
    world, ticks, sql_reads
):
    assert world.get("/health").status_int == 200
    # What a process killed between COMMIT and publish leaves behind: the
    # change committed, the mirror still marked.
    other = other_process(world)
    other.changes.mark()
    with sqlite3.connect(world.storage.path) as raw:
        raw.execute(
            "UPDATE api_keys SET revoked_at = 1 WHERE key_id = ?", (world.key_id,)
        )
    other.changes.close()
    del sql_reads[:]

    resp = world.get("/health")
    assert (resp.status_int, error_of(resp)) == (401, "API_KEY_REVOKED")
    assert sql_reads == [1]  # the mark sent the reader to the database

    # The next write transaction (here: a key created) repairs the mirror.
    key = world.new_key()
    del sql_reads[:]
    assert world.get("/health", key=key).status_int == 200
    assert sql_reads == []


def test_an_edit_made_around_the_appliance_is_seen_within_a_second(world, ticks):
    assert world.get("/health").status_int == 200
    with sqlite3.connect(world.storage.path) as raw:
        raw.execute(
            "UPDATE api_keys SET revoked_at = 1 WHERE key_id = ?", (world.key_id,)
        )

    # Limitation (changes.py): the mirror did not see it, for up to a second.
    ticks.t += 0.999
    assert world.get("/health").status_int == 200
    ticks.t += 0.001
    resp = world.get("/health")
    assert (resp.status_int, error_of(resp)) == (401, "API_KEY_REVOKED")
    # ... and the mirror was repaired: it now holds the database's counter.
    assert world.storage.changes.read() == world.storage.generation()


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00" * 16, b"\xff" * 16, b"\x02" + b"\x00" * 7 + b"\x00" * 8],
    ids=["empty", "zeros", "ones", "torn"],
)
def test_a_garbage_mirror_reads_as_unknown(tmp_path, garbage):
    path = tmp_path / "x.db-changes"
    path.write_bytes(garbage)
    mirror = ChangeMirror(path)
    assert mirror.read() is None
    mirror.publish(41)
    assert mirror.read() == 41
    assert path.stat().st_size == 16


def test_a_publish_after_another_writer_marked_leaves_the_mark(tmp_path):
    mirror = ChangeMirror(tmp_path / "x.db-changes")
    mine = mirror.mark()
    theirs = mirror.mark()
    assert mine != theirs
    mirror.publish(7, mine)
    assert mirror.read() is None  # still theirs: they have not published
    mirror.publish(8, theirs)
    assert mirror.read() == 8


def test_without_a_mirror_every_request_asks_the_database(world, sql_reads):
    world.storage.changes.close()
    world.storage.changes = None
    assert world.get("/health").status_int == 200
    manage.revoke_key(world.storage, world.clock, world.key_id)
    resp = world.get("/health")
    assert (resp.status_int, error_of(resp)) == (401, "API_KEY_REVOKED")
    assert sql_reads == [1, 1]


def test_a_folder_where_the_mirror_cannot_be_made_still_serves(tmp_path, caplog):
    (tmp_path / "t.db-changes").mkdir()  # a folder in the mirror's place
    storage = Storage(tmp_path / "t.db").open()
    assert storage.changes is None
    assert "no change mirror" in caplog.text
    assert storage.generation() == 0
    storage.close()


@pytest.mark.slow
def test_cli_revocation_is_refused_by_the_running_server_on_the_next_request(
    server,
):
    key = new_key(server)
    assert request(server, "/health", key)[0] == 200
    cli("key", "revoke", key[9:17], config_path=server.config_path)
    status, _, body = request(server, "/health", key)
    assert status == 401
    assert b'"API_KEY_REVOKED"' in body


@pytest.mark.slow
def test_cli_snapshot_import_is_served_by_the_running_server_at_once(server):
    cfg = server.config_path
    owner = cli(
        "owner",
        "add",
        "--name",
        "Tom",
        "--plan",
        "professional",
        "--quiet",
        config_path=cfg,
    ).stdout.strip()
    key = cli(
        "key", "create", "--owner", owner, "--name", "t", "--quiet", config_path=cfg
    ).stdout.strip()
    status, _, body = request(server, "/preset/estandar?format=md", key)
    assert (status, b'"NO_TWIN_PURCHASED"' in body) == (403, True)
    cli(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(SNAPSHOTS / "tom-whitfield.json"),
        config_path=cfg,
    )
    status, headers, _ = request(server, "/preset/estandar?format=md", key)
    assert status == 200
    assert headers["X-Twin-Snapshot-Id"] == "snp_tom_2026_10"
