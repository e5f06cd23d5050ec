-- First login: TOTP, recovery codes, NDA acknowledgements, per-session second factor.
CREATE TABLE totp (
    staff_id     INTEGER PRIMARY KEY REFERENCES staff (id),
    seed_sealed  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER
);

-- Every accepted time step, once per person: the primary key is the replay protection,
-- shared by every replica through the database.
CREATE TABLE totp_steps (
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    step     INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (staff_id, step)
);

CREATE TABLE totp_failures (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    at       INTEGER NOT NULL
);
CREATE INDEX totp_failures_staff ON totp_failures (staff_id, at);

CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id   INTEGER NOT NULL REFERENCES staff (id),
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX recovery_codes_staff ON recovery_codes (staff_id);

-- Evidence for HR: immutable once written.
CREATE TABLE nda_acks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id    INTEGER NOT NULL REFERENCES staff (id),
    version     TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    text_sha256 TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    address     TEXT    NOT NULL,
    user_agent  TEXT    NOT NULL,
    UNIQUE (staff_id, version)
);
CREATE TRIGGER nda_acks_no_update BEFORE UPDATE ON nda_acks
BEGIN SELECT RAISE(ABORT, 'NDA acknowledgements are immutable'); END;
CREATE TRIGGER nda_acks_no_delete BEFORE DELETE ON nda_acks
BEGIN SELECT RAISE(ABORT, 'NDA acknowledgements are immutable'); END;

-- When this session passed the second factor (NULL: not yet).
ALTER TABLE sessions ADD COLUMN totp_at INTEGER;
