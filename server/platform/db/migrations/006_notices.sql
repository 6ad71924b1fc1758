-- Notices (信息发布) with read receipts. A notice is issued from a jurisdiction (`path`, the
-- sender's at the time): every desk whose jurisdiction covers that path may see it and its
-- receipts. One receipt row per recipient worker; the notice keeps running counts of its receipts
-- (updated in the same transaction as each receipt), so lists and live percentages never
-- aggregate thousands of rows. Runs unchanged on PostgreSQL 15 and PGlite.
CREATE TABLE notices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL,
  body text NOT NULL,
  urgency text NOT NULL CHECK (urgency IN ('normal', 'urgent')),
  receipt_required boolean NOT NULL DEFAULT false,
  sender_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  sender_name text NOT NULL,
  region_code text NOT NULL REFERENCES regions (code),
  path text NOT NULL,
  -- The target as asked: region codes and roles; the drawn area, if any (made valid, so it may be a multipolygon).
  target_regions jsonb NOT NULL DEFAULT '[]',
  target_roles jsonb NOT NULL DEFAULT '[]',
  target_area geometry(Geometry, 4326),
  recipients integer NOT NULL,
  delivered_count integer NOT NULL DEFAULT 0,
  read_count integer NOT NULL DEFAULT 0,
  replied_count integer NOT NULL DEFAULT 0,
  reminded_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notices_path_idx ON notices (path text_pattern_ops, id DESC);

CREATE TABLE notice_receipts (
  notice_id bigint NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  -- The worker's grid when the notice went out (the list of who has not read shows it).
  grid_code text NOT NULL,
  delivered_at timestamptz,
  read_at timestamptz,
  replied_at timestamptz,
  reply text,
  reminded_at timestamptz,
  PRIMARY KEY (notice_id, worker_id)
);
-- A worker's inbox, newest first.
CREATE INDEX notice_receipts_worker_idx ON notice_receipts (worker_id, notice_id DESC);
-- Who has not read one notice (and whom to remind): only the unread rows.
CREATE INDEX notice_receipts_unread_idx ON notice_receipts (notice_id, grid_code) WHERE read_at IS NULL;
-- Replies to one notice, newest first.
CREATE INDEX notice_receipts_replied_idx ON notice_receipts (notice_id, replied_at DESC) WHERE replied_at IS NOT NULL;
