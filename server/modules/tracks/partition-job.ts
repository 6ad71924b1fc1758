import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import { PeriodicJob } from '../../platform/jobs';
import { shanghaiDate, shanghaiMidnight } from '@shared/shanghai-time';
import { createDayPartition, deleteDefaultBefore, dropDayPartition, listPartitions, vacuumDayPartition } from './partitions-repository';

const DAY_MS = 86_400_000;
/** How often partitions are checked: hourly is ample for partitions created days ahead. */
export const PARTITION_SWEEP_MS = 3_600_000;
/** Day partitions kept ready: yesterday (late fixes) through this many days ahead. */
export const PARTITION_DAYS_AHEAD = 2;

export interface PartitionPass {
  created: string[];
  dropped: string[];
  /** Rows deleted from the default partition for being older than the horizon. */
  defaultRowsDeleted: number;
  /** Partitions vacuumed (yesterday's and today's), so their fixes are read from the key alone. */
  vacuumed: string[];
}

/**
 * One maintenance pass over worker_positions: creates the day partitions from yesterday to
 * PARTITION_DAYS_AHEAD days ahead, drops every day partition wholly older than the retention horizon
 * (the Shanghai midnight `retentionDays` before today's), and deletes default-partition rows older
 * than it. Then vacuums yesterday's and today's partitions: ingest appends a tick of every worker at
 * a time, so the covering key (migration 016) is what keeps a worker's day one range of index pages,
 * and an index-only scan needs the heap pages marked all-visible; an insert-only partition's vacuum
 * reads only the pages written since the last one (an hour's). Ingest and reads go on meanwhile:
 * each create or drop locks the table for milliseconds, a vacuum blocks no insert.
 */
export async function maintainPartitions(db: Db, now: number, retentionDays: number): Promise<PartitionPass> {
  const today = shanghaiMidnight(now);
  const horizon = today - retentionDays * DAY_MS;
  const existing = new Set((await listPartitions(db)).map((p) => p.day));
  const created: string[] = [];
  for (let d = -1; d <= PARTITION_DAYS_AHEAD; d++) {
    const day = shanghaiDate(today + d * DAY_MS);
    if (existing.has(day)) continue;
    if (await createDayPartition(db, day)) created.push(day);
  }
  const dropped: string[] = [];
  for (const day of existing) {
    // A partition ends at the next Shanghai midnight; it goes when that end is at or before the horizon.
    const end = Date.parse(`${day}T00:00:00+08:00`) + DAY_MS;
    if (end <= horizon) {
      await dropDayPartition(db, day);
      dropped.push(day);
    }
  }
  const defaultRowsDeleted = await deleteDefaultBefore(db, horizon);
  const vacuumed: string[] = [];
  for (const day of [shanghaiDate(today - DAY_MS), shanghaiDate(today)]) {
    if (await vacuumDayPartition(db, day)) vacuumed.push(day);
  }
  return { created, dropped, defaultRowsDeleted, vacuumed };
}

/** The job runner's pass over the partitions, hourly (and once at start). */
export function positionPartitionJob(
  db: Db,
  clock: Clock,
  retentionDays: number,
  log: FastifyBaseLogger,
  intervalMs = PARTITION_SWEEP_MS,
): PeriodicJob<PartitionPass> {
  return new PeriodicJob('position partitions', () => maintainPartitions(db, clock.now(), retentionDays), log, intervalMs);
}
