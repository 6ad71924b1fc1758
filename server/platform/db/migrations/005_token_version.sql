-- Revocation of login tokens. Every token carries its user's token_version (claim `ver`); the
-- server keeps each user's current version and active flag in memory and refuses a token whose
-- version is not current. Deactivation and a change of password, role, jurisdiction or worker
-- bump it, so the user's tokens stop at once. Runs unchanged on PostgreSQL 15 and PGlite.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;

-- The signing secret no longer lives in the database it protects (a dump or a read-only leak of
-- the database would let anyone sign tokens): it comes from JWT_SECRET, JWT_SECRET_FILE or a key
-- file in DATA_DIR. Tokens signed with the old secret stop working; users sign in again once.
DELETE FROM app_settings WHERE key = 'jwt_secret';
