-- When the directory says an account ends by itself (accountExpires, pwdEndTime,
-- krbPrincipalExpiration), in Unix ms: the scheduled offboarding it made is kept in step.
ALTER TABLE staff ADD COLUMN expires_at BIGINT;
