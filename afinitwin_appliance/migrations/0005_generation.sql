-- A counter that moves whenever a key, an owner or a snapshot changes, so the
-- server can keep those rows in memory and still see a revocation (made by
-- this process, the command line or the admin page) on the very next request.
CREATE TABLE generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO generation (id, value) VALUES (1, 0);

CREATE TRIGGER api_keys_added AFTER INSERT ON api_keys
BEGIN UPDATE generation SET value = value + 1; END;
-- last_used_at is left out on purpose: it changes often and nothing cached
-- depends on it.
CREATE TRIGGER api_keys_changed AFTER UPDATE OF owner_id, name, key_hash, scopes,
    monthly_quota, expires_at, allowed_networks, revoked_at ON api_keys
BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER api_keys_removed AFTER DELETE ON api_keys
BEGIN UPDATE generation SET value = value + 1; END;

CREATE TRIGGER owners_added AFTER INSERT ON owners
BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER owners_changed AFTER UPDATE ON owners
BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER owners_removed AFTER DELETE ON owners
BEGIN UPDATE generation SET value = value + 1; END;

CREATE TRIGGER snapshots_added AFTER INSERT ON snapshots
BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER snapshots_changed AFTER UPDATE ON snapshots
BEGIN UPDATE generation SET value = value + 1; END;
CREATE TRIGGER snapshots_removed AFTER DELETE ON snapshots
BEGIN UPDATE generation SET value = value + 1; END;
