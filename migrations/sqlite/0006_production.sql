-- Replicas announce themselves and how far they applied the change log.
CREATE TABLE replicas (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    -- The last moment it had applied everything in the log (its own clock).
    caught_up_at INTEGER NOT NULL,
    applied_seq  INTEGER NOT NULL,
    stopped_at   INTEGER
);

-- Which replica applied which access-removing change, and when: propagation receipts.
CREATE TABLE replica_acks (
    seq        INTEGER NOT NULL,
    replica_id TEXT    NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (seq, replica_id)
);

-- One holder per background job at a time.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Mail waiting for the SMTP relay, written in the transaction of what it reports.
CREATE TABLE mail_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    -- One mail per (kind, subject of the mail): an NDA reminder is not sent twice.
    dedupe     TEXT    UNIQUE,
    recipients TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    body_text  TEXT    NOT NULL,
    body_html  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    next_at    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at    INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_at);
