-- Core tables. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE staff (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT    NOT NULL UNIQUE,
    email        TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'offboarded')),
    epoch        INTEGER NOT NULL DEFAULT 0,
    source       TEXT    NOT NULL DEFAULT 'manual',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE staff_groups (
    staff_id   INTEGER NOT NULL REFERENCES staff (id),
    group_name TEXT    NOT NULL,
    PRIMARY KEY (staff_id, group_name)
);

CREATE TABLE channels (
    id            TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,
    upstream      TEXT    NOT NULL,
    config        TEXT    NOT NULL,
    secret_sealed BLOB,
    secret_set_at INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         BLOB    NOT NULL UNIQUE,
    staff_id     INTEGER NOT NULL REFERENCES staff (id),
    channel_id   TEXT    NOT NULL REFERENCES channels (id),
    actions      TEXT    NOT NULL,
    epoch        INTEGER NOT NULL,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    issued_by    TEXT    NOT NULL,
    revoked_at   INTEGER,
    revoked_why  TEXT,
    last_used_at INTEGER
);
CREATE INDEX tokens_staff ON tokens (staff_id, channel_id);
CREATE INDEX tokens_live ON tokens (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         BLOB    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'hr', 'auditor')),
    staff_id     INTEGER REFERENCES staff (id),
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

-- Server-side sign-in sessions (filled by the sign-in issues; offboarding already ends them).
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    hash       BLOB    NOT NULL UNIQUE,
    staff_id   INTEGER NOT NULL REFERENCES staff (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE offboardings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    staff_id   INTEGER NOT NULL REFERENCES staff (id),
    at         INTEGER NOT NULL,
    receipt    TEXT    NOT NULL
);
CREATE INDEX offboardings_staff ON offboardings (staff_id, id);

CREATE TABLE activity (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    token_id   INTEGER NOT NULL,
    staff_id   INTEGER NOT NULL,
    channel_id TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    bytes_in   INTEGER NOT NULL,
    bytes_out  INTEGER NOT NULL
);
CREATE INDEX activity_pair ON activity (staff_id, channel_id, at);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    event     TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);

-- One row: the chain's head. Appending updates it first, which serialises appenders.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
