import { raw, sql, type Db, type Queryable, type Sql } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { RegionLevel } from '@shared/domain';
import type { CoverageRow, MicroGridVisits, WorkerPatrolRow } from '@shared/tracks-api';

/** The SQL of patrol coverage (巡查覆盖): the hourly computation and what the routes read. */

/** A segment between consecutive fixes longer than this in time is a gap, not patrol, s. */
export const PATROL_MAX_GAP_S = 120;
/** …or longer than this in space (a teleport), m. */
export const PATROL_MAX_JUMP_M = 300;
/** A micro-grid counts as visited when the track passes within this distance, m. */
export const PATROL_BUFFER_M = 15;

const HOUR_MS = 3_600_000;
/** Metres per degree of latitude on the mean sphere (R = 6,371,008.8 m). */
const METRES_PER_DEGREE = 111_194.93;
/**
 * Metres per degree on the sphere of ST_Distance(geography, geography, false) — radius (2a + b) / 3 of
 * WGS 84 — for the segment lengths, so they agree with what geography gave before.
 */
const SEGMENT_METRES_PER_DEGREE = (6_371_008.771_415 * Math.PI) / 180;
/**
 * The hour is read in this many slices of the work force (worker id modulo), each a statement of its
 * own on its own pooled connection, so PostgreSQL computes them on separate cores. PGlite has one
 * connection and runs one slice.
 */
export const PATROL_PARALLEL_SLICES = 2;

/** What one worker did in an hour, as computed by the database. */
interface WorkerHour {
  worker_id: number | string;
  distance_m: number;
  inside_own_s: number;
  segments: number | string;
  codes: string[];
}

/**
 * One slice of an hour (workers whose id is `slice` modulo `slices`): per worker with a valid segment,
 * distance, time inside the own grid, segments and the micro-grids visited. Read-only.
 */
export function patrolHourSlice(hourStart: number, slices: number, slice: number): Sql {
  const h0 = hourStart / 1000;
  const h1 = (hourStart + HOUR_MS) / 1000;
  return sql`
    WITH per AS MATERIALIZED (
      SELECT w.id AS worker_id, x.distance_m, x.inside_own_s, x.segments, x.lines
        FROM workers w JOIN regions g ON g.code = w.home_grid_code
       CROSS JOIN LATERAL (
         SELECT sum(r.d) AS distance_m, sum(r.inside) AS inside_own_s, sum(r.n) AS segments, ST_Collect(r.line) AS lines
           FROM (SELECT sum(d) AS d, count(*) AS n,
                        coalesce(sum(extract(epoch FROM t1 - t0)) FILTER (WHERE ST_Intersects(g.geom, g1)), 0) AS inside,
                        -- A run opens with its first segment; the later fixes extend it.
                        ST_MakeLine(CASE WHEN opens THEN ST_MakeLine(g0, g1) ELSE g1 END ORDER BY t1) AS line
                   FROM (SELECT *, count(*) FILTER (WHERE opens) OVER (ORDER BY t1) AS run
                           FROM (SELECT *, lag(t1) OVER (ORDER BY t1) IS DISTINCT FROM t0 AS opens
                                   FROM (SELECT t0, t1, g0, g1,
                                                ${SEGMENT_METRES_PER_DEGREE}::float8 * sqrt((y1 - y0) ^ 2 + ((x1 - x0) * cos(radians((y0 + y1) / 2))) ^ 2) AS d
                                           FROM (SELECT t1, g1, x1, y1, lag(t1) OVER o AS t0, lag(g1) OVER o AS g0, lag(x1) OVER o AS x0, lag(y1) OVER o AS y0
                                                   FROM (SELECT recorded_at AS t1, geom AS g1, ST_X(geom) AS x1, ST_Y(geom) AS y1
                                                           FROM worker_positions
                                                          WHERE worker_id = w.id
                                                            AND recorded_at >= to_timestamp(${h0 - PATROL_MAX_GAP_S}) AND recorded_at < to_timestamp(${h1})
                                                         OFFSET 0) p
                                                 WINDOW o AS (ORDER BY t1)) f
                                          WHERE t0 IS NOT NULL AND t1 >= to_timestamp(${h0}) AND t1 - t0 <= make_interval(secs => ${PATROL_MAX_GAP_S})
                                         OFFSET 0) s
                                  WHERE d <= ${PATROL_MAX_JUMP_M}) v) c
                  GROUP BY run) r
         HAVING count(*) > 0) x
       WHERE w.id % ${slices} = ${slice}
         -- Only workers with a fix in the hour reach the lateral (an index probe each).
         AND EXISTS (SELECT 1 FROM worker_positions e WHERE e.worker_id = w.id AND e.recorded_at >= to_timestamp(${h0}) AND e.recorded_at < to_timestamp(${h1}))
    ), local AS MATERIALIZED (
      SELECT worker_id, distance_m, inside_own_s, segments, lines, ST_Scale(lines, c, 1) AS scaled, c
        FROM (SELECT *, cos(radians(ST_Y(ST_Centroid(lines)))) AS c FROM per) l
    )
    SELECT worker_id, distance_m::float8 AS distance_m, inside_own_s::float8 AS inside_own_s, segments,
           ARRAY(SELECT m.code FROM regions m
                  WHERE m.level = 'micro_grid' AND m.geom && ST_Expand(l.lines, 0.0004)
                    AND ST_DWithin(ST_Scale(m.geom, l.c, 1), l.scaled, ${PATROL_BUFFER_M / METRES_PER_DEGREE})) AS codes
      FROM local l`;
}

