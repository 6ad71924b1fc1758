-- Foundation schema: territory, work force, devices, positions, accounts, audit.
-- Written for both PostgreSQL 15 + PostGIS 3.3 (server) and PGlite (PostgreSQL 18 + PostGIS 3.6).
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE app_settings (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Territory: each level tiles its parent. `path` is the materialised ancestry ('/140106/140106001/…/'),
-- which is what jurisdiction filters match on (one index, one predicate for every table).
CREATE TABLE regions (
  code text PRIMARY KEY,
  name text NOT NULL,
  level text NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid', 'micro_grid')),
  parent_code text REFERENCES regions (code) ON DELETE CASCADE,
  path text NOT NULL UNIQUE,
  households integer,
  geom geometry(MultiPolygon, 4326) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX regions_geom_gix ON regions USING gist (geom);
CREATE INDEX regions_parent_idx ON regions (parent_code);
CREATE INDEX regions_level_idx ON regions (level);
CREATE INDEX regions_path_idx ON regions (path text_pattern_ops);

-- The work force ("专兼辅") and party members registered to grids (inactive reserve until mobilised).
CREATE TABLE workers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  phone text NOT NULL,
  role text NOT NULL CHECK (role IN ('grid_leader', 'full_time', 'part_time', 'auxiliary', 'party_member')),
  home_grid_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_grid_idx ON workers (home_grid_code);
CREATE INDEX workers_role_idx ON workers (role);

-- Phones and trackers. `identifier` is what the device sends (OsmAnd `id`, IMEI); `token_hash` for
-- devices that authenticate with a bearer token.
CREATE TABLE devices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  worker_id bigint REFERENCES workers (id) ON DELETE CASCADE,
  identifier text NOT NULL UNIQUE,
  kind text NOT NULL DEFAULT 'phone' CHECK (kind IN ('phone', 'tracker', 'simulated')),
  token_hash text,
  last_seen_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_worker_idx ON devices (worker_id);

-- The newest position per worker (upserted in batches; an out-of-order fix never replaces it).
CREATE TABLE worker_positions_latest (
  worker_id bigint PRIMARY KEY REFERENCES workers (id) ON DELETE CASCADE,
  device_id bigint REFERENCES devices (id) ON DELETE SET NULL,
  recorded_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  speed real,
  heading real,
  accuracy real,
  battery real,
  flags integer NOT NULL DEFAULT 0
);
CREATE INDEX worker_positions_latest_gix ON worker_positions_latest USING gist (geom);

-- Position history: one row per fix, keyed by (worker, time) so a resent fix is recognised as a
-- duplicate. Time ranges per worker use the primary key; BRIN keeps whole-district time scans cheap.
CREATE TABLE worker_positions (
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  recorded_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  speed real,
  heading real,
  accuracy real,
  battery real,
  flags integer NOT NULL DEFAULT 0,
  PRIMARY KEY (worker_id, recorded_at)
);
CREATE INDEX worker_positions_time_brin ON worker_positions USING brin (recorded_at);

-- Platform accounts; each user is scoped to a jurisdiction region.
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL UNIQUE,
  display_name text NOT NULL,
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'leader', 'dispatcher', 'operator', 'worker')),
  region_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  worker_id bigint REFERENCES workers (id) ON DELETE SET NULL,
  -- True while the password is the seeded demo one; production refuses to start while any is.
  demo_password boolean NOT NULL DEFAULT false,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  action text NOT NULL,
  subject_type text,
  subject_id text,
  detail jsonb,
  ip text
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id);
