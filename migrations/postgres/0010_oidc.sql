-- OpenID Connect sign-in (issue 13).

-- A sign-in started at a provider and not yet back: looked up once by the hash of its
-- state, bound to the browser that started it, gone after 10 minutes. The nonce and the
-- PKCE verifier are sealed like channel secrets.
CREATE TABLE oidc_logins (
    state_hash   BYTEA    PRIMARY KEY,
    source       TEXT     NOT NULL,
    browser_hash BYTEA    NOT NULL,
    sealed       BYTEA    NOT NULL,
    created_at   BIGINT     NOT NULL,
    expires_at   BIGINT     NOT NULL
);

-- Which provider session a staffgate session came from, and how its second factor was met
-- ('totp', or 'idp:<amr or acr>').
ALTER TABLE sessions ADD COLUMN idp_source TEXT;
ALTER TABLE sessions ADD COLUMN idp_sub TEXT;
ALTER TABLE sessions ADD COLUMN idp_sid TEXT;
ALTER TABLE sessions ADD COLUMN factor TEXT;
CREATE INDEX sessions_idp ON sessions (idp_source, idp_sub);

-- The session a token was issued from, so a provider's logout of that session revokes it.
ALTER TABLE tokens ADD COLUMN session_id BIGINT;
CREATE INDEX tokens_session ON tokens (session_id) WHERE session_id IS NOT NULL;

-- Logout tokens seen, so one is never applied twice (kept past its freshness window).
CREATE TABLE oidc_logout_jtis (
    source     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT   NOT NULL,
    PRIMARY KEY (source, jti)
);
