-- Video consults (可视会商): one Janus room per consult, created by the server with a fresh pin and
-- secret; the people invited (workers' accounts, desks, leaders) and what each did. The consult's
-- jurisdiction (`region_path`) is its ticket's or alarm's grid, else the first invited worker's home
-- grid, else the caller's region. Runs unchanged on PostgreSQL 15 and PGlite.
CREATE TABLE consults (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  status text NOT NULL DEFAULT 'ringing' CHECK (status IN ('ringing', 'active', 'ended')),
  room bigint NOT NULL,
  -- The room's pin and management secret (Janus's; never sent to a browser except the pin in a grant).
  room_pin text NOT NULL,
  room_secret text NOT NULL,
  ticket_id bigint REFERENCES tickets (id) ON DELETE SET NULL,
  alarm_id bigint REFERENCES alarms (id) ON DELETE SET NULL,
  region_path text NOT NULL,
  -- Where the matter is (the wall shows the consult's tile there); null when nothing places it.
  geom geometry(Point, 4326),
  created_by bigint REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL,
  -- When the first invitee answered.
  started_at timestamptz,
  ended_at timestamptz,
  ended_by bigint REFERENCES users (id) ON DELETE SET NULL,
  end_reason text CHECK (end_reason IN ('ended', 'declined', 'no_answer', 'everyone_left', 'server_restart'))
);
CREATE INDEX consults_open_idx ON consults (id DESC) WHERE status <> 'ended';
CREATE INDEX consults_path_idx ON consults (region_path text_pattern_ops, id DESC);

CREATE TABLE consult_participants (
  consult_id bigint NOT NULL REFERENCES consults (id) ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  worker_id bigint REFERENCES workers (id) ON DELETE SET NULL,
  -- caller: started it; invitee: was rung; joiner: joined a running consult (a leader) or watches (the wall).
  role text NOT NULL CHECK (role IN ('caller', 'invitee', 'joiner')),
  state text NOT NULL CHECK (state IN ('ringing', 'joined', 'declined', 'no_answer', 'left')),
  invited_at timestamptz NOT NULL,
  answered_at timestamptz,
  joined_at timestamptz,
  left_at timestamptz,
  PRIMARY KEY (consult_id, user_id)
);
CREATE INDEX consult_participants_user_idx ON consult_participants (user_id, consult_id DESC);

-- A consult is recorded on its alarm's timeline too (tickets' timeline kinds are not constrained).
ALTER TABLE alarm_events DROP CONSTRAINT alarm_events_kind_check;
ALTER TABLE alarm_events ADD CONSTRAINT alarm_events_kind_check
  CHECK (kind IN ('raised', 'repeated', 'acknowledged', 'dispatched', 'resolved', 'false_alarm', 'consult'));
