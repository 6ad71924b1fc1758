-- Tickets (工单): categories and departments as data an administrator can change, deadline rules,
-- the tickets themselves with their timeline, photos (metadata; files live under DATA_DIR/photos)
-- and departments' 吹哨 replies. Runs unchanged on PostgreSQL 15 + PostGIS 3.3 and on PGlite.

-- The district centre's departments ("中心吹哨、部门报到": the centre blows the whistle, they report).
CREATE TABLE departments (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
  name text NOT NULL,
  full_name text NOT NULL,
  sort_order integer NOT NULL DEFAULT 0,
  active boolean NOT NULL DEFAULT true
);

INSERT INTO departments (code, name, full_name, sort_order) VALUES
  ('public_security', '公安', '区公安分局', 1),
  ('procuratorate', '检察', '区人民检察院', 2),
  ('court', '法院', '区人民法院', 3),
  ('justice', '司法', '区司法局', 4),
  ('hr_social', '人社', '区人力资源和社会保障局', 5),
  ('petition', '信访', '区信访局', 6),
  ('urban_management', '城管', '区城市管理局', 7),
  ('housing_construction', '住建', '区住房和城乡建设局', 8),
  ('municipal', '市政', '区市政公用局', 9),
  ('transport', '交通', '区交通运输局', 10),
  ('emergency', '应急', '区应急管理局', 11),
  ('health', '卫健', '区卫生健康局', 12),
  ('civil_affairs', '民政', '区民政局', 13);

-- Two levels: the five classes the centres count by, and sub-categories by domain. A ticket may name
-- either. `department_code` is where an escalation past the district centre goes by default.
CREATE TABLE ticket_categories (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*([.][a-z][a-z0-9_]*)?$'),
  parent_code text REFERENCES ticket_categories (code) ON UPDATE CASCADE,
  name text NOT NULL,
  department_code text REFERENCES departments (code) ON UPDATE CASCADE ON DELETE SET NULL,
  sort_order integer NOT NULL DEFAULT 0,
  active boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (parent_code IS NULL OR parent_code <> code)
);
CREATE INDEX ticket_categories_parent_idx ON ticket_categories (parent_code);

INSERT INTO ticket_categories (code, parent_code, name, department_code, sort_order) VALUES
  ('convenience', NULL, '便民惠企服务', 'civil_affairs', 1),
  ('safety', NULL, '安全隐患排查', 'emergency', 2),
  ('opinion', NULL, '社情民意收集', 'petition', 3),
  ('dispute', NULL, '矛盾纠纷化解', 'justice', 4),
  ('patrol', NULL, '重点巡查事项', 'urban_management', 5);

INSERT INTO ticket_categories (code, parent_code, name, department_code, sort_order) VALUES
  ('convenience.urban_construction', 'convenience', '城市建设', 'housing_construction', 1),
  ('convenience.housing', 'convenience', '住房保障', 'housing_construction', 2),
  ('convenience.municipal', 'convenience', '市政管理', 'municipal', 3),
  ('convenience.transport', 'convenience', '交通出行', 'transport', 4),
  ('convenience.city_appearance', 'convenience', '市容环境', 'urban_management', 5),
  ('convenience.employment', 'convenience', '就业社保', 'hr_social', 6),
  ('convenience.health', 'convenience', '医疗卫生', 'health', 7),
  ('convenience.elderly_care', 'convenience', '养老救助', 'civil_affairs', 8),
  ('convenience.enterprise', 'convenience', '惠企服务', 'hr_social', 9),
  ('safety.fire', 'safety', '消防安全', 'emergency', 1),
  ('safety.gas', 'safety', '燃气安全', 'municipal', 2),
  ('safety.building', 'safety', '房屋安全', 'housing_construction', 3),
  ('safety.road_traffic', 'safety', '道路交通安全', 'transport', 4),
  ('safety.production', 'safety', '安全生产', 'emergency', 5),
  ('safety.food_drug', 'safety', '食品药品安全', 'health', 6),
  ('safety.public_order', 'safety', '治安隐患', 'public_security', 7),
  ('opinion.suggestion', 'opinion', '意见建议', 'petition', 1),
  ('opinion.livelihood', 'opinion', '民生诉求', 'civil_affairs', 2),
  ('opinion.sentiment', 'opinion', '社会舆情', 'petition', 3),
  ('dispute.neighbour', 'dispute', '邻里纠纷', 'justice', 1),
  ('dispute.family', 'dispute', '婚姻家庭纠纷', 'justice', 2),
  ('dispute.property_management', 'dispute', '物业纠纷', 'housing_construction', 3),
  ('dispute.labour', 'dispute', '劳资纠纷', 'hr_social', 4),
  ('dispute.litigation', 'dispute', '涉诉纠纷', 'court', 5),
  ('patrol.illegal_construction', 'patrol', '违法建设', 'urban_management', 1),
  ('patrol.street_vending', 'patrol', '占道经营', 'urban_management', 2),
  ('patrol.sanitation', 'patrol', '环境卫生', 'urban_management', 3),
  ('patrol.key_persons', 'patrol', '重点人员', 'public_security', 4),
  ('patrol.key_places', 'patrol', '重点场所', 'emergency', 5),
  ('patrol.public_interest', 'patrol', '公益诉讼线索', 'procuratorate', 6);

