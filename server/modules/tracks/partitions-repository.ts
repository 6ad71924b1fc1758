import { raw, sql, type Db } from '../../platform/db';

/**
 * The SQL that keeps worker_positions partitioned by Shanghai day: list, create ahead (moving any
 * rows the default partition caught for that day), drop past the horizon. Partition names and bounds
 * are built here from a validated 'YYYY-MM-DD', never from input.
 */

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const PREFIX = 'worker_positions_p';

export interface PartitionInfo {
  name: string;
  /** The Shanghai day it holds, 'YYYY-MM-DD'. */
  day: string;
}

function checkDay(day: string): void {
  if (!DAY.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00+08:00`))) throw new Error(`bad partition day ${day}`);
}

export const partitionName = (day: string) => PREFIX + day.replaceAll('-', '');

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Day partitions of worker_positions (the default partition not included). */
export async function listPartitions(db: Db): Promise<PartitionInfo[]> {
  const { rows } = await db.query<{ name: string }>(sql`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'worker_positions'::regclass ORDER BY c.relname`);
  return rows
    .filter((r) => /^worker_positions_p\d{8}$/.test(r.name))
    .map((r) => ({ name: r.name, day: `${r.name.slice(18, 22)}-${r.name.slice(22, 24)}-${r.name.slice(24, 26)}` }));
}

/**
 * Creates the partition of one Shanghai day if missing. Rows the default partition holds for that
 * day move into it in the same transaction (else PostgreSQL refuses the new partition). The parent is
 * locked first, so a concurrent writer waits a moment rather than deadlocking. Returns whether it
 * created one.
 */
export async function createDayPartition(db: Db, day: string): Promise<boolean> {
  checkDay(day);
  const name = partitionName(day);
  const from = `${day} 00:00:00+08`;
  const to = `${nextDay(day)} 00:00:00+08`;
  return db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL lock_timeout = '10s'`);
    await tx.exec('LOCK TABLE worker_positions IN ACCESS EXCLUSIVE MODE');
    const exists = await tx.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_class WHERE relname = ${name}`);
    if (exists.rows[0]!.n > 0) return false;
    await tx.exec(`CREATE TEMP TABLE worker_positions_moving ON COMMIT DROP AS SELECT * FROM worker_positions_default WITH NO DATA`);
    await tx.query(sql`
      WITH moved AS (DELETE FROM worker_positions_default WHERE recorded_at >= ${from}::timestamptz AND recorded_at < ${to}::timestamptz RETURNING *)
      INSERT INTO worker_positions_moving SELECT * FROM moved`);
    await tx.exec(`CREATE TABLE ${name} PARTITION OF worker_positions FOR VALUES FROM ('${from}') TO ('${to}')`);
    await tx.exec('INSERT INTO worker_positions SELECT * FROM worker_positions_moving');
    await tx.exec('DROP TABLE worker_positions_moving');
    return true;
  });
}

/** Drops one day partition whole (the parent locked first, briefly). */
export async function dropDayPartition(db: Db, day: string): Promise<void> {
  checkDay(day);
  await db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL lock_timeout = '10s'`);
    await tx.exec('LOCK TABLE worker_positions IN ACCESS EXCLUSIVE MODE');
    await tx.query(sql`DROP TABLE IF EXISTS ${raw(partitionName(day))}`);
  });
}

/**
 * VACUUM of one day partition, if it exists: marks the pages written since the last vacuum
 * all-visible, so reads by the covering primary key skip the heap. Never inside a transaction.
 */
export async function vacuumDayPartition(db: Db, day: string): Promise<boolean> {
  checkDay(day);
  const name = partitionName(day);
  const exists = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_class WHERE relname = ${name}`);
  if (exists.rows[0]!.n === 0) return false;
  // ANALYZE too: PGlite has no autovacuum, and the planner should know the day's size.
  await db.exec(`VACUUM (ANALYZE) ${name}`);
  return true;
}

/** Rows the default partition caught that are older than the horizon (no day partition to drop for them). */
export async function deleteDefaultBefore(db: Db, horizonMs: number): Promise<number> {
  const res = await db.query(sql`DELETE FROM worker_positions_default WHERE recorded_at < to_timestamp(${horizonMs / 1000})`);
  return res.rowCount;
}

/** Bytes of worker_positions with its indexes (all partitions), and its rows; for benchmarks and health. */
export async function positionStorage(db: Db): Promise<{ bytes: number; rows: number }> {
  const { rows } = await db.query<{ bytes: string | number; rows: string | number }>(sql`
    SELECT (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i
             WHERE i.inhparent = 'worker_positions'::regclass)::float8 AS bytes,
           (SELECT count(*) FROM worker_positions)::float8 AS rows`);
  return { bytes: Number(rows[0]!.bytes), rows: Number(rows[0]!.rows) };
}
