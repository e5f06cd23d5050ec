-- Directory sync and sign-in.
-- Where a person lives in their source directory, and the extra attributes policies see.
ALTER TABLE staff ADD COLUMN external_dn TEXT;
ALTER TABLE staff ADD COLUMN external_id TEXT;
ALTER TABLE staff ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
CREATE INDEX staff_by_source ON staff (source);

-- One row per configured source: its resume cookie and what its last run did.
CREATE TABLE sync_sources (
    source      TEXT    PRIMARY KEY,
    cookie      BYTEA,
    state       TEXT    NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Plans the mass-deprovisioning guard held back, and what became of them.
CREATE TABLE sync_plans (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    plan        TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('held', 'applied', 'superseded')),
    decided_by  TEXT,
    decided_at  BIGINT
);

-- Failed sign-ins, counted per account and per address for rate limiting.
CREATE TABLE login_failures (
    id       BIGSERIAL PRIMARY KEY,
    at       BIGINT NOT NULL,
    account  TEXT    NOT NULL,
    address  TEXT    NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, at);
CREATE INDEX login_failures_address ON login_failures (address, at);

ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
