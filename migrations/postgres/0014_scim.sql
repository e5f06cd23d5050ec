-- SCIM 2.0 push sources (issue 14).

-- Bearer tokens a source's identity provider presents: hashes only, revocable.
CREATE TABLE scim_tokens (
    id           BIGSERIAL PRIMARY KEY,
    source       TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

-- Users as the provider pushed them. The person is the staff row of origin scim:<source>
-- whose external_id is this id. A deleted user keeps its row (deleted_at) until an admin
-- has confirmed any held plan that names it.
CREATE TABLE scim_users (
    source      TEXT NOT NULL,
    id          TEXT NOT NULL,
    doc         TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    external_id TEXT,
    active      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    deleted_at  BIGINT,
    PRIMARY KEY (source, id)
);
CREATE UNIQUE INDEX scim_users_name ON scim_users (source, user_name) WHERE deleted_at IS NULL;
CREATE INDEX scim_users_external ON scim_users (source, external_id);

CREATE TABLE scim_groups (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    external_id  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE UNIQUE INDEX scim_groups_name ON scim_groups (source, display_name);

CREATE TABLE scim_members (
    source   TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (source, group_id, user_id)
);
CREATE INDEX scim_members_user ON scim_members (source, user_id);
