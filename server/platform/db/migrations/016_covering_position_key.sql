-- A worker's track read from the index alone. Live ingest writes a tick of every worker after another,
-- so one worker's day of fixes (8,640) lies on 8,640 different heap pages of its day partition; the
-- track and the patrol coverage read a worker's fixes by the primary key (worker_id, recorded_at) and
-- then fetched each from the heap (measured on a time-ordered day partition of 8.6 M rows: twice the
-- time of a contiguous day, and every page a buffer to find). The key now carries the point and the
-- speed (INCLUDE: stored, not compared), so those reads are index-only scans over ~90 index pages
-- wherever the visibility map says the heap pages are all-visible — the partition job vacuums
-- yesterday's and today's partitions every hour for that (autovacuum does too on PostgreSQL).
-- Uniqueness and ON CONFLICT (worker_id, recorded_at) are unchanged. Costs ≈ 34 bytes per fix of
-- index. Rebuilds the key of every partition (PostgreSQL 15 and PGlite alike).
ALTER TABLE worker_positions DROP CONSTRAINT worker_positions_pkey;
ALTER TABLE worker_positions ADD PRIMARY KEY (worker_id, recorded_at) INCLUDE (geom, speed);