/**
 * Computes one closed hour [hourStart, hourStart + 1 h) for every worker, replacing what was stored
 * for it: segments between consecutive fixes (the fix before the hour joins the first one), minus
 * gaps over PATROL_MAX_GAP_S and jumps over PATROL_MAX_JUMP_M; per worker their distance and the time
 * whose segment ends inside their own grid; and every micro-grid within PATROL_BUFFER_M of the
 * worker's segments. A segment belongs to the hour its later fix falls in, so no segment counts twice.
 *
 * How it is fast enough for a district's day (measured in docs/benchmarks.md, "Tracks and patrol
 * coverage"):
 * - Each worker's fixes are read by a range on the primary key (worker, time), so an hour costs the
 *   same however much of the day its partition already holds (the whole-partition index scan it
 *   replaced grew with every hour of the day).
 * - A segment's length is measured in the local plane (longitude scaled by the cosine of the segment's
 *   mean latitude) on the sphere geography uses: at 300 m it differs from the spherical distance by
 *   less than 10⁻⁷ m, and it is computed once per segment.
 * - Valid consecutive segments are joined into runs — one LineString per stretch between gaps and
 *   jumps — instead of a collection of two-point lines: the same set of points, so the same distances,
 *   but the 15 m test walks one vertex array instead of hundreds of sub-geometries (3,605 workers'
 *   hour: 5.0 s → 2.3 s, identical visits).
 * - The 15 m test runs in a local equirectangular plane (longitudes scaled by the cosine of the
 *   worker's latitude, so one unit is a degree of latitude everywhere): over a worker's hour (a few
 *   hundred metres) it equals the spherical distance to well under a centimetre. Each worker's lines
 *   are scaled once, each candidate micro-grid per test.
 * - On PostgreSQL the work force is read in PATROL_PARALLEL_SLICES slices at once; the results (a
 *   few thousand rows) are written in one transaction, so readers never see half an hour.
 */