-- Minutes allowed per stage and urgency (立刻办理 / 定期办理 / 长期推进). `close` is the overall deadline
-- from receipt, on which 按期结案率 is counted. Mirrors DEFAULT_DEADLINE_RULES in shared/tickets.ts.
CREATE TABLE ticket_deadline_rules (
  urgency text NOT NULL CHECK (urgency IN ('immediate', 'scheduled', 'long_term')),
  stage text NOT NULL CHECK (stage IN ('register', 'dispatch', 'accept', 'resolve', 'verify', 'close')),
  minutes integer NOT NULL CHECK (minutes > 0),
  PRIMARY KEY (urgency, stage)
);

INSERT INTO ticket_deadline_rules (urgency, stage, minutes) VALUES
  ('immediate', 'register', 10), ('immediate', 'dispatch', 10), ('immediate', 'accept', 10),
  ('immediate', 'resolve', 240), ('immediate', 'verify', 60), ('immediate', 'close', 1440),
  ('scheduled', 'register', 60), ('scheduled', 'dispatch', 120), ('scheduled', 'accept', 60),
  ('scheduled', 'resolve', 4320), ('scheduled', 'verify', 1440), ('scheduled', 'close', 7200),
  ('long_term', 'register', 240), ('long_term', 'dispatch', 1440), ('long_term', 'accept', 1440),
  ('long_term', 'resolve', 43200), ('long_term', 'verify', 4320), ('long_term', 'close', 86400);

-- Per-day sequence behind GD-YYYYMMDD-NNNN; the row lock serialises concurrent creations, so
-- numbers have no gaps and no duplicates.
CREATE TABLE ticket_number_counters (
  day text PRIMARY KEY CHECK (day ~ '^[0-9]{8}$'),
  last integer NOT NULL
);

CREATE TABLE tickets (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number text NOT NULL UNIQUE,
  source text NOT NULL CHECK (source IN ('patrol', 'resident', 'hotline', 'referral')),
  category_code text NOT NULL REFERENCES ticket_categories (code) ON UPDATE CASCADE,
  urgency text NOT NULL CHECK (urgency IN ('immediate', 'scheduled', 'long_term')),
  status text NOT NULL CHECK (status IN ('received', 'registered', 'dispatched', 'accepted', 'in_progress',
    'resolved', 'verified', 'closed', 'returned', 'escalated', 'cancelled')),
  description text NOT NULL,
  location geometry(Point, 4326) NOT NULL,
  -- The grid holding the location, resolved in PostGIS at creation (a point on a shared edge goes
  -- to the lowest code), and its path, which every jurisdiction filter matches on.
  grid_code text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
  grid_path text NOT NULL,
  level text NOT NULL DEFAULT 'grid' CHECK (level IN ('grid', 'community', 'street', 'district', 'department')),
  department_code text REFERENCES departments (code) ON UPDATE CASCADE,
  reporter_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  reporter_worker_id bigint REFERENCES workers (id) ON DELETE SET NULL,
  assigned_worker_id bigint REFERENCES workers (id) ON DELETE SET NULL,
  -- Set by the reporting app so a retried submission finds the ticket it already created.
  client_id text,
  -- The running stage's deadline window, and the overall 结案 deadline.
  stage text CHECK (stage IN ('register', 'dispatch', 'accept', 'resolve', 'verify', 'close')),
  stage_started_at timestamptz,
  stage_due_at timestamptz,
  due_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  registered_at timestamptz,
  dispatched_at timestamptz,
  accepted_at timestamptz,
  resolved_at timestamptz,
  verified_at timestamptz,
  closed_at timestamptz,
  escalated_at timestamptz,
  updated_at timestamptz NOT NULL,
  UNIQUE (reporter_user_id, client_id)
);
CREATE INDEX tickets_location_gix ON tickets USING gist (location);
CREATE INDEX tickets_grid_path_idx ON tickets (grid_path text_pattern_ops);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_assigned_idx ON tickets (assigned_worker_id);
-- What the deadline job scans: open tickets by their running deadline.
CREATE INDEX tickets_stage_due_idx ON tickets (stage_due_at) WHERE status NOT IN ('closed', 'cancelled');

-- The timeline: every transition, dispatch decision and attachment, with who and why.
CREATE TABLE ticket_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  -- Null for the system (deadline escalation).
  actor_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  kind text NOT NULL,
  from_status text,
  to_status text,
  reason text,
  note text,
  detail jsonb
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

-- Photo metadata; the bytes are files under DATA_DIR/photos/<storage_key>.
CREATE TABLE ticket_photos (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
  uploaded_by bigint REFERENCES users (id) ON DELETE SET NULL,
  mime text NOT NULL CHECK (mime IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes integer NOT NULL CHECK (bytes > 0),
  sha256 text NOT NULL,
  storage_key text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL
);
CREATE INDEX ticket_photos_ticket_idx ON ticket_photos (ticket_id);

-- A department's reply to the centre's whistle must say four things: when it accepted the matter,
-- whom it contacted, what it did, and by when it will be done.
CREATE TABLE ticket_department_replies (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
  department_code text NOT NULL REFERENCES departments (code) ON UPDATE CASCADE,
  accepted_at timestamptz NOT NULL,
  contacted text NOT NULL,
  actions text NOT NULL,
  due_by timestamptz NOT NULL,
  recorded_by bigint REFERENCES users (id) ON DELETE SET NULL,
  recorded_at timestamptz NOT NULL
);
CREATE INDEX ticket_department_replies_ticket_idx ON ticket_department_replies (ticket_id);
