-- The unattended wall (issue 14). A wall display session is a read-only identity of its own: a
-- dedicated account (user_id: role operator, a random password nobody knows, the wall's region as
-- jurisdiction) whose one long-lived token the wall keeps. Revoking the session deactivates the
-- account and bumps its token version in the same transaction, so the token stops at once (the
-- in-memory sessions disconnect its sockets). Runs unchanged on PostgreSQL 15 and PGlite.
CREATE TABLE wall_sessions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  user_id bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  region_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  created_by bigint REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_by bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX wall_sessions_region_idx ON wall_sessions (region_code);

-- The wall's rotation (轮播), per account: an operator's own wall, or a wall session's account.
-- One JSON document (shared/wall-api.ts WallCarousel), validated by the API before it is stored.
CREATE TABLE wall_settings (
  user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  carousel jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