export async function computePatrolHour(
  db: Db,
  hourStart: number,
  day: string,
  computedAt: number,
  slices = db.engine === 'postgres' ? PATROL_PARALLEL_SLICES : 1,
): Promise<{ segments: number; visits: number }> {
  const h0 = hourStart / 1000;
  const parts = await Promise.all(Array.from({ length: slices }, (_, slice) => db.query<WorkerHour>(patrolHourSlice(hourStart, slices, slice))));
  const rows = parts.flatMap((p) => p.rows);
  const visitWorkers = rows.flatMap((r) => r.codes.map(() => Number(r.worker_id)));
  const visitCodes = rows.flatMap((r) => r.codes);
  const segments = rows.reduce((n, r) => n + Number(r.segments), 0);
  await db.transaction(async (tx) => {
    await tx.query(sql`DELETE FROM patrol_visits WHERE hour_start = to_timestamp(${h0})`);
    await tx.query(sql`DELETE FROM patrol_worker_hours WHERE hour_start = to_timestamp(${h0})`);
    await tx.query(sql`
      INSERT INTO patrol_worker_hours (worker_id, hour_start, day, distance_m, inside_own_s)
      SELECT w, to_timestamp(${h0}), ${day}::date, d, s
        FROM unnest(${rows.map((r) => Number(r.worker_id))}::bigint[], ${rows.map((r) => r.distance_m)}::float8[], ${rows.map((r) => r.inside_own_s)}::float8[]) AS u(w, d, s)`);
    await tx.query(sql`
      INSERT INTO patrol_visits (worker_id, hour_start, day, micro_grid_code)
      SELECT w, to_timestamp(${h0}), ${day}::date, c FROM unnest(${visitWorkers}::bigint[], ${visitCodes}::text[]) AS u(w, c)`);
    await tx.query(sql`
      INSERT INTO patrol_hours_done (hour_start, computed_at, segments) VALUES (to_timestamp(${h0}), to_timestamp(${computedAt / 1000}), ${segments})
      ON CONFLICT (hour_start) DO UPDATE SET computed_at = EXCLUDED.computed_at, segments = EXCLUDED.segments`);
  });
  return { segments, visits: visitCodes.length };
}

/** The newest hour computed, ms; undefined before the first. */
export async function lastHourDone(db: Queryable): Promise<number | undefined> {
  const { rows } = await db.query<{ t: number | null }>(sql`SELECT extract(epoch FROM max(hour_start))::float8 * 1000 AS t FROM patrol_hours_done`);
  const t = rows[0]?.t;
  return t === null || t === undefined ? undefined : Number(t);
}

/** A region inside the jurisdiction (for `parent`). */
export async function regionPathInScope(db: Queryable, scope: Scope, code: string): Promise<string | undefined> {
  const { rows } = await db.query<{ path: string }>(sql`SELECT path FROM regions WHERE code = ${code} AND ${scope.covers('path')}`);
  return rows[0]?.path;
}

const DEPTH: Record<RegionLevel, number> = { district: 0, street: 1, community: 2, grid: 3, micro_grid: 4 };
const likePrefix = (path: string) => path.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';

/**
 * Coverage of one Shanghai day per region of `level` inside the jurisdiction (and under `parentPath`):
 * micro-grids visited by anyone ÷ micro-grids inside, and the distance walked by the workers based there.
 * A region's ancestors are read from the micro-grid's path ('/district/street/community/grid/micro/').
 */
