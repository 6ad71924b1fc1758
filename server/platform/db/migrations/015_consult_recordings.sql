-- Consult recordings (CONSULT_RECORDING=1): Janus records each publisher of a consult's room to .mjr
-- files in the consult's own folder under the recordings directory; when the consult ends they are
-- converted (janus-pp-rec, then ffmpeg) to one playable file per participant, listed here and written
-- on the ticket's or alarm's timeline ('consult_recording'). Runs unchanged on PostgreSQL 15 and PGlite.
ALTER TABLE consults ADD COLUMN recording_dir text;

CREATE TABLE consult_recordings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consult_id bigint NOT NULL REFERENCES consults (id) ON DELETE CASCADE,
  -- Whose camera and microphone (null: a feed nobody's grant named).
  user_id bigint REFERENCES users (id) ON DELETE SET NULL,
  -- Relative to the recordings directory; never a path from a request.
  file text NOT NULL,
  mime text NOT NULL,
  bytes bigint NOT NULL,
  duration_s real,
  created_at timestamptz NOT NULL
);
CREATE INDEX consult_recordings_consult_idx ON consult_recordings (consult_id, id);

ALTER TABLE alarm_events DROP CONSTRAINT alarm_events_kind_check;
ALTER TABLE alarm_events ADD CONSTRAINT alarm_events_kind_check
  CHECK (kind IN ('raised', 'repeated', 'acknowledged', 'dispatched', 'resolved', 'false_alarm', 'consult', 'consult_recording'));
