-- Offboardings HR scheduled for a future moment (the last working day).
CREATE TABLE scheduled_offboardings (
    id         BIGSERIAL PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff (id),
    at         BIGINT NOT NULL,
    reason     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('scheduled', 'done', 'cancelled')),
    decided_by TEXT,
    decided_at BIGINT
);
CREATE INDEX scheduled_offboardings_due ON scheduled_offboardings (state, at);
