-- First login: TOTP, recovery codes, NDA acknowledgements, per-session second factor.
CREATE TABLE totp (
    staff_id     BIGINT PRIMARY KEY REFERENCES staff (id),
    seed_sealed  BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT
);

-- Every accepted time step, once per person: the primary key is the replay protection,
-- shared by every replica through the database.
CREATE TABLE totp_steps (
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    step     BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (staff_id, step)
);

CREATE TABLE totp_failures (
    id       BIGSERIAL PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff (id),
    at       BIGINT NOT NULL
);
CREATE INDEX totp_failures_staff ON totp_failures (staff_id, at);

CREATE TABLE recovery_codes (
    id         BIGSERIAL PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff (id),
    hash       BYTEA  NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_staff ON recovery_codes (staff_id);

-- Evidence for HR: immutable once written.
CREATE TABLE nda_acks (
    id          BIGSERIAL PRIMARY KEY,
    staff_id    BIGINT NOT NULL REFERENCES staff (id),
    version     TEXT   NOT NULL,
    language    TEXT   NOT NULL,
    text_sha256 TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    address     TEXT   NOT NULL,
    user_agent  TEXT   NOT NULL,
    UNIQUE (staff_id, version)
);
CREATE FUNCTION nda_acks_immutable() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'NDA acknowledgements are immutable'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER nda_acks_no_change BEFORE UPDATE OR DELETE ON nda_acks
FOR EACH ROW EXECUTE FUNCTION nda_acks_immutable();

-- When this session passed the second factor (NULL: not yet).
ALTER TABLE sessions ADD COLUMN totp_at BIGINT;
