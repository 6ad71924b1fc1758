-- Alarms (一键报警): records, not a flag on the worker's live state. A routine fix never clears one;
-- people move it on: raised → acknowledged → resolved | false_alarm. One open alarm of a kind per
-- worker: a second SOS while one is open joins it (a 'repeated' timeline entry). The jurisdiction
-- is the worker's home grid (`grid_path`), so the desks responsible for the worker see it wherever
-- they are. Runs unchanged on PostgreSQL 15 and PGlite.
CREATE TABLE alarms (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('sos', 'geofence', 'low_battery', 'no_signal')),
  status text NOT NULL DEFAULT 'raised' CHECK (status IN ('raised', 'acknowledged', 'resolved', 'false_alarm')),
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  grid_code text NOT NULL REFERENCES regions (code),
  grid_path text NOT NULL,
  -- Where the worker was when they raised it (the newest position of a repeat replaces it).
  geom geometry(Point, 4326) NOT NULL,
  accuracy real,
  source text NOT NULL CHECK (source IN ('device', 'app')),
  device_id bigint REFERENCES devices (id) ON DELETE SET NULL,
  raised_by_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  -- The device's (or phone's) time of the SOS; received_at is the server's.
  raised_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  repeats integer NOT NULL DEFAULT 0,
  last_repeated_at timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by bigint REFERENCES users (id) ON DELETE SET NULL,
  resolved_at timestamptz,
  resolved_by bigint REFERENCES users (id) ON DELETE SET NULL,
  -- The last note given with a transition (a false alarm's reason, how it was resolved).
  note text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The rule "one open alarm of a kind per worker", which also serialises concurrent raises.
CREATE UNIQUE INDEX alarms_open_uidx ON alarms (worker_id, kind) WHERE status IN ('raised', 'acknowledged');
CREATE INDEX alarms_path_idx ON alarms (grid_path text_pattern_ops, id DESC);
CREATE INDEX alarms_open_idx ON alarms (id DESC) WHERE status IN ('raised', 'acknowledged');

-- Client ids already seen per worker (the phone's offline queue, a device's resent fix): the same
-- one again answers with the alarm it raised or joined, and records nothing.
CREATE TABLE alarm_client_ids (
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  client_id text NOT NULL,
  alarm_id bigint NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
  PRIMARY KEY (worker_id, client_id)
);

-- The alarm's timeline.
CREATE TABLE alarm_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alarm_id bigint NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('raised', 'repeated', 'acknowledged', 'dispatched', 'resolved', 'false_alarm')),
  actor_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  note text,
  detail jsonb
);
CREATE INDEX alarm_events_alarm_idx ON alarm_events (alarm_id, id);

-- Tickets dispatched from an alarm (派最近人员): one per worker sent to the spot.
CREATE TABLE alarm_tickets (
  alarm_id bigint NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
  ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
  PRIMARY KEY (alarm_id, ticket_id)
);

-- The category of the tickets an alarm dispatches: help for a worker in danger.
INSERT INTO ticket_categories (code, parent_code, name, department_code, sort_order) VALUES
  ('safety.sos', 'safety', '网格员求助（一键报警）', 'emergency', 99)
ON CONFLICT (code) DO NOTHING;
