"""SQLite storage: the only module that speaks SQL.

One database file in WAL mode, so readers never wait for the writer. Each
thread gets its own connection in autocommit mode; a multi-statement change runs
in BEGIN IMMEDIATE, and the quota admission is a single conditional upsert, so
it is exact under any concurrency, across processes too (the CLI may write
while the server runs). Writes from this process also take a process-wide lock
first: SQLite's busy handler backs off by sleeping, which would turn contention
between our own threads into latency, while a Python lock hands over at once.
synchronous=NORMAL is durable against a crash of the process (kill -9); only a
power loss can lose the last transactions, which is WAL's documented trade.

Schema migrations are numbered SQL files in migrations/, applied in order at
open, each in its own transaction and recorded in schema_migrations.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from . import errors
from .admins import Admin
from .audit import AuditEntry
from .changes import ChangeMirror, MirrorUnavailable
from .keys import ApiKey
from .owners import Owner
from .sessions import AdminSession
from .webhooks import Attempt, Delivery, Endpoint

log = logging.getLogger(__name__)


class StorageError(errors.DomainError):
    """The database file cannot be opened or is not ours."""


class Conflict(errors.DomainError):
    """A write that would break an invariant (duplicate id, changed snapshot)."""


@dataclass(frozen=True)
class SnapshotRecord:
    snapshot_id: str
    owner_id: str
    snapshot_date: str
    version: str
    source: str
    status: str
    primary_language: str
    languages: tuple[str, ...]
    has_narratives: bool
    imported_at: int


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class _UnavailableWhenBusy:
    """Turn SQLite's busy timeout into the contract's 503, never a 500.

    A plain class rather than a generator-based context manager: it wraps
    every query, and the generator machinery cost more than the reads it
    guarded.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, sqlite3.OperationalError) and _busy(exc):
            raise errors.ServiceUnavailable(
                "Storage is busy; retry shortly.", headers={"Retry-After": "1"}
            ) from None
        return False


_unavailable_when_busy = _UnavailableWhenBusy()


