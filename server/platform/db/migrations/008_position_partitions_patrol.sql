-- Position history that lasts: worker_positions partitioned by Shanghai calendar day, so retention
-- drops whole partitions (POSITION_RETENTION_DAYS) instead of deleting rows, and a day's queries touch
-- one partition. The job runner creates partitions ahead (worker_positions_pYYYYMMDD, bounds at
-- 00:00+08); a default partition catches anything else (a fix for a day not yet created). The primary
-- key stays (worker_id, recorded_at), so the writer's ON CONFLICT (worker_id, recorded_at) keeps
-- recognising resends. Runs unchanged on PostgreSQL 15 and PGlite (PostgreSQL 18).
--
-- Patrol coverage (巡查覆盖): micro-grids touched by each worker's track per closed hour, and the
-- worker's distance and time inside their own grid per hour, written by the patrol job.

ALTER TABLE worker_positions RENAME TO worker_positions_unpartitioned;
ALTER INDEX worker_positions_pkey RENAME TO worker_positions_unpartitioned_pkey;
ALTER INDEX worker_positions_time_brin RENAME TO worker_positions_unpartitioned_time_brin;
ALTER TABLE worker_positions_unpartitioned RENAME CONSTRAINT worker_positions_worker_id_fkey TO worker_positions_unpartitioned_worker_id_fkey;

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
) PARTITION BY RANGE (recorded_at);
CREATE INDEX worker_positions_time_brin ON worker_positions USING brin (recorded_at);
CREATE TABLE worker_positions_default PARTITION OF worker_positions DEFAULT;

-- One partition per Shanghai day that already holds fixes (none on a fresh database), then the rows.
DO $$
DECLARE
  d date;
BEGIN
  FOR d IN SELECT DISTINCT ((recorded_at AT TIME ZONE 'UTC') + interval '8 hours')::date FROM worker_positions_unpartitioned LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF worker_positions FOR VALUES FROM (%L) TO (%L)',
      'worker_positions_p' || to_char(d, 'YYYYMMDD'), d::text || ' 00:00:00+08', (d + 1)::text || ' 00:00:00+08');
  END LOOP;
END
$$;
INSERT INTO worker_positions SELECT * FROM worker_positions_unpartitioned;
DROP TABLE worker_positions_unpartitioned;

-- Micro-grids a worker's track touched (buffered 15 m, gap- and jump-free segments only), per hour.
CREATE TABLE patrol_visits (
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  hour_start timestamptz NOT NULL,
  -- The Shanghai calendar day of the hour.
  day date NOT NULL,
  micro_grid_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  PRIMARY KEY (worker_id, hour_start, micro_grid_code)
);
CREATE INDEX patrol_visits_day_idx ON patrol_visits (day, micro_grid_code);

-- Per worker and hour: distance over valid segments, and time spent inside the worker's own grid.
CREATE TABLE patrol_worker_hours (
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  hour_start timestamptz NOT NULL,
  day date NOT NULL,
  distance_m double precision NOT NULL,
  inside_own_s double precision NOT NULL,
  PRIMARY KEY (worker_id, hour_start)
);
CREATE INDEX patrol_worker_hours_day_idx ON patrol_worker_hours (day);

-- Hours the job has computed (recomputing one replaces its rows).
CREATE TABLE patrol_hours_done (
  hour_start timestamptz PRIMARY KEY,
  computed_at timestamptz NOT NULL,
  segments integer NOT NULL
);
