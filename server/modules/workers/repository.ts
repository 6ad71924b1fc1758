import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { WorkerDto, WorkersQuery } from '@shared/api';

/** Workers whose home grid lies inside the scope (and the optional region filter). */
export async function listWorkers(db: Queryable, scope: Scope, filter: WorkersQuery = {}): Promise<WorkerDto[]> {
  const { rows } = await db.query<WorkerDto & { gridCode: string; gridName: string; gridPath: string }>(sql`
    SELECT w.id, w.code, w.name, w.phone, w.role, w.active,
           g.code AS "gridCode", g.name AS "gridName", g.path AS "gridPath"
      FROM workers w
      JOIN regions g ON g.code = w.home_grid_code
     WHERE ${scope.covers('g.path')}
       ${filter.role ? sql`AND w.role = ${filter.role}` : sql``}
       ${filter.active !== undefined ? sql`AND w.active = ${filter.active}` : sql``}
       ${filter.region ? sql`AND g.path LIKE ${'%/' + filter.region + '/%'}` : sql``}
     ORDER BY w.id`);
  return rows.map((r) => {
    const [, , streetCode = '', communityCode = ''] = r.gridPath.split('/');
    return {
      id: r.id,
      code: r.code,
      name: r.name,
      phone: r.phone,
      role: r.role,
      active: r.active,
      homeGrid: { code: r.gridCode, name: r.gridName },
      communityCode,
      streetCode,
    };
  });
}

/** One worker, only if their home grid lies inside the scope. */
export async function findWorkerInScope(db: Queryable, scope: Scope, id: number): Promise<{ id: number; name: string } | undefined> {
  const { rows } = await db.query<{ id: number; name: string }>(sql`
    SELECT w.id, w.name FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.id = ${id} AND ${scope.covers('g.path')}`);
  return rows[0];
}

/** A worker's run of fixes with no gap longer than the offline timeout: online from `first` to `last` + timeout. */
export interface PresenceIsland {
  /** Start of the minute of the run's first fix, ms. */
  first: number;
  /** Start of the minute of the run's last fix, ms. */
  last: number;
}

/**
 * The field workers' (not party members') runs of presence between `from` − `gapMs` and `to`, from
 * the stored positions, inside the scope: fixes binned to their minute, then split wherever a
 * worker's next minute with a fix is more than `gapMs` after the previous one.
 */
export async function presenceIslands(db: Queryable, scope: Scope, from: Date, to: Date, gapMs: number): Promise<PresenceIsland[]> {
  const since = new Date(from.getTime() - gapMs);
  const gapS = Math.max(60, Math.round(gapMs / 1000));
  const { rows } = await db.query<{ first: string | number; last: string | number }>(sql`
    WITH scoped AS (
      SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code
       WHERE w.role <> 'party_member' AND ${scope.covers('g.path')}
    ), minutes AS (
      SELECT DISTINCT p.worker_id, date_trunc('minute', p.recorded_at) AS m
        FROM worker_positions p JOIN scoped s ON s.id = p.worker_id
       WHERE p.recorded_at > ${since} AND p.recorded_at <= ${to}
    ), marked AS (
      SELECT worker_id, m,
             CASE WHEN m - lag(m) OVER (PARTITION BY worker_id ORDER BY m) <= make_interval(secs => ${gapS}) THEN 0 ELSE 1 END AS starts
        FROM minutes
    ), numbered AS (
      SELECT worker_id, m, sum(starts) OVER (PARTITION BY worker_id ORDER BY m) AS island FROM marked
    )
    SELECT (extract(epoch FROM min(m)) * 1000)::float8 AS first, (extract(epoch FROM max(m)) * 1000)::float8 AS last
      FROM numbered GROUP BY worker_id, island`);
  return rows.map((r) => ({ first: Number(r.first), last: Number(r.last) }));
}

/**
 * Field workers online at each whole minute from `from` to `to`: a worker counts at moment t when
 * a fix of theirs lies within `offlineAfterMs` before t (to the minute: fixes are binned).
 */
export function onlineCounts(islands: readonly PresenceIsland[], from: number, to: number, offlineAfterMs: number, stepMs = 60_000): { t: number[]; online: number[] } {
  const start = Math.ceil(from / stepMs) * stepMs;
  const end = Math.floor(to / stepMs) * stepMs;
  const n = end >= start ? (end - start) / stepMs + 1 : 0;
  const delta = new Int32Array(n + 1);
  for (const { first, last } of islands) {
    // Online once the first minute's fix is surely in (the minute's end), until the timeout after the last.
    const a = Math.max(0, Math.ceil((first + stepMs - start) / stepMs));
    const b = Math.min(n - 1, Math.floor((last + offlineAfterMs - start) / stepMs));
    if (a > b) continue;
    delta[a]!++;
    delta[b + 1]!--;
  }
  const t: number[] = [];
  const online: number[] = [];
  let running = 0;
  for (let i = 0; i < n; i++) {
    running += delta[i]!;
    t.push(start + i * stepMs);
    online.push(running);
  }
  return { t, online };
}
