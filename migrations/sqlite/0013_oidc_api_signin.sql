-- Sign-in for API clients (a CLI, a script): the client starts it and gets a handle; the
-- person signs in at the provider in any browser; the callback, which cannot give that
-- browser's session to the client, shows a short pickup code instead; the client trades
-- handle and code for the session, once.
ALTER TABLE oidc_logins ADD COLUMN for_api INTEGER NOT NULL DEFAULT 0;
CREATE TABLE oidc_pickups (
    handle_hash BLOB PRIMARY KEY,
    source      TEXT    NOT NULL,
    code_hash   BLOB NOT NULL,
    -- The session's id and what the client is handed, sealed under the master key.
    session_id  INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL
);
