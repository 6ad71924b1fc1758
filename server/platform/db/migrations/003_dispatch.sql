-- Dispatch to the nearest free worker: each offer of a ticket to a worker's phone, with its answer,
-- and the per-category policy of dispatching without a person. Runs unchanged on PostgreSQL 15 +
-- PostGIS 3.3 and on PGlite.

-- When set, a ticket of this category (or of one of its sub-categories) is dispatched to the top
-- recommended worker as soon as it is registered (立案), by the system.
ALTER TABLE ticket_categories ADD COLUMN auto_dispatch boolean NOT NULL DEFAULT false;

-- One row per offer: who was asked, until when, and how it ended. An open offer (outcome NULL) is
-- what the re-offer job watches; the workers who declined or let one expire are not asked again
-- about the same ticket.
CREATE TABLE ticket_offers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
  worker_id bigint NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  -- Null for the system (auto-dispatch, re-offers).
  offered_by bigint REFERENCES users (id) ON DELETE SET NULL,
  -- The jurisdiction re-offers choose from: the dispatching desk's, inherited by the system's.
  scope_path text NOT NULL,
  offered_at timestamptz NOT NULL,
  -- Null when offers never time out (DISPATCH_OFFER_TIMEOUT_S=0).
  expires_at timestamptz,
  -- Place among the recommended workers when offered (1 = top), and the distance then.
  rank integer CHECK (rank > 0),
  distance_m double precision,
  outcome text CHECK (outcome IN ('accepted', 'declined', 'timeout', 'withdrawn')),
  answered_at timestamptz,
  CHECK ((outcome IS NULL) = (answered_at IS NULL))
);
CREATE INDEX ticket_offers_ticket_idx ON ticket_offers (ticket_id, id);
-- At most one open offer per ticket; the job scans open ones by expiry.
CREATE UNIQUE INDEX ticket_offers_open_idx ON ticket_offers (ticket_id) WHERE outcome IS NULL;
CREATE INDEX ticket_offers_expiry_idx ON ticket_offers (expires_at) WHERE outcome IS NULL;
