-- Core tables. Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE staff (
    id           BIGSERIAL PRIMARY KEY,
    username     TEXT    NOT NULL UNIQUE,
    email        TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'offboarded')),
    epoch        BIGINT NOT NULL DEFAULT 0,
    source       TEXT    NOT NULL DEFAULT 'manual',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE staff_groups (
    staff_id   BIGINT NOT NULL REFERENCES staff (id),
    group_name TEXT    NOT NULL,
    PRIMARY KEY (staff_id, group_name)
);

CREATE TABLE channels (
    id            TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,
    upstream      TEXT    NOT NULL,
    config        TEXT    NOT NULL,
    secret_sealed BYTEA,
    secret_set_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE tokens (
    id           BIGSERIAL PRIMARY KEY,
    hash         BYTEA    NOT NULL UNIQUE,
    staff_id     BIGINT NOT NULL REFERENCES staff (id),
    channel_id   TEXT    NOT NULL REFERENCES channels (id),
    actions      TEXT    NOT NULL,
    epoch        BIGINT NOT NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    issued_by    TEXT    NOT NULL,
    revoked_at   BIGINT,
    revoked_why  TEXT,
    last_used_at BIGINT
);
CREATE INDEX tokens_staff ON tokens (staff_id, channel_id);
CREATE INDEX tokens_live ON tokens (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE api_keys (
    id           BIGSERIAL PRIMARY KEY,
    hash         BYTEA    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'hr', 'auditor')),
    staff_id     BIGINT REFERENCES staff (id),
    created_at   BIGINT NOT NULL,
    created_by   TEXT    NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

-- Server-side sign-in sessions (filled by the sign-in issues; offboarding already ends them).
CREATE TABLE sessions (
    id         BIGSERIAL PRIMARY KEY,
    hash       BYTEA    NOT NULL UNIQUE,
    staff_id   BIGINT NOT NULL REFERENCES staff (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE offboardings (
    id         BIGSERIAL PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff (id),
    at         BIGINT NOT NULL,
    receipt    TEXT    NOT NULL
);
CREATE INDEX offboardings_staff ON offboardings (staff_id, id);

CREATE TABLE activity (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    token_id   BIGINT NOT NULL,
    staff_id   BIGINT NOT NULL,
    channel_id TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    status     BIGINT NOT NULL,
    latency_us BIGINT NOT NULL,
    bytes_in   BIGINT NOT NULL,
    bytes_out  BIGINT NOT NULL
);
CREATE INDEX activity_pair ON activity (staff_id, channel_id, at);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT    NOT NULL,
    event     TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);

-- One row: the chain's head. Appending updates it first, which serialises appenders.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
