-- Emergency mode (平战结合): an emergency declared by a leader over an area; the grids inside it
-- (with running counts of the call-up, updated in the same transaction as each acknowledgement or
-- report-in, so live counts never aggregate thousands of rows); one call-up row per grid worker and
-- party member called; and the resources (shelters, supply points, teams) an admin keeps as data.
-- Runs unchanged on PostgreSQL 15 and PGlite.
CREATE TABLE emergencies (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('flood', 'fire', 'epidemic', 'public_order', 'other')),
  level smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
  note text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
  -- The declaring leader's jurisdiction at the time (who may close it: a leader covering this path).
  region_code text NOT NULL REFERENCES regions (code),
  path text NOT NULL,
  area_regions jsonb NOT NULL DEFAULT '[]',
  drawn boolean NOT NULL DEFAULT false,
  area geometry(MultiPolygon, 4326) NOT NULL,
  declared_by bigint REFERENCES users (id) ON DELETE SET NULL,
  declared_by_name text NOT NULL,
  declared_at timestamptz NOT NULL,
  closed_by bigint REFERENCES users (id) ON DELETE SET NULL,
  closed_at timestamptz,
  notice_id bigint REFERENCES notices (id) ON DELETE SET NULL,
  -- The after-action report, written when it is closed.
  report jsonb
);
CREATE INDEX emergencies_active_idx ON emergencies (id DESC) WHERE status = 'active';

CREATE TABLE emergency_grids (
  emergency_id bigint NOT NULL REFERENCES emergencies (id) ON DELETE CASCADE,
  grid_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  grid_path text NOT NULL,
  -- The grid's interior point (labels on the map), found once when the emergency is declared.
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  called integer NOT NULL DEFAULT 0,
  acknowledged integer NOT NULL DEFAULT 0,
  reported_in integer NOT NULL DEFAULT 0,
  party_called integer NOT NULL DEFAULT 0,
  party_reported_in integer NOT NULL DEFAULT 0,
  first_reported_in_at timestamptz,
  PRIMARY KEY (emergency_id, grid_code)
);
-- Which emergencies meet a jurisdiction: a prefix match on the grid's path.
CREATE INDEX emergency_grids_path_idx ON emergency_grids (grid_path text_pattern_ops, emergency_id);

CREATE TABLE emergency_callups (
  emergency_id bigint NOT NULL REFERENCES emergencies (id) ON DELETE CASCADE,
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  grid_code text NOT NULL,
  party boolean NOT NULL,
  called_at timestamptz NOT NULL,
  acknowledged_at timestamptz,
  reported_in_at timestamptz,
  reported_in_geom geometry(Point, 4326),
  PRIMARY KEY (emergency_id, worker_id)
);
CREATE INDEX emergency_callups_worker_idx ON emergency_callups (worker_id, emergency_id DESC);

CREATE TABLE emergency_resources (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('shelter', 'supply_point', 'team')),
  name text NOT NULL,
  -- The region it lies in (found from the point) and its path, for jurisdiction.
  region_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  path text NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  capacity integer CHECK (capacity >= 0),
  headcount integer CHECK (headcount >= 0),
  contact text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Nearest to a clicked point: KNN (ORDER BY geom <-> point) over this index.
CREATE INDEX emergency_resources_gix ON emergency_resources USING gist (geom);
CREATE INDEX emergency_resources_path_idx ON emergency_resources (path text_pattern_ops);
