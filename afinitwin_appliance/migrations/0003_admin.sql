-- Admin accounts, their sessions (by the hash of the id) and the audit log.
CREATE TABLE admins (
    name                TEXT PRIMARY KEY,
    password_hash       TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE admin_sessions (
    session_hash TEXT PRIMARY KEY,
    admin        TEXT NOT NULL REFERENCES admins(name) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX admin_sessions_by_admin ON admin_sessions (admin);

CREATE TABLE audit_log (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    admin    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    address  TEXT NOT NULL,
    details  TEXT NOT NULL
);

-- The audit log is append-only: the database itself refuses to change history.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
