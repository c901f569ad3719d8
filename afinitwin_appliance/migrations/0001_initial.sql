-- Owners, their snapshots, their API keys and the keys' monthly counts.
CREATE TABLE owners (
    owner_id     TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    plan_name    TEXT NOT NULL,
    plan_status  TEXT NOT NULL,
    plan_source  TEXT NOT NULL,
    active_until INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE snapshots (
    snapshot_id      TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES owners(owner_id),
    snapshot_date    TEXT NOT NULL,
    version          TEXT NOT NULL,
    source           TEXT NOT NULL,
    status           TEXT NOT NULL,
    primary_language TEXT NOT NULL,
    languages        TEXT NOT NULL,
    has_narratives   INTEGER NOT NULL,
    imported_at      INTEGER NOT NULL,
    document         TEXT NOT NULL
);
CREATE INDEX snapshots_by_owner
    ON snapshots (owner_id, snapshot_date DESC, imported_at DESC);

CREATE TABLE api_keys (
    key_id           TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES owners(owner_id),
    name             TEXT NOT NULL,
    key_hash         TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    monthly_quota    INTEGER NOT NULL,
    expires_at       INTEGER,
    allowed_networks TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    revoked_at       INTEGER,
    last_used_at     INTEGER
);
CREATE INDEX api_keys_by_owner ON api_keys (owner_id);

CREATE TABLE quota_usage (
    key_id TEXT NOT NULL,
    month  TEXT NOT NULL,
    used   INTEGER NOT NULL,
    PRIMARY KEY (key_id, month)
) WITHOUT ROWID;
