import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { TrackFix } from '@shared/tracks';
import type { TrackEvent } from '@shared/tracks-api';

/** The SQL of tracks and trips: the worker in scope, their fixes in a window, places, ticket moments. */

export interface TrackWorker {
  id: number;
  name: string;
  gridCode: string;
}

/** The worker if their home grid lies inside the jurisdiction. */
export async function workerInScope(db: Queryable, scope: Scope, id: number): Promise<TrackWorker | undefined> {
  const { rows } = await db.query<TrackWorker>(sql`
    SELECT w.id::float8 AS id, w.name, w.home_grid_code AS "gridCode"
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.id = ${id} AND ${scope.covers('g.path')}`);
  return rows[0];
}

/**
 * One worker's fixes in [from, to), oldest first, as four arrays in one row (one round trip and
 * no per-row parsing: a day of 8,640 fixes comes back in a few milliseconds). The primary key
 * (worker_id, recorded_at) of each day partition serves the range already in time order, so the one
 * ordered subquery feeds all four arrays (four `array_agg(… ORDER BY)` sorted the day four times);
 * only the window's partitions are read.
 */
export async function loadFixes(db: Queryable, workerId: number, fromMs: number, toMs: number): Promise<TrackFix[]> {
  const { rows } = await db.query<{ t: number[] | null; x: number[]; y: number[]; s: (number | null)[] }>(sql`
    SELECT array_agg(t) AS t, array_agg(x) AS x, array_agg(y) AS y, array_agg(s) AS s
      FROM (SELECT extract(epoch FROM recorded_at)::float8 * 1000 AS t, ST_X(geom) AS x, ST_Y(geom) AS y, speed::float8 AS s
              FROM worker_positions
             WHERE worker_id = ${workerId}
               AND recorded_at >= to_timestamp(${fromMs / 1000}) AND recorded_at < to_timestamp(${toMs / 1000})
             ORDER BY recorded_at) f`);
  const r = rows[0];
  if (!r?.t) return [];
  const fixes: TrackFix[] = new Array(r.t.length);
  for (let i = 0; i < r.t.length; i++) {
    const s = r.s[i];
    fixes[i] = { t: Math.round(Number(r.t[i])), lon: Number(r.x[i]), lat: Number(r.y[i]), speed: s === null || s === undefined ? null : Number(s) };
  }
  return fixes;
}

export interface GridAt {
  code: string | null;
  name: string | null;
}

/** The grid holding each point (lowest code on a shared edge), null outside every grid. */
export async function gridsAt(db: Queryable, points: readonly { lon: number; lat: number }[]): Promise<GridAt[]> {
  if (points.length === 0) return [];
  const { rows } = await db.query<{ i: number; code: string | null; name: string | null }>(sql`
    SELECT p.i::int AS i, g.code, g.name
      FROM unnest(${points.map((p) => p.lon)}::float8[], ${points.map((p) => p.lat)}::float8[]) WITH ORDINALITY AS p(x, y, i)
      LEFT JOIN LATERAL (
        SELECT code, name FROM regions
         WHERE level = 'grid' AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
         ORDER BY code LIMIT 1) g ON true
     ORDER BY p.i`);
  return rows.map((r) => ({ code: r.code, name: r.name }));
}

/** What happened, inside the window, to tickets the worker reported or holds: for replay, at their moments. */
export async function trackEvents(db: Queryable, workerId: number, fromMs: number, toMs: number): Promise<TrackEvent[]> {
  const { rows } = await db.query<Omit<TrackEvent, 'at'> & { at: Date | string }>(sql`
    SELECT t.id::float8 AS "ticketId", t.number, e.at, e.kind, e.to_status AS "toStatus", t.category_code AS category,
           ST_X(t.location) AS lon, ST_Y(t.location) AS lat
      FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id
     WHERE (t.reporter_worker_id = ${workerId} OR t.assigned_worker_id = ${workerId})
       AND e.at >= to_timestamp(${fromMs / 1000}) AND e.at < to_timestamp(${toMs / 1000})
     ORDER BY e.at, e.id
     LIMIT 2000`);
  return rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
}