export async function coverageByRegion(
  db: Queryable,
  scope: Scope,
  q: { day: string; level: RegionLevel; parentPath?: string | undefined },
): Promise<CoverageRow[]> {
  const part = raw(String(DEPTH[q.level] + 2));
  const { rows } = await db.query<{ code: string; name: string; n: number | string; visited: number | string; d: number | string }>(sql`
    WITH r AS (
      SELECT code, name FROM regions
       WHERE level = ${q.level} AND ${scope.covers('path')}
         ${q.parentPath ? sql`AND path LIKE ${likePrefix(q.parentPath)}` : sql``}
    ), mg AS (
      SELECT code, split_part(path, '/', ${part}) AS anc FROM regions WHERE level = 'micro_grid'
    ), totals AS (
      SELECT anc, count(*) AS n FROM mg GROUP BY anc
    ), vis AS (
      SELECT mg.anc, count(DISTINCT v.micro_grid_code) AS n
        FROM patrol_visits v JOIN mg ON mg.code = v.micro_grid_code
       WHERE v.day = ${q.day}::date GROUP BY mg.anc
    ), dist AS (
      SELECT split_part(g.path, '/', ${part}) AS anc, sum(h.distance_m) AS d
        FROM patrol_worker_hours h JOIN workers w ON w.id = h.worker_id JOIN regions g ON g.code = w.home_grid_code
       WHERE h.day = ${q.day}::date GROUP BY 1
    )
    SELECT r.code, r.name, coalesce(totals.n, 0) AS n, coalesce(vis.n, 0) AS visited, coalesce(dist.d, 0) AS d
      FROM r LEFT JOIN totals ON totals.anc = r.code LEFT JOIN vis ON vis.anc = r.code LEFT JOIN dist ON dist.anc = r.code
     ORDER BY r.code`);
  return rows.map((r) => {
    const n = Number(r.n);
    const visited = Number(r.visited);
    return {
      code: r.code,
      name: r.name,
      coverage: n > 0 ? Math.round((visited / n) * 10_000) / 10_000 : 0,
      microGridsVisited: visited,
      microGrids: n,
      distanceM: Math.round(Number(r.d) * 10) / 10,
    };
  });
}

/** Micro-grids inside the jurisdiction visited that day, with worker-hours and distinct workers. */
export async function microGridVisits(db: Queryable, scope: Scope, q: { day: string; parentPath?: string | undefined }): Promise<MicroGridVisits> {
  const { rows } = await db.query<{ code: string; visits: number | string; workers: number | string }>(sql`
    SELECT v.micro_grid_code AS code, count(*) AS visits, count(DISTINCT v.worker_id) AS workers
      FROM patrol_visits v JOIN regions m ON m.code = v.micro_grid_code
     WHERE v.day = ${q.day}::date AND ${scope.covers('m.path')}
       ${q.parentPath ? sql`AND m.path LIKE ${likePrefix(q.parentPath)}` : sql``}
     GROUP BY v.micro_grid_code ORDER BY v.micro_grid_code`);
  return rows.map((r) => ({ code: r.code, visits: Number(r.visits), workers: Number(r.workers) }));
}

/** Per worker based inside the jurisdiction: distance, micro-grids visited and time inside their own grid that day. */
export async function workerPatrol(db: Queryable, scope: Scope, q: { day: string; parentPath?: string | undefined }): Promise<WorkerPatrolRow[]> {
  const { rows } = await db.query<{ id: number | string; name: string; grid: string; d: number | string; mg: number | string; inside: number | string }>(sql`
    SELECT w.id, w.name, w.home_grid_code AS grid, h.d, coalesce(v.n, 0) AS mg, h.inside
      FROM (SELECT worker_id, sum(distance_m) AS d, sum(inside_own_s) AS inside FROM patrol_worker_hours
             WHERE day = ${q.day}::date GROUP BY worker_id) h
      JOIN workers w ON w.id = h.worker_id JOIN regions g ON g.code = w.home_grid_code
      LEFT JOIN (SELECT worker_id, count(DISTINCT micro_grid_code) AS n FROM patrol_visits
                  WHERE day = ${q.day}::date GROUP BY worker_id) v ON v.worker_id = h.worker_id
     WHERE ${scope.covers('g.path')} ${q.parentPath ? sql`AND g.path LIKE ${likePrefix(q.parentPath)}` : sql``}
     ORDER BY h.d DESC, w.id`);
  return rows.map((r) => ({
    workerId: Number(r.id),
    name: r.name,
    gridCode: r.grid,
    distanceM: Math.round(Number(r.d) * 10) / 10,
    microGridsVisited: Number(r.mg),
    insideOwnGridS: Math.round(Number(r.inside)),
  }));
}