class Storage:
    def __init__(
        self, path: Path | str, busy_timeout_ms: int = 5000, readonly: bool = False
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.readonly = readonly
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self.changes: ChangeMirror | None = None
        self.mirror_problem = ""

    # -- connections -------------------------------------------------------

    def open(self, create: bool = True) -> "Storage":
        """Open (and with create, make) the database and apply pending migrations.

        A read-only storage only checks that the file is a database; it never
        migrates, so `check` changes nothing.
        """
        if not create and not self.path.exists():
            raise StorageError(f"database {self.path} does not exist; run 'init' first")
        if self.readonly:
            try:
                self.pending_migrations()
            except sqlite3.DatabaseError as exc:
                raise StorageError(
                    f"{self.path} is not a usable SQLite database: {exc}"
                ) from None
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the folder for {self.path}: {exc}"
            ) from None
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"{self.path} is not a usable SQLite database: {exc}"
            ) from None
        self.reopen_changes()
        if self.changes is not None:
            # At start a busy database may be waited for: the mirror must hold
            # the counter before requests trust it.
            with self._write():
                pass  # publishes the database's counter
        return self

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                target = (
                    f"{self.path.resolve().as_uri()}?mode=ro"
                    if self.readonly
                    else self.path
                )
                conn = sqlite3.connect(
                    target,
                    timeout=self.busy_timeout_ms / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                    uri=self.readonly,
                )
            except sqlite3.OperationalError as exc:
                raise StorageError(f"cannot open database {self.path}: {exc}") from None
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if not self.readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
        if self.changes is not None:
            self.changes.close()
            self.changes = None

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with _unavailable_when_busy:
            return self._connect().execute(sql, params).fetchall()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.mirror_problem:
            self._refuse_unmarked_write()
        conn = self._connect()
        with self._write_lock, _unavailable_when_busy:
            conn.execute("BEGIN IMMEDIATE")
            mark = None
            try:
                # Until this write is published, readers ask the database
                # itself whether keys, owners or snapshots changed (changes.py).
                mark = self._mark()
                yield conn
            except BaseException:
                # Inside the try, a mark that fails is rolled back too: the
                # thread's connection must not stay in this transaction.
                # (SQLite has already rolled back after some errors.)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._publish(conn, mark)
                raise
            conn.execute("COMMIT")
            self._publish(conn, mark)

    def _mark(self) -> int | None:
        if self.changes is None:
            return None
        try:
            return self.changes.mark()
        except OSError as exc:
            # A full or failing disk: the write cannot be marked, so it is
            # not made; the request answers 503, not 500.
            raise StorageError(
                f"cannot mark the change mirror {self.changes.path}: {exc}"
            ) from None

    def _publish(self, conn: sqlite3.Connection, mark: int | None) -> None:
        if self.changes is not None and mark is not None:
            row = conn.execute("SELECT value FROM generation").fetchone()
            self.changes.publish(int(row[0]), mark)

    def _refuse_unmarked_write(self) -> None:
        # A running appliance that reads the mirror would not see a change
        # made without marking it, and revocation must be seen at once.
        if ChangeMirror.path_beside(self.path).exists():
            raise StorageError(
                f"{self.mirror_problem}: a running appliance reads that file"
                " to see changes at once, so nothing was changed"
            )

    def reopen_changes(self) -> None:
        """Open the mirror (at start, or after it was deleted or replaced).

        The caller publishes the counter into it.

        Without it reads still work, each request asking the database; writes
        are refused while the file exists (see _refuse_unmarked_write). A
        replaced mirror's descriptor is left open, not closed: another thread
        may be reading it at this very moment.
        """
        try:
            self.changes = ChangeMirror.beside(self.path)
            self.mirror_problem = ""
        except MirrorUnavailable as exc:
            if str(exc) != self.mirror_problem:  # once, not every second
                log.warning("%s; every request will read the database", exc)
            self.changes, self.mirror_problem = None, str(exc)

    def republish_changes(self) -> bool:
        """Publish the database's counter in the mirror, if it can be done now.

        Repairs a mirror that missed a change: a writer that died between its
        commit and its publish, or an edit made around the appliance. Called
        from a request, so a busy database skips it (the mirror then reads as
        unknown or stale-but-checked, and requests ask the database).
        """
        return self.changes is not None and self._unless_busy(None)

    # -- migrations ----------------------------------------------------------

    def _migrate(self) -> None:
        conn = self._connect()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            with self._write() as tx:
                # executescript would commit our transaction; run statement by
                # statement so a failing migration leaves nothing behind.
                for statement in _statements(sql):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (version, name),
                )
            log.info("applied migration %s", name)

    def pending_migrations(self) -> list[str]:
        """Names of the packaged migrations this database has not had yet."""
        conn = self._connect()
        table = conn.execute(
            "SELECT 1 FROM sqlite_master"
            " WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        done = set()
        if table:
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        return [name for version, name, _ in migrations() if version not in done]

    def generation(self) -> int:
        """The counter that moves on every change to keys, owners or snapshots."""
        with _unavailable_when_busy:
            row = self._connect().execute("SELECT value FROM generation").fetchone()
        return int(row[0])

    def schema_version(self) -> int:
        row = self._read("SELECT MAX(version) FROM schema_migrations")
        return int(row[0][0] or 0)

    def integrity_check(self) -> list[str]:
        return [r[0] for r in self._read("PRAGMA integrity_check")]

    # -- owners --------------------------------------------------------------

    def add_owner(self, owner: Owner) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO owners (owner_id, name, plan_name, plan_status,"
                " plan_source, active_until, created_at) VALUES (?,?,?,?,?,?,?)",
                (
                    owner.owner_id,
                    owner.name,
                    owner.plan_name,
                    owner.plan_status,
                    owner.plan_source,
                    owner.active_until,
                    owner.created_at,
                ),
            )

    def get_owner(self, owner_id: str) -> Owner | None:
        rows = self._read("SELECT * FROM owners WHERE owner_id = ?", (owner_id,))
        return _owner(rows[0]) if rows else None

    def list_owners(self) -> list[Owner]:
        return [
            _owner(r)
            for r in self._read("SELECT * FROM owners ORDER BY created_at, rowid")
        ]

    def set_plan(
        self,
        owner_id: str,
        plan: str,
        status: str,
        source: str,
        active_until: int | None,
    ) -> bool:
        with self._write() as tx:
            cur = tx.execute(
                "UPDATE owners SET plan_name = ?, plan_status = ?, plan_source = ?,"
                " active_until = ? WHERE owner_id = ?",
                (plan, status, source, active_until, owner_id),
            )
            return cur.rowcount == 1

    # -- snapshots -------------------------------------------------------------

    def import_snapshot(self, record: SnapshotRecord, document: str) -> bool:
        """Store a snapshot; False when the identical one is already there.

        Snapshots never change: the same id with another document, or under
        another owner, is a Conflict.
        """
        with self._write() as tx:
            row = tx.execute(
                "SELECT owner_id, document FROM snapshots WHERE snapshot_id = ?",
                (record.snapshot_id,),
            ).fetchone()
            if row is not None:
                if row["owner_id"] != record.owner_id:
                    raise Conflict(
                        f"snapshot id {record.snapshot_id} already belongs to"
                        " another owner"
                    )
                # Equal as data, whatever the order of map keys: the same
                # document as YAML and as JSON is one snapshot.
                if json.loads(row["document"]) != json.loads(document):
                    raise Conflict(
                        f"snapshot {record.snapshot_id} already exists with different"
                        " content; snapshots never change, so import it under a new id"
                    )
                return False
            tx.execute(
                "INSERT INTO snapshots (snapshot_id, owner_id, snapshot_date, version,"
                " source, status, primary_language, languages, has_narratives,"
                " imported_at, document) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.snapshot_id,
                    record.owner_id,
                    record.snapshot_date,
                    record.version,
                    record.source,
                    record.status,
                    record.primary_language,
                    ",".join(record.languages),
                    int(record.has_narratives),
                    record.imported_at,
                    document,
                ),
            )
            return True

    _SNAPSHOT_COLUMNS = (
        "snapshot_id, owner_id, snapshot_date, version, source, status,"
        " primary_language, languages, has_narratives, imported_at"
    )
    _NEWEST_FIRST = "ORDER BY snapshot_date DESC, imported_at DESC, snapshot_id DESC"

    def list_snapshots(self, owner_id: str) -> list[SnapshotRecord]:
        rows = self._read(
            f"SELECT {self._SNAPSHOT_COLUMNS} FROM snapshots WHERE owner_id = ?"
            f" {self._NEWEST_FIRST}",
            (owner_id,),
        )
        return [_snapshot(r) for r in rows]

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        rows = self._read(
            f"SELECT {self._SNAPSHOT_COLUMNS} FROM snapshots WHERE snapshot_id = ?",
            (snapshot_id,),
        )
        return _snapshot(rows[0]) if rows else None

    def newest_ready(self, owner_id: str) -> SnapshotRecord | None:
        rows = self._read(
            f"SELECT {self._SNAPSHOT_COLUMNS} FROM snapshots"
            f" WHERE owner_id = ? AND status = 'ready' {self._NEWEST_FIRST} LIMIT 1",
            (owner_id,),
        )
        return _snapshot(rows[0]) if rows else None

    def has_snapshots(self, owner_id: str) -> bool:
        return bool(
            self._read(
                "SELECT 1 FROM snapshots WHERE owner_id = ? LIMIT 1", (owner_id,)
            )
        )

    def snapshot_document(self, snapshot_id: str) -> dict[str, Any]:
        rows = self._read(
            "SELECT document FROM snapshots WHERE snapshot_id = ?", (snapshot_id,)
        )
        if not rows:
            raise KeyError(snapshot_id)
        return json.loads(rows[0][0])

    # -- keys ------------------------------------------------------------------

    def add_key(self, key: ApiKey) -> bool:
        """Insert a key; False if its key id is taken (the caller draws another)."""
        try:
            with self._write() as tx:
                tx.execute(
                    "INSERT INTO api_keys (key_id, owner_id, name, key_hash, scopes,"
                    " monthly_quota, expires_at, allowed_networks, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        key.key_id,
                        key.owner_id,
                        key.name,
                        key.key_hash,
                        " ".join(key.scopes),
                        key.monthly_quota,
                        key.expires_at,
                        " ".join(key.allowed_networks),
                        key.created_at,
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def get_key(self, key_id: str) -> ApiKey | None:
        rows = self._read("SELECT * FROM api_keys WHERE key_id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    def list_keys(self, owner_id: str | None = None) -> list[ApiKey]:
        if owner_id is None:
            rows = self._read("SELECT * FROM api_keys ORDER BY created_at, rowid")
        else:
            rows = self._read(
                "SELECT * FROM api_keys WHERE owner_id = ? ORDER BY created_at, rowid",
                (owner_id,),
            )
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, now: int) -> bool:
        """Revoke a key; False if no live key has that id."""
        with self._write() as tx:
            cur = tx.execute(
                "UPDATE api_keys SET revoked_at = ?"
                " WHERE key_id = ? AND revoked_at IS NULL",
                (now, key_id),
            )
            return cur.rowcount == 1

    def set_key_quota(self, key_id: str, monthly_quota: int) -> bool:
        with self._write() as tx:
            cur = tx.execute(
                "UPDATE api_keys SET monthly_quota = ? WHERE key_id = ?",
                (monthly_quota, key_id),
            )
            return cur.rowcount == 1

    def touch_key(self, key_id: str, now: int, granularity: int = 60) -> bool:
        """Record a key's last use, at most once per `granularity` seconds.

        A write on every request would double the write load for a value
        shown to the minute. Best effort (see _unless_busy): False when the
        write was skipped.
        """
        return self._unless_busy(
            "UPDATE api_keys SET last_used_at = ? WHERE key_id = ?"
            " AND (last_used_at IS NULL OR last_used_at <= ?)",
            (now, key_id, now - granularity),
        )

    def _unless_busy(self, sql: str | None, params: tuple[Any, ...] = ()) -> bool:
        """Run a write that rides along a request, or skip it at once.

        Such a write (a key's last use, repairing the change mirror) is not
        what the request is for, so a busy database or an unusable mirror
        skips it (False) rather than making the request wait 5 s or fail.
        """
        conn = self._connect()
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            with self._write() as tx:
                if sql is not None:
                    tx.execute(sql, params)
        except (errors.ServiceUnavailable, StorageError):
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return True

    # -- quota -----------------------------------------------------------------

    def count_request(self, key_id: str, month: str, limit: int) -> int | None:
        """Count one request against a key's month; None if the limit is reached.

        One statement, so the check and the increment cannot be split by
        another writer: with a limit of N, at most N requests are admitted.
        """
        conn = self._connect()
        with self._write_lock, _unavailable_when_busy:
            row = conn.execute(
                "INSERT INTO quota_usage (key_id, month, used) VALUES (?, ?, 1)"
                " ON CONFLICT (key_id, month) DO UPDATE SET used = used + 1"
                " WHERE used < ? RETURNING used",
                (key_id, month, limit),
            ).fetchone()
        return None if row is None else int(row[0])

    def used(self, key_id: str, month: str) -> int:
        rows = self._read(
            "SELECT used FROM quota_usage WHERE key_id = ? AND month = ?",
            (key_id, month),
        )
        return int(rows[0][0]) if rows else 0

    # -- review queue ------------------------------------------------------------

    def queue_for_review(
        self,
        owner_id: str,
        key_id: str,
        kind: str,
        items: list[dict[str, Any]],
        now: int,
    ) -> tuple[int, int]:
        """Queue items for the owner's review; returns (accepted, duplicates).

        An item whose externalRef the owner already has (for this kind) is not
        queued again; the unique index decides, so concurrent batches agree.
        """
        accepted = 0
        with self._write() as tx:
            for item in items:
                cur = tx.execute(
                    "INSERT OR IGNORE INTO review_items (owner_id, key_id, kind,"
                    " external_ref, payload, created_at) VALUES (?,?,?,?,?,?)",
                    (
                        owner_id,
                        key_id,
                        kind,
                        item.get("externalRef"),
                        json.dumps(item, ensure_ascii=False, sort_keys=True),
                        now,
                    ),
                )
                accepted += cur.rowcount
        return accepted, len(items) - accepted

    def review_items(
        self, owner_id: str | None = None, status: str | None = "pending"
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM review_items WHERE 1 = 1", []
        if owner_id is not None:
            sql, params = sql + " AND owner_id = ?", [*params, owner_id]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        rows = self._read(sql + " ORDER BY item_id DESC", tuple(params))
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

    def set_review_status(self, item_id: int, status: str) -> bool:
        with self._write() as tx:
            cur = tx.execute(
                "UPDATE review_items SET status = ? WHERE item_id = ?",
                (status, item_id),
            )
            return cur.rowcount == 1

    def get_review_item(self, item_id: int) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM review_items WHERE item_id = ?", (item_id,))
        if not rows:
            return None
        return {**dict(rows[0]), "payload": json.loads(rows[0]["payload"])}

    # -- admins, their sessions, the audit log -----------------------------------

    def add_admin(self, admin: Admin) -> bool:
        """Insert an admin; False if the name is taken."""
        try:
            with self._write() as tx:
                tx.execute(
                    "INSERT INTO admins (name, password_hash, created_at,"
                    " password_changed_at) VALUES (?,?,?,?)",
                    (
                        admin.name,
                        admin.password_hash,
                        admin.created_at,
                        admin.password_changed_at,
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def get_admin(self, name: str) -> Admin | None:
        rows = self._read("SELECT * FROM admins WHERE name = ?", (name,))
        return Admin(**dict(rows[0])) if rows else None

    def list_admins(self) -> list[Admin]:
        rows = self._read("SELECT * FROM admins ORDER BY name")
        return [Admin(**dict(r)) for r in rows]

    def has_admins(self) -> bool:
        return bool(self._read("SELECT 1 FROM admins LIMIT 1"))

    def set_admin_password(
        self, name: str, password_hash: str, changed_at: int, end_sessions: bool = True
    ) -> bool:
        """Store a new hash; with end_sessions, sign the admin out everywhere."""
        with self._write() as tx:
            cur = tx.execute(
                "UPDATE admins SET password_hash = ?, password_changed_at = ?"
                " WHERE name = ?",
                (password_hash, changed_at, name),
            )
            if end_sessions:
                tx.execute("DELETE FROM admin_sessions WHERE admin = ?", (name,))
            return cur.rowcount == 1

    def add_session(self, session: AdminSession) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO admin_sessions (session_hash, admin, created_at,"
                " last_seen_at) VALUES (?,?,?,?)",
                (
                    session.session_hash,
                    session.admin,
                    session.created_at,
                    session.last_seen_at,
                ),
            )

    def get_session(self, session_hash: str) -> AdminSession | None:
        rows = self._read(
            "SELECT * FROM admin_sessions WHERE session_hash = ?", (session_hash,)
        )
        return AdminSession(**dict(rows[0])) if rows else None

    def touch_session(self, session_hash: str, now: int) -> None:
        with self._write() as tx:
            tx.execute(
                "UPDATE admin_sessions SET last_seen_at = ? WHERE session_hash = ?",
                (now, session_hash),
            )

    def end_session(self, session_hash: str) -> bool:
        with self._write() as tx:
            cur = tx.execute(
                "DELETE FROM admin_sessions WHERE session_hash = ?", (session_hash,)
            )
            return cur.rowcount == 1

    def purge_sessions(self, idle_before: int, created_before: int) -> int:
        """Delete sessions past either timeout; returns how many went."""
        with self._write() as tx:
            cur = tx.execute(
                "DELETE FROM admin_sessions WHERE last_seen_at <= ? OR created_at <= ?",
                (idle_before, created_before),
            )
            return cur.rowcount

    def append_audit(
        self,
        at: int,
        admin: str,
        action: str,
        target: str,
        address: str,
        details: dict[str, Any],
    ) -> None:
        # The only statement that touches audit_log besides SELECT: entries
        # are added, never changed (the table's triggers refuse that too).
        with self._write() as tx:
            tx.execute(
                "INSERT INTO audit_log (at, admin, action, target, address, details)"
                " VALUES (?,?,?,?,?,?)",
                (
                    at,
                    admin,
                    action,
                    target,
                    address,
                    json.dumps(details, ensure_ascii=False, sort_keys=True),
                ),
            )

    def audit_entries(self, before: int | None, limit: int) -> list[AuditEntry]:
        sql, params = "SELECT * FROM audit_log", [limit]
        if before is not None:
            sql, params = sql + " WHERE entry_id < ?", [before, limit]
        rows = self._read(sql + " ORDER BY entry_id DESC LIMIT ?", tuple(params))
        return [
            AuditEntry(**{**dict(r), "details": json.loads(r["details"])}) for r in rows
        ]

    # -- webhooks ------------------------------------------------------------------
    #
    # Limitation: endpoint secrets are stored as they are, since the appliance
    # needs them to sign; anyone who can read the database file can forge
    # deliveries. No read of endpoints returns the secret except
    # webhook_secret, which only the delivery thread calls.

    def add_webhook_endpoint(self, endpoint: Endpoint, secret: str) -> None:
        with self._write() as tx:
            tx.execute(
                "INSERT INTO webhook_endpoints (endpoint_id, owner_id, url, events,"
                " secret, enabled, created_at) VALUES (?,?,?,?,?,?,?)",
                (
                    endpoint.endpoint_id,
                    endpoint.owner_id,
                    endpoint.url,
                    " ".join(endpoint.events),
                    secret,
                    int(endpoint.enabled),
                    endpoint.created_at,
                ),
            )

    _ENDPOINT_COLUMNS = "endpoint_id, owner_id, url, events, enabled, created_at"

    def get_webhook_endpoint(self, endpoint_id: str) -> Endpoint | None:
        rows = self._read(
            f"SELECT {self._ENDPOINT_COLUMNS} FROM webhook_endpoints"
            " WHERE endpoint_id = ?",
            (endpoint_id,),
        )
        return _endpoint(rows[0]) if rows else None

    def list_webhook_endpoints(self, owner_id: str | None = None) -> list[Endpoint]:
        sql = f"SELECT {self._ENDPOINT_COLUMNS} FROM webhook_endpoints"
        params: tuple[Any, ...] = ()
        if owner_id is not None:
            sql, params = sql + " WHERE owner_id = ?", (owner_id,)
        rows = self._read(sql + " ORDER BY created_at, rowid", params)
        return [_endpoint(r) for r in rows]

    def webhook_secret(self, endpoint_id: str) -> str | None:
        rows = self._read(
            "SELECT secret FROM webhook_endpoints WHERE endpoint_id = ?", (endpoint_id,)
        )
        return rows[0][0] if rows else None

    def set_webhook_enabled(self, endpoint_id: str, enabled: bool) -> bool:
        with self._write() as tx:
            cur = tx.execute(
                "UPDATE webhook_endpoints SET enabled = ? WHERE endpoint_id = ?",
                (int(enabled), endpoint_id),
            )
            return cur.rowcount == 1

    def remove_webhook_endpoint(self, endpoint_id: str) -> bool:
        """Delete an endpoint with its deliveries and their attempts."""
        with self._write() as tx:
            cur = tx.execute(
                "DELETE FROM webhook_endpoints WHERE endpoint_id = ?", (endpoint_id,)
            )
            return cur.rowcount == 1

    def enqueue_deliveries(
        self, deliveries: list[Delivery], once: tuple[str, str, str, int] | None = None
    ) -> bool:
        """Put deliveries in the outbox in one transaction.

        With `once` = (key id, month, event, at), the deliveries go in only if
        that quota event was not recorded yet, and it is recorded with them:
        the primary key of quota_events decides between concurrent requests.
        Returns False when `once` had already happened.
        """
        with self._write() as tx:
            if once is not None:
                cur = tx.execute(
                    "INSERT OR IGNORE INTO quota_events (key_id, month, event, at)"
                    " VALUES (?,?,?,?)",
                    once,
                )
                if cur.rowcount == 0:
                    return False
            tx.executemany(
                "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event,"
                " body, created_at, next_attempt_at) VALUES (?,?,?,?,?,?)",
                [
                    (
                        d.delivery_id,
                        d.endpoint_id,
                        d.event,
                        d.body,
                        d.created_at,
                        d.next_attempt_at,
                    )
                    for d in deliveries
                ],
            )
        return True

    def quota_event_recorded(self, key_id: str, month: str, event: str) -> bool:
        return bool(
            self._read(
                "SELECT 1 FROM quota_events"
                " WHERE key_id = ? AND month = ? AND event = ?",
                (key_id, month, event),
            )
        )

    def claim_due_deliveries(
        self, now: int, lease: int, limit: int = 20
    ) -> list[Delivery]:
        """Pending deliveries due by `now`, each pushed `lease` seconds ahead.

        The lease keeps a second sender on the same database off them while
        this one sends, and brings them back if this process dies mid-attempt.
        """
        # A read first: the sender polls every few seconds, and an idle poll
        # must not take the write lock from the API's requests.
        if not self._read(
            "SELECT 1 FROM webhook_deliveries WHERE status = 'pending'"
            " AND next_attempt_at <= ? LIMIT 1",
            (now,),
        ):
            return []
        with self._write() as tx:
            rows = tx.execute(
                "SELECT * FROM webhook_deliveries WHERE status = 'pending'"
                " AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid LIMIT ?",
                (now, limit),
            ).fetchall()
            tx.executemany(
                "UPDATE webhook_deliveries SET next_attempt_at = ?"
                " WHERE delivery_id = ?",
                [(now + lease, r["delivery_id"]) for r in rows],
            )
        return [_delivery(r) for r in rows]

    def record_attempt(
        self, attempt: Attempt, status: str, next_attempt_at: int | None
    ) -> None:
        """Log one attempt and move its delivery on, in one transaction."""
        with self._write() as tx:
            tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, at, status_code, error,"
                " duration_ms) VALUES (?,?,?,?,?)",
                (
                    attempt.delivery_id,
                    attempt.at,
                    attempt.status_code,
                    attempt.error,
                    attempt.duration_ms,
                ),
            )
            tx.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?,"
                " next_attempt_at = ?, last_status_code = ?, last_error = ?"
                " WHERE delivery_id = ?",
                (
                    status,
                    next_attempt_at,
                    attempt.status_code,
                    attempt.error,
                    attempt.delivery_id,
                ),
            )

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        rows = self._read(
            "SELECT * FROM webhook_deliveries WHERE delivery_id = ?", (delivery_id,)
        )
        return _delivery(rows[0]) if rows else None

    def list_deliveries(
        self,
        endpoint_id: str | None = None,
        owner_id: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        """The newest deliveries first, of one endpoint, one owner, or all."""
        sql, params = "SELECT d.* FROM webhook_deliveries d", []
        if owner_id is not None:
            sql += " JOIN webhook_endpoints e USING (endpoint_id) WHERE e.owner_id = ?"
            params.append(owner_id)
        if endpoint_id is not None:
            sql += " AND" if params else " WHERE"
            sql += " d.endpoint_id = ?"
            params.append(endpoint_id)
        rows = self._read(
            sql + " ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [_delivery(r) for r in rows]

    def delivery_attempts(self, delivery_ids: list[str]) -> list[Attempt]:
        if not delivery_ids:
            return []
        marks = ",".join("?" * len(delivery_ids))
        rows = self._read(
            "SELECT delivery_id, at, status_code, error, duration_ms"
            f" FROM webhook_attempts WHERE delivery_id IN ({marks})"
            " ORDER BY attempt_id",
            tuple(delivery_ids),
        )
        return [Attempt(**dict(r)) for r in rows]


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migration files as (number, name, sql), in order."""
    found = []
    folder = resources.files(__package__).joinpath("migrations")
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _statements(sql: str) -> list[str]:
    # Cut where SQLite itself says a statement is complete, so a trigger's
    # BEGIN ... END body, which holds semicolons of its own, stays whole.
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements, pending = [], ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                statements.append(pending.strip())
            pending = ""
    return statements


def _owner(row: sqlite3.Row) -> Owner:
    return Owner(
        owner_id=row["owner_id"],
        name=row["name"],
        plan_name=row["plan_name"],
        plan_status=row["plan_status"],
        plan_source=row["plan_source"],
        active_until=row["active_until"],
        created_at=row["created_at"],
    )


def _snapshot(row: sqlite3.Row) -> SnapshotRecord:
    return SnapshotRecord(
        snapshot_id=row["snapshot_id"],
        owner_id=row["owner_id"],
        snapshot_date=row["snapshot_date"],
        version=row["version"],
        source=row["source"],
        status=row["status"],
        primary_language=row["primary_language"],
        languages=tuple(filter(None, row["languages"].split(","))),
        has_narratives=bool(row["has_narratives"]),
        imported_at=row["imported_at"],
    )


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        owner_id=row["owner_id"],
        name=row["name"],
        key_hash=row["key_hash"],
        scopes=tuple(row["scopes"].split()),
        monthly_quota=row["monthly_quota"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        allowed_networks=tuple(row["allowed_networks"].split()),
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _endpoint(row: sqlite3.Row) -> Endpoint:
    return Endpoint(
        endpoint_id=row["endpoint_id"],
        owner_id=row["owner_id"],
        url=row["url"],
        events=tuple(row["events"].split()),
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(**{name: row[name] for name in row.keys()})
