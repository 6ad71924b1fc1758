-- Statistics (issue 12): what the KPI module (server/modules/stats) reads quickly over a year of
-- history, the 回访 satisfaction step on closing, and the grid assessment's weights. Runs unchanged on
-- PostgreSQL 15 + PostGIS 3.3 and on PGlite.

-- 回访: the resident's rating when the ticket is closed (满意 / 基本满意 / 不满意); null when not asked.
ALTER TABLE tickets ADD COLUMN satisfaction text CHECK (satisfaction IN ('satisfied', 'basic', 'unsatisfied'));
ALTER TABLE tickets ADD COLUMN satisfaction_at timestamptz;

-- 返工: how many times the ticket went back for rework (核查不通过 'rework', or 'reopened' after a
-- close), kept current by a trigger on the timeline so every writer (service, seeds, simulator) counts.
ALTER TABLE tickets ADD COLUMN reworks integer NOT NULL DEFAULT 0;
UPDATE tickets t SET reworks = e.n
  FROM (SELECT ticket_id, count(*)::int AS n FROM ticket_events WHERE kind IN ('reopened', 'rework') GROUP BY ticket_id) e
 WHERE e.ticket_id = t.id;

CREATE FUNCTION tickets_count_rework() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tickets SET reworks = reworks + 1 WHERE id = NEW.ticket_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER ticket_events_rework AFTER INSERT ON ticket_events
  FOR EACH ROW WHEN (NEW.kind IN ('reopened', 'rework')) EXECUTE FUNCTION tickets_count_rework();

-- The KPI query takes every ticket with a stage stamp (or its closing deadline) inside the window,
-- as a BitmapOr over these ranges (received_at and closed_at are indexed by 004).
CREATE INDEX tickets_due_idx ON tickets (due_at) WHERE status <> 'cancelled';
CREATE INDEX tickets_registered_idx ON tickets (registered_at) WHERE registered_at IS NOT NULL;
CREATE INDEX tickets_dispatched_idx ON tickets (dispatched_at) WHERE dispatched_at IS NOT NULL;
CREATE INDEX tickets_accepted_idx ON tickets (accepted_at) WHERE accepted_at IS NOT NULL;
CREATE INDEX tickets_resolved_idx ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;

-- 网格考核: the indicators of the monthly score and their weights, data an administrator edits
-- (PUT /api/stats/assessment/weights). A score is Σ weight × indicator ÷ Σ weight over the indicators
-- that have a value, on a 0–100 scale. `higher_better` false inverts the indicator (返工率).
-- `target` (for counts such as 上报数) is the monthly figure that earns full marks.
CREATE TABLE assessment_weights (
  indicator text PRIMARY KEY CHECK (indicator IN ('closedOnTimeRate', 'closeRate', 'registeredOnTimeRate',
    'dispatchedOnTimeRate', 'handledOnTimeRate', 'reportCount', 'patrolCoverage', 'onlineRate',
    'satisfactionRate', 'reworkRate')),
  weight double precision NOT NULL CHECK (weight >= 0 AND weight <= 100),
  higher_better boolean NOT NULL DEFAULT true,
  target double precision CHECK (target IS NULL OR target > 0),
  sort_order integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by bigint REFERENCES users (id) ON DELETE SET NULL
);

INSERT INTO assessment_weights (indicator, weight, higher_better, target, sort_order) VALUES
  ('closedOnTimeRate', 30, true, NULL, 1),
  ('reportCount', 15, true, 60, 2),
  ('patrolCoverage', 15, true, NULL, 3),
  ('onlineRate', 10, true, NULL, 4),
  ('satisfactionRate', 20, true, NULL, 5),
  ('reworkRate', 10, false, NULL, 6);

