import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import { PeriodicJob } from '../../platform/jobs';
import { shanghaiDate, shanghaiHourStart, shanghaiMidnight } from '@shared/shanghai-time';
import { computePatrolHour, lastHourDone } from './repository';

const HOUR_MS = 3_600_000;
/** How often closed hours are looked for. */
export const PATROL_SWEEP_MS = 5 * 60_000;
/** An hour is computed this long after it ends, so fixes buffered by phones in poor signal arrive first. */
export const PATROL_GRACE_MS = 2 * 60_000;
/** After a long stop the job catches up at most this far back. */
export const PATROL_MAX_CATCH_UP_HOURS = 48;

export interface PatrolPass {
  /** Hours computed (their starts, ms). */
  hours: number[];
  segments: number;
}

/**
 * Computes every closed hour not computed yet, oldest first: from the hour after the newest done
 * (or today's Shanghai midnight on a fresh database), at most PATROL_MAX_CATCH_UP_HOURS back, up to
 * the last hour that ended PATROL_GRACE_MS ago.
 */
export async function computeClosedHours(db: Db, now: number): Promise<PatrolPass> {
  const lastClosed = shanghaiHourStart(now - PATROL_GRACE_MS) - HOUR_MS;
  const done = await lastHourDone(db);
  let next = done === undefined ? shanghaiMidnight(now) : done + HOUR_MS;
  next = Math.max(next, lastClosed - (PATROL_MAX_CATCH_UP_HOURS - 1) * HOUR_MS);
  const pass: PatrolPass = { hours: [], segments: 0 };
  for (let h = next; h <= lastClosed; h += HOUR_MS) {
    const r = await computePatrolHour(db, h, shanghaiDate(h), now);
    pass.hours.push(h);
    pass.segments += r.segments;
  }
  return pass;
}

/** The job runner's pass over closed hours, every five minutes. */
export function patrolCoverageJob(db: Db, clock: Clock, log: FastifyBaseLogger, intervalMs = PATROL_SWEEP_MS): PeriodicJob<PatrolPass> {
  return new PeriodicJob('patrol coverage', () => computeClosedHours(db, clock.now()), log, intervalMs);
}
