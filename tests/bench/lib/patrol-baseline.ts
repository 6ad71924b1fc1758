/**
 * The patrol coverage statement as it was before 6 December 2026 (one statement per hour: a window
 * over the hour's fixes in the partition's primary-key order, the geography distance per segment,
 * every segment a separate line in the worker's collection), kept for the track benchmark: it runs
 * beside the current `computePatrolHour` on the same data, so both are timed in one run and their
 * visit sets and worker-hours compared row for row.
 */
import { sql, type Queryable } from '../../../server/platform/db';
import { PATROL_BUFFER_M, PATROL_MAX_GAP_S, PATROL_MAX_JUMP_M } from '../../../server/modules/patrol/repository';

const HOUR_MS = 3_600_000;
const METRES_PER_DEGREE = 111_194.93;

export async function computePatrolHourBaseline(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  hourStart: number,
  day: string,
  computedAt: number,
): Promise<{ segments: number; visits: number }> {
  const h0 = hourStart / 1000;
  const h1 = (hourStart + HOUR_MS) / 1000;
  return db.transaction(async (tx) => {
    // At a load of 10 on two cores an hour took over the pool's 30 s statement timeout: let it finish.
    await tx.query(sql`SET LOCAL statement_timeout = '300s'`);
    await tx.query(sql`DELETE FROM patrol_visits WHERE hour_start = to_timestamp(${h0})`);
    await tx.query(sql`DELETE FROM patrol_worker_hours WHERE hour_start = to_timestamp(${h0})`);
    const { rows } = await tx.query<{ segments: number | string; visits: number | string }>(sql`
      WITH f AS (
        SELECT worker_id, recorded_at AS t1, geom AS g1,
               lag(recorded_at) OVER w AS t0, lag(geom) OVER w AS g0
          FROM worker_positions
         WHERE recorded_at >= to_timestamp(${h0 - PATROL_MAX_GAP_S}) AND recorded_at < to_timestamp(${h1})
        WINDOW w AS (PARTITION BY worker_id ORDER BY recorded_at)
      ), s AS (
        SELECT worker_id, t0, t1, g0, g1, ST_Distance(g0::geography, g1::geography, false) AS d
          FROM f
         WHERE t0 IS NOT NULL AND t1 >= to_timestamp(${h0}) AND t1 - t0 <= make_interval(secs => ${PATROL_MAX_GAP_S})
      ), v AS (
        SELECT * FROM s WHERE d <= ${PATROL_MAX_JUMP_M}
      ), hours AS (
        INSERT INTO patrol_worker_hours (worker_id, hour_start, day, distance_m, inside_own_s)
        SELECT v.worker_id, to_timestamp(${h0}), ${day}::date, sum(v.d),
               coalesce(sum(extract(epoch FROM v.t1 - v.t0)) FILTER (WHERE ST_Intersects(g.geom, v.g1)), 0)
          FROM v JOIN workers w ON w.id = v.worker_id JOIN regions g ON g.code = w.home_grid_code
         GROUP BY v.worker_id
        RETURNING 1
      ), lines AS MATERIALIZED (
        SELECT worker_id, ml, ST_Scale(ml, c, 1) AS local, c
          FROM (SELECT worker_id, ml, cos(radians(ST_Y(ST_Centroid(ml)))) AS c
                  FROM (SELECT worker_id, ST_Collect(ST_MakeLine(g0, g1)) AS ml FROM v GROUP BY worker_id) c) l
      ), visits AS (
        INSERT INTO patrol_visits (worker_id, hour_start, day, micro_grid_code)
        SELECT l.worker_id, to_timestamp(${h0}), ${day}::date, m.code
          FROM lines l JOIN regions m
            ON m.level = 'micro_grid' AND m.geom && ST_Expand(l.ml, 0.0004)
           AND ST_DWithin(ST_Scale(m.geom, l.c, 1), l.local, ${PATROL_BUFFER_M / METRES_PER_DEGREE})
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM v) + 0 * (SELECT count(*) FROM hours) AS segments, (SELECT count(*) FROM visits) AS visits`);
    const segments = Number(rows[0]!.segments);
    await tx.query(sql`
      INSERT INTO patrol_hours_done (hour_start, computed_at, segments) VALUES (to_timestamp(${h0}), to_timestamp(${computedAt / 1000}), ${segments})
      ON CONFLICT (hour_start) DO UPDATE SET computed_at = EXCLUDED.computed_at, segments = EXCLUDED.segments`);
    return { segments, visits: Number(rows[0]!.visits) };
  });
}
