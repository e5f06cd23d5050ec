-- Offboardings HR scheduled for a future moment (the last working day).
CREATE TABLE scheduled_offboardings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id   INTEGER NOT NULL REFERENCES staff (id),
    at         INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('scheduled', 'done', 'cancelled')),
    decided_by TEXT,
    decided_at INTEGER
);
CREATE INDEX scheduled_offboardings_due ON scheduled_offboardings (state, at);
