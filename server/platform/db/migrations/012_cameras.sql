-- Video surveillance (视频监控): public cameras as data. A camera lies in the smallest region that
-- holds its point (path for jurisdiction, like everything else) and in a grid when one holds it.
-- source_url (with any credentials) is the server's only: the API never sends it to browsers.
CREATE TABLE cameras (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('high_point', 'junction', 'entrance', 'indoor')),
  region_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  path text NOT NULL,
  grid_code text REFERENCES regions (code) ON DELETE SET NULL,
  geom geometry(Point, 4326) NOT NULL,
  -- Compass bearing it faces (degrees from north) and its horizontal field of view; null when unknown.
  bearing double precision CHECK (bearing >= 0 AND bearing <= 360),
  fov_deg double precision CHECK (fov_deg > 0 AND fov_deg <= 360),
  status text NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
  status_reason text,
  checked_at timestamptz,
  source_type text NOT NULL CHECK (source_type IN ('rtsp', 'hls', 'gb28181', 'demo')),
  source_url text NOT NULL,
  codec text NOT NULL DEFAULT 'h264' CHECK (codec IN ('h264', 'h265')),
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cameras_gix ON cameras USING gist (geom);
CREATE INDEX cameras_path_idx ON cameras (path text_pattern_ops);
