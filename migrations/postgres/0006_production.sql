-- Replicas announce themselves and how far they applied the change log.
CREATE TABLE replicas (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    heartbeat_at BIGINT  NOT NULL,
    -- The last moment it had applied everything in the log (its own clock).
    caught_up_at BIGINT  NOT NULL,
    applied_seq  BIGINT  NOT NULL,
    stopped_at   BIGINT
);

-- Which replica applied which access-removing change, and when: propagation receipts.
CREATE TABLE replica_acks (
    seq        BIGINT  NOT NULL,
    replica_id TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL,
    PRIMARY KEY (seq, replica_id)
);

-- One holder per background job at a time.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);

-- Mail waiting for the SMTP relay, written in the transaction of what it reports.
CREATE TABLE mail_outbox (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    -- One mail per (kind, subject of the mail): an NDA reminder is not sent twice.
    dedupe     TEXT    UNIQUE,
    recipients TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    body_text  TEXT    NOT NULL,
    body_html  TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    next_at    BIGINT  NOT NULL,
    attempts   BIGINT  NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at    BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_at);
