-- A provider session's refresh token, sealed like channel secrets, and when it was last
-- refreshed: staffgate asks the provider on an interval whether the person is still there.
ALTER TABLE sessions ADD COLUMN idp_refresh BLOB;
ALTER TABLE sessions ADD COLUMN idp_refreshed_at INTEGER;