-- Open tickets by place, for 超期 now (a small partial index: most of a year's tickets are closed).
CREATE INDEX tickets_open_path_idx ON tickets (grid_path text_pattern_ops) WHERE status NOT IN ('closed', 'cancelled');

-- Open tickets by closing deadline: the open part of 应结案 (open tickets past due in the window).
CREATE INDEX tickets_open_due_idx ON tickets (due_at) WHERE status NOT IN ('closed', 'cancelled');

-- Durations are kept to a resolution that keeps the daily histograms small: the minute below 1 h,
-- 5 min below 4 h, 15 min below 12 h, the hour below 2 days, 6 h beyond.
CREATE FUNCTION kpi_minutes_bucket(m double precision) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT (CASE WHEN m < 60 THEN floor(m)
               WHEN m < 240 THEN floor(m / 5) * 5
               WHEN m < 720 THEN floor(m / 15) * 15
               WHEN m < 2880 THEN floor(m / 60) * 60
               ELSE floor(m / 360) * 360 END)::integer
$$;

-- Daily rollups (Shanghai calendar days) per district, street and community: what a ticket did that
-- day — received, registered, dispatched, accepted, resolved, closed — with the on-time flags and
-- the duration histograms ({"minutes": count}). Grid and worker levels are computed from the tickets.
CREATE TABLE ticket_kpi_daily (
  day date NOT NULL,
  region_code text NOT NULL,
  received integer NOT NULL,
  reg_n integer NOT NULL, reg_ok integer NOT NULL,
  disp_n integer NOT NULL, disp_ok integer NOT NULL,
  res_n integer NOT NULL, res_ok integer NOT NULL,
  closed integer NOT NULL, on_time integer NOT NULL, reworked integer NOT NULL, rated integer NOT NULL, satisfied integer NOT NULL,
  acc jsonb NOT NULL, dsp jsonb NOT NULL, rsp jsonb NOT NULL, hdl jsonb NOT NULL,
  PRIMARY KEY (region_code, day)
);

-- Which days' rollups are stale: every change to a ticket bumps the version of each day it touches
-- (before and after the change); a read recomputes the days whose version moved since.
CREATE TABLE ticket_kpi_days (
  day date PRIMARY KEY,
  version bigint NOT NULL DEFAULT 1,
  computed_version bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION ticket_kpi_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO ticket_kpi_days AS d (day)
    SELECT DISTINCT ((s AT TIME ZONE 'UTC') + interval '8 hours')::date
      FROM old_rows o CROSS JOIN LATERAL (VALUES (o.received_at), (o.registered_at), (o.dispatched_at), (o.accepted_at), (o.resolved_at), (o.closed_at)) v(s)
     WHERE s IS NOT NULL
    ON CONFLICT (day) DO UPDATE SET version = d.version + 1;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO ticket_kpi_days AS d (day)
    SELECT DISTINCT ((s AT TIME ZONE 'UTC') + interval '8 hours')::date
      FROM new_rows n CROSS JOIN LATERAL (VALUES (n.received_at), (n.registered_at), (n.dispatched_at), (n.accepted_at), (n.resolved_at), (n.closed_at)) v(s)
     WHERE s IS NOT NULL
    ON CONFLICT (day) DO UPDATE SET version = d.version + 1;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER tickets_kpi_insert AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ticket_kpi_touch();
CREATE TRIGGER tickets_kpi_update AFTER UPDATE ON tickets REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ticket_kpi_touch();
CREATE TRIGGER tickets_kpi_delete AFTER DELETE ON tickets REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ticket_kpi_touch();

-- Tickets already there (an upgraded database): their days are stale until first read.
INSERT INTO ticket_kpi_days (day)
SELECT DISTINCT ((s AT TIME ZONE 'UTC') + interval '8 hours')::date
  FROM tickets t CROSS JOIN LATERAL (VALUES (t.received_at), (t.registered_at), (t.dispatched_at), (t.accepted_at), (t.resolved_at), (t.closed_at)) v(s)
 WHERE s IS NOT NULL
ON CONFLICT (day) DO NOTHING;
