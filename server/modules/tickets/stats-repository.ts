/**
 * The wall's aggregates over tickets: a heatmap binned in PostGIS and the counters. Every query is
 * limited to a jurisdiction with `scope.covers('t.grid_path')`, the predicate every ticket query
 * goes through: an aggregate describes a territory, so it counts what lies inside it (not, as a
 * list does, also the tickets someone filed or holds elsewhere).
 */
import { sql, type Queryable, type Sql } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import { TICKET_STATUSES, type TicketStatus } from '@shared/tickets';
import { lateAt, OPEN_TICKET } from './repository';

/** Edge of a heat cell: about 50 m north–south, and as much east–west at the tickets' mean latitude. */
export const HEAT_CELL_M = 50;
/** Metres in one degree of latitude (and of longitude at the equator), on the WGS84 mean radius. */
const METRES_PER_DEGREE = 111_320;

const ts = (t: number): string => new Date(t).toISOString();

/** Tickets received in [from, to] inside the scope, optionally of a class (with its sub-categories) or one category. */
function receivedIn(scope: Scope, from: number, to: number, category?: string): Sql {
  return sql`${scope.covers('t.grid_path')}
    AND t.received_at >= ${ts(from)}::timestamptz AND t.received_at <= ${ts(to)}::timestamptz
    ${category ? sql`AND t.category_code IN (SELECT code FROM ticket_categories WHERE code = ${category} OR parent_code = ${category})` : sql``}`;
}

export interface HeatCells {
  lon: number[];
  lat: number[];
  weight: number[];
  total: number;
}

/**
 * Tickets received in the window, binned to square cells of about HEAT_CELL_M: an integer key per
 * axis (floor of the coordinate over the cell size, the east–west size widened by 1/cos of the
 * tickets' mean latitude so cells are square on the ground), each cell reported at the centroid of
 * its tickets with their count. Plain arithmetic on ST_X/ST_Y, so PostgreSQL 15 + PostGIS 3.3 and
 * PGlite bin identically. Cells in a stable order (south to north, west to east).
 */
export async function heatCells(db: Queryable, scope: Scope, from: number, to: number, category?: string): Promise<HeatCells> {
  const cellDeg = HEAT_CELL_M / METRES_PER_DEGREE;
  const { rows } = await db.query<{ lon: number; lat: number; n: number }>(sql`
    WITH w AS MATERIALIZED (
      SELECT ST_X(t.location) AS x, ST_Y(t.location) AS y FROM tickets t
       WHERE ${receivedIn(scope, from, to, category)}
    ),
    cells AS (
      -- The scale is an uncorrelated scalar subquery: computed once, whatever the planner estimates.
      SELECT floor(w.x * (SELECT cos(radians(avg(y))) FROM w) / ${cellDeg}::float8)::bigint AS cx,
             floor(w.y / ${cellDeg}::float8)::bigint AS cy, w.x, w.y
        FROM w
    )
    SELECT avg(x) AS lon, avg(y) AS lat, count(*)::int AS n FROM cells GROUP BY cy, cx ORDER BY cy, cx`);
  const out: HeatCells = { lon: [], lat: [], weight: [], total: 0 };
  for (const r of rows) {
    out.lon.push(Math.round(r.lon * 1e7) / 1e7);
    out.lat.push(Math.round(r.lat * 1e7) / 1e7);
    out.weight.push(r.n);
    out.total += r.n;
  }
  return out;
}

export interface StatCounts {
  total: number;
  byClass: { code: string; name: string; count: number }[];
  byStatus: Record<TicketStatus, number>;
  open: number;
  overdueNow: number;
  closed: number;
  closedOnTime: number;
}

/**
 * The wall's counters for the window [from, to] (to = now): received by class and by current
 * status, still open, overdue now (any receipt time), closed in the window and of those on time.
 */
export async function statCounts(db: Queryable, scope: Scope, from: number, to: number): Promise<StatCounts> {
  const { rows: classes } = await db.query<{ code: string; name: string; count: number }>(sql`
    SELECT k.code, k.name, count(t.id)::int AS count
      FROM ticket_categories k
      LEFT JOIN ticket_categories c ON c.code = k.code OR c.parent_code = k.code
      LEFT JOIN tickets t ON t.category_code = c.code AND ${receivedIn(scope, from, to)}
     WHERE k.parent_code IS NULL
     GROUP BY k.code, k.name, k.sort_order
     ORDER BY k.sort_order, k.code`);
  const { rows: statuses } = await db.query<{ status: TicketStatus; n: number }>(sql`
    SELECT t.status, count(*)::int AS n FROM tickets t WHERE ${receivedIn(scope, from, to)} GROUP BY t.status`);
  const { rows: [c] } = await db.query<{ overdue: number; closed: number; onTime: number }>(sql`
    SELECT
      (SELECT count(*)::int FROM tickets t WHERE ${scope.covers('t.grid_path')} AND ${OPEN_TICKET} AND ${lateAt(to)}) AS overdue,
      count(*)::int AS closed,
      (count(*) FILTER (WHERE t.closed_at <= t.due_at))::int AS "onTime"
      FROM tickets t
     WHERE ${scope.covers('t.grid_path')} AND t.status = 'closed'
       AND t.closed_at >= ${ts(from)}::timestamptz AND t.closed_at <= ${ts(to)}::timestamptz`);
  const byStatus = Object.fromEntries(TICKET_STATUSES.map((s) => [s, 0])) as Record<TicketStatus, number>;
  for (const r of statuses) byStatus[r.status] = r.n;
  const total = statuses.reduce((sum, r) => sum + r.n, 0);
  return {
    total,
    byClass: classes,
    byStatus,
    open: total - byStatus.closed - byStatus.cancelled,
    overdueNow: c?.overdue ?? 0,
    closed: c?.closed ?? 0,
    closedOnTime: c?.onTime ?? 0,
  };
}
