-- Webhook endpoints, the outbox of deliveries with each attempt, and the
-- once-a-month quota events.
CREATE TABLE webhook_endpoints (
    endpoint_id TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners(owner_id),
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    -- The whole whsec_ secret: the appliance must keep it to sign.
    secret      TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_owner ON webhook_endpoints (owner_id);

CREATE TABLE webhook_deliveries (
    delivery_id      TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL
                     REFERENCES webhook_endpoints(endpoint_id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'pending',
    last_status_code INTEGER,
    last_error       TEXT
);
CREATE INDEX webhook_deliveries_due
    ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint
    ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    attempt_id  INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL
                REFERENCES webhook_deliveries(delivery_id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id);

-- One row per key, month and quota event: the primary key is what makes the
-- two quota events fire at most once a month, whatever the concurrency.
CREATE TABLE quota_events (
    key_id TEXT NOT NULL,
    month  TEXT NOT NULL,
    event  TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (key_id, month, event)
) WITHOUT ROWID;
