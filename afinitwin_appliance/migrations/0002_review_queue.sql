-- Life facts and annotations sent by integrators, waiting for the owner's review.
CREATE TABLE review_items (
    item_id      INTEGER PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES owners(owner_id),
    key_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    external_ref TEXT,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX review_items_external_ref
    ON review_items (owner_id, kind, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX review_items_by_owner ON review_items (owner_id, status, item_id);
