/**
 * The KPI module's SQL: every figure the leader's screen, the wall and the grid assessment show is
 * computed here, the same way everywhere (GB/T 30428.4 / CJ/T 292), per region of a level
 * (district → street → community → grid, read from the ticket's grid path) or per worker.
 *
 * Population of each indicator, for a window [from, to] at `now` (to ≤ now):
 *  - 应结案数 (the denominator of 结案率, 按期结案率, 超期数): tickets not cancelled whose closing
 *    deadline (due_at) fell in [from, min(to, now)], or which were closed in [from, to]. A ticket not
 *    yet due and not closed is not counted; a cancelled one (不予立案 / 作废) never is. A reopened
 *    ticket has a new deadline (and no closing) from its reopening: it counts where that deadline falls.
 *  - 结案数: of those, closed (still closed, not reopened since) by `to`; 按期结案数: closed at or
 *    before its due_at. 超期数 = 应结案数 − 按期结案数 (closed late, or still open past due).
 *  - 按期立案率: registered in the window, within the register rule (received_at + minutes).
 *    按期派遣率: dispatched in the window, within the dispatch rule after registering (a reassignment
 *    moves dispatched_at: the last dispatch counts). 按期处置率: resolved in the window, within the
 *    resolve rule from dispatch (from escalation for a department referral never dispatched).
 *  - 返工率: closed in the window having been reworked (核查不通过) or reopened at least once ÷ closed
 *    in the window.
 *  - 群众满意率: closed in the window with a 回访 rating: (满意 + 基本满意) ÷ rated.
 *  - Durations (minutes, median and p90): 受理 received→registered (registered in the window),
 *    派遣 registered→dispatched, 响应 dispatched→accepted, 处置 accepted→resolved (each by the
 *    later stamp being in the window).
 *  - Tickets escalated to a department stay attributed to their grid (the place), so a street's
 *    figures include its referrals; at worker level a ticket counts for the worker it is assigned to.
 *  - 网格员在线率 is always "now": workers (not party members) on shift — a fix since midnight
 *    (Asia/Shanghai) — with a fix in the last 5 minutes ÷ workers on shift.
 *  - 巡查覆盖率: Σ over the window's Shanghai days of micro-grids patrolled that day ÷ (micro-grids ×
 *    days); a worker's, over the micro-grids of their home grid.
 *
 * Everything is limited by `scope.covers(...)` and by the parent's path.
 * Speed: one pass over the tickets with a stamp in the window, a BitmapOr of the time indexes of
 * migrations 004 and 009 (tests/bench/kpis.ts measures it over a year).
 */
import { raw, sql, type Queryable, type Sql } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { Duration, KpiValues, Ratio, StatsLevel } from '@shared/stats-api';

/** A fix newer than this makes a worker online (the issue's definition). */
export const ONLINE_WITHIN_MS = 5 * 60_000;

const ts = (t: number): string => new Date(t).toISOString();
export const likePrefix = (path: string): string => path.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';

/** The part of '/district/street/community/grid/' naming a region of the level. */
const PART: Record<Exclude<StatsLevel, 'worker'>, number> = { district: 2, street: 3, community: 4, grid: 5 };
const DEPTH: Record<string, number> = { district: 0, street: 1, community: 2, grid: 3, micro_grid: 4 };

export function levelDepth(level: string): number {
  return DEPTH[level] ?? 99;
}

export interface KpiWindow {
  from: number;
  to: number;
  now: number;
}

export interface RegionRef {
  code: string;
  name: string;
  level: string;
  path: string;
}

export async function regionInScope(db: Queryable, scope: Scope, code: string): Promise<RegionRef | undefined> {
  const { rows } = await db.query<RegionRef>(sql`
    SELECT code, name, level, path FROM regions WHERE code = ${code} AND ${scope.covers('path')}`);
  return rows[0];
}

/** For the system scope (no jurisdiction): the first district. */
export async function firstDistrict(db: Queryable): Promise<RegionRef | undefined> {
  const { rows } = await db.query<RegionRef>(sql`SELECT code, name, level, path FROM regions WHERE level = 'district' ORDER BY code LIMIT 1`);
  return rows[0];
}

/** Regions by path (the rooms a ticket's change concerns). */
export async function regionsByPath(db: Queryable, paths: readonly string[]): Promise<RegionRef[]> {
  if (paths.length === 0) return [];
  const { rows } = await db.query<RegionRef>(sql`
    SELECT code, name, level, path FROM regions WHERE path IN (SELECT json_array_elements_text(${JSON.stringify(paths)}::json))`);
  return rows;
}

export const ratio = (num: number, den: number): Ratio => ({
  num,
  den,
  rate: den > 0 ? Math.round((num / den) * 10_000) / 10_000 : null,
});

const duration = (n: number, median: number | null, p90: number | null): Duration => ({
  n,
  medianMin: median === null ? null : Math.round(Number(median) * 10) / 10,
  p90Min: p90 === null ? null : Math.round(Number(p90) * 10) / 10,
});

export function emptyValues(): KpiValues {
  const z = ratio(0, 0);
  const d = duration(0, null, null);
  return {
    closedOnTimeRate: z, closeRate: z, registeredOnTimeRate: z, dispatchedOnTimeRate: z, handledOnTimeRate: z,
    reworkRate: z, overdue: z, onlineRate: z, patrolCoverage: z, satisfactionRate: z,
    acceptDuration: d, dispatchDuration: d, responseDuration: d, handleDuration: d,
    received: 0, overdueOpenNow: 0,
  };
}

export interface Entity {
  code: string;
  name: string;
  /** Regions: the path; workers: their home grid's path. */
  path: string;
  context: string;
}

/** The regions of `level` under `parentPath` inside the scope, or the workers (not party members) based there. */
export async function entities(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string): Promise<Entity[]> {
  if (level === 'worker') {
    const { rows } = await db.query<Entity>(sql`
      SELECT w.id::text AS code, w.name, g.path, g.name AS context
        FROM workers w JOIN regions g ON g.code = w.home_grid_code
       WHERE w.role <> 'party_member' AND w.active AND ${scope.covers('g.path')} AND g.path LIKE ${likePrefix(parentPath)}
       ORDER BY w.id`);
    return rows;
  }
  const { rows } = await db.query<Entity>(sql`
    SELECT r.code, r.name, r.path, coalesce(p.name, '') AS context
      FROM regions r LEFT JOIN regions p ON p.code = r.parent_code
     WHERE r.level = ${level} AND ${scope.covers('r.path')} AND r.path LIKE ${likePrefix(parentPath)}
     ORDER BY r.code`);
  return rows;
}

interface TicketAgg {
  k: string;
  due_in: number; closed: number; on_time: number;
  reg_n: number; reg_ok: number; disp_n: number; disp_ok: number; res_n: number; res_ok: number;
  closed_w: number; reworked: number; rated: number; satisfied: number;
  acc_med: number | null; acc_p90: number | null;
  dsp_med: number | null; dsp_p90: number | null;
  rsp_med: number | null; rsp_p90: number | null;
  hdl_med: number | null; hdl_p90: number | null;
  dsp_n: number; rsp_n: number; hdl_n: number;
}

function ticketKey(level: StatsLevel): Sql {
  return level === 'worker' ? raw('t.assigned_worker_id::text') : raw(`split_part(t.grid_path, '/', ${PART[level]})`);
}

const minutes = (later: string, earlier: string) => raw(`extract(epoch FROM (${later} - ${earlier})) / 60.0`);

/**
 * The ticket indicators per key for the window: one pass over the tickets with a stamp (or their
 * closing deadline) inside it.
 */
async function ticketAggregates(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, w: KpiWindow): Promise<Map<string, TicketAgg>> {
  const from = ts(w.from);
  const to = ts(w.to);
  const dueEnd = ts(Math.min(w.to, w.now));
  const inW = (col: string) => sql`(${raw(col)} >= ${from}::timestamptz AND ${raw(col)} <= ${to}::timestamptz)`;
  const dueIn = sql`(t.status <> 'cancelled' AND ((t.due_at >= ${from}::timestamptz AND t.due_at <= ${dueEnd}::timestamptz)
                     OR (t.status = 'closed' AND ${inW('t.closed_at')})))`;
  const closedW = sql`(t.status = 'closed' AND ${inW('t.closed_at')})`;
  const rule = (stage: string) => raw(`max(minutes) FILTER (WHERE stage = '${stage}') * interval '1 minute'`);
  const { rows } = await db.query<TicketAgg>(sql`
    WITH w AS (
      SELECT ${ticketKey(level)} AS k, t.status, t.urgency, t.received_at, t.registered_at, t.dispatched_at, t.accepted_at,
             t.resolved_at, t.closed_at, t.escalated_at, t.due_at, t.reworks, t.satisfaction
        FROM tickets t
       WHERE ${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}
         ${level === 'worker' ? sql`AND t.assigned_worker_id IS NOT NULL` : sql``}
         AND ((t.status <> 'cancelled' AND t.due_at >= ${from}::timestamptz AND t.due_at <= ${dueEnd}::timestamptz)
           OR (t.status = 'closed' AND t.closed_at >= ${from}::timestamptz AND t.closed_at <= ${to}::timestamptz)
           OR ${inW('t.registered_at')} OR ${inW('t.dispatched_at')} OR ${inW('t.accepted_at')} OR ${inW('t.resolved_at')})
    ), rules AS (
      SELECT urgency, ${rule('register')} AS reg_rule, ${rule('dispatch')} AS disp_rule, ${rule('resolve')} AS res_rule
        FROM ticket_deadline_rules GROUP BY urgency
    ), x AS (
      SELECT w.*, rules.reg_rule, rules.disp_rule, rules.res_rule FROM w JOIN rules ON rules.urgency = w.urgency
    )
    SELECT t.k,
      count(*) FILTER (WHERE ${dueIn})::int AS due_in,
      count(*) FILTER (WHERE ${dueIn} AND t.status = 'closed' AND t.closed_at <= ${to}::timestamptz)::int AS closed,
      count(*) FILTER (WHERE ${dueIn} AND t.status = 'closed' AND t.closed_at <= ${to}::timestamptz AND t.closed_at <= t.due_at)::int AS on_time,
      count(*) FILTER (WHERE ${inW('t.registered_at')})::int AS reg_n,
      count(*) FILTER (WHERE ${inW('t.registered_at')} AND t.registered_at <= t.received_at + t.reg_rule)::int AS reg_ok,
      count(*) FILTER (WHERE ${inW('t.dispatched_at')})::int AS disp_n,
      count(*) FILTER (WHERE ${inW('t.dispatched_at')} AND t.dispatched_at <= coalesce(t.registered_at, t.received_at) + t.disp_rule)::int AS disp_ok,
      count(*) FILTER (WHERE ${inW('t.resolved_at')})::int AS res_n,
      count(*) FILTER (WHERE ${inW('t.resolved_at')} AND t.resolved_at <= coalesce(t.dispatched_at, t.escalated_at, t.received_at) + t.res_rule)::int AS res_ok,
      count(*) FILTER (WHERE ${closedW})::int AS closed_w,
      count(*) FILTER (WHERE ${closedW} AND t.reworks > 0)::int AS reworked,
      count(*) FILTER (WHERE ${closedW} AND t.satisfaction IS NOT NULL)::int AS rated,
      count(*) FILTER (WHERE ${closedW} AND t.satisfaction IN ('satisfied', 'basic'))::int AS satisfied,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY ${minutes('t.registered_at', 't.received_at')}) FILTER (WHERE ${inW('t.registered_at')}) AS acc_med,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY ${minutes('t.registered_at', 't.received_at')}) FILTER (WHERE ${inW('t.registered_at')}) AS acc_p90,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY ${minutes('t.dispatched_at', 't.registered_at')}) FILTER (WHERE ${inW('t.dispatched_at')} AND t.registered_at IS NOT NULL) AS dsp_med,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY ${minutes('t.dispatched_at', 't.registered_at')}) FILTER (WHERE ${inW('t.dispatched_at')} AND t.registered_at IS NOT NULL) AS dsp_p90,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY ${minutes('t.accepted_at', 't.dispatched_at')}) FILTER (WHERE ${inW('t.accepted_at')} AND t.dispatched_at IS NOT NULL AND t.dispatched_at <= t.accepted_at) AS rsp_med,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY ${minutes('t.accepted_at', 't.dispatched_at')}) FILTER (WHERE ${inW('t.accepted_at')} AND t.dispatched_at IS NOT NULL AND t.dispatched_at <= t.accepted_at) AS rsp_p90,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY ${minutes('t.resolved_at', 't.accepted_at')}) FILTER (WHERE ${inW('t.resolved_at')} AND t.accepted_at IS NOT NULL AND t.accepted_at <= t.resolved_at) AS hdl_med,
      percentile_cont(0.9) WITHIN GROUP (ORDER BY ${minutes('t.resolved_at', 't.accepted_at')}) FILTER (WHERE ${inW('t.resolved_at')} AND t.accepted_at IS NOT NULL AND t.accepted_at <= t.resolved_at) AS hdl_p90,
      count(*) FILTER (WHERE ${inW('t.dispatched_at')} AND t.registered_at IS NOT NULL)::int AS dsp_n,
      count(*) FILTER (WHERE ${inW('t.accepted_at')} AND t.dispatched_at IS NOT NULL AND t.dispatched_at <= t.accepted_at)::int AS rsp_n,
      count(*) FILTER (WHERE ${inW('t.resolved_at')} AND t.accepted_at IS NOT NULL AND t.accepted_at <= t.resolved_at)::int AS hdl_n
      FROM x t
     GROUP BY t.k`);
  return new Map(rows.map((r) => [r.k, r]));
}

/** Tickets received in the window per key (a worker's: those they reported). */
async function receivedCounts(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, w: KpiWindow): Promise<Map<string, number>> {
  const key = level === 'worker' ? raw('t.reporter_worker_id::text') : ticketKey(level);
  const { rows } = await db.query<{ k: string; n: number }>(sql`
    SELECT ${key} AS k, count(*)::int AS n FROM tickets t
     WHERE ${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}
       AND t.received_at >= ${ts(w.from)}::timestamptz AND t.received_at <= ${ts(w.to)}::timestamptz
       ${level === 'worker' ? sql`AND t.reporter_worker_id IS NOT NULL` : sql``}
     GROUP BY 1`);
  return new Map(rows.map((r) => [r.k, r.n]));
}

/** Open tickets past their running stage's or closing deadline now, per key. */
async function overdueOpen(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, now: number): Promise<Map<string, number>> {
  const { rows } = await db.query<{ k: string; n: number }>(sql`
    SELECT ${ticketKey(level)} AS k, count(*)::int AS n FROM tickets t
     WHERE t.status NOT IN ('closed', 'cancelled') AND ${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}
       AND (t.stage_due_at < ${ts(now)}::timestamptz OR t.due_at < ${ts(now)}::timestamptz)
     GROUP BY 1`);
  return new Map(rows.map((r) => [r.k, r.n]));
}

/** Workers on shift (a fix since Shanghai midnight) and online (a fix in the last 5 minutes), per key. */
async function onlineCounts(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, now: number, midnight: number): Promise<Map<string, { on: number; shift: number }>> {
  const key = level === 'worker' ? raw('w.id::text') : raw(`split_part(g.path, '/', ${PART[level]})`);
  const { rows } = await db.query<{ k: string; on: number; shift: number }>(sql`
    SELECT ${key} AS k,
           count(*) FILTER (WHERE p.recorded_at >= ${ts(now - ONLINE_WITHIN_MS)}::timestamptz)::int AS on,
           count(*)::int AS shift
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
      JOIN worker_positions_latest p ON p.worker_id = w.id
     WHERE w.role <> 'party_member' AND w.active AND ${scope.covers('g.path')} AND g.path LIKE ${likePrefix(parentPath)}
       AND p.recorded_at >= ${ts(midnight)}::timestamptz
     GROUP BY 1`);
  return new Map(rows.map((r) => [r.k, r]));
}

/** Micro-grid-days patrolled ÷ micro-grid-days, per key, over the Shanghai days [fromDay, toDay]. */
async function coverageCounts(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, fromDay: string, toDay: string, days: number): Promise<Map<string, { visited: number; total: number }>> {
  if (level === 'worker') {
    const { rows } = await db.query<{ k: string; visited: number; total: number }>(sql`
      WITH ws AS (
        SELECT w.id, g.path FROM workers w JOIN regions g ON g.code = w.home_grid_code
         WHERE w.role <> 'party_member' AND w.active AND ${scope.covers('g.path')} AND g.path LIKE ${likePrefix(parentPath)}
      )
      SELECT ws.id::text AS k,
             (SELECT count(DISTINCT (v.day, v.micro_grid_code))::int FROM patrol_visits v JOIN regions mg ON mg.code = v.micro_grid_code
               WHERE v.worker_id = ws.id AND v.day >= ${fromDay}::date AND v.day <= ${toDay}::date AND mg.path LIKE ws.path || '%') AS visited,
             (SELECT count(*)::int FROM regions mg WHERE mg.level = 'micro_grid' AND mg.path LIKE ws.path || '%') * ${days}::int AS total
        FROM ws`);
    return new Map(rows.map((r) => [r.k, r]));
  }
  const part = raw(String(PART[level]));
  const { rows } = await db.query<{ k: string; visited: number; total: number }>(sql`
    WITH mg AS (
      SELECT code, split_part(path, '/', ${part}) AS k FROM regions
       WHERE level = 'micro_grid' AND ${scope.covers('path')} AND path LIKE ${likePrefix(parentPath)}
    ), vis AS (
      SELECT mg.k, count(DISTINCT (v.day, v.micro_grid_code))::int AS n
        FROM patrol_visits v JOIN mg ON mg.code = v.micro_grid_code
       WHERE v.day >= ${fromDay}::date AND v.day <= ${toDay}::date
       GROUP BY mg.k
    )
    SELECT mg.k, coalesce(max(vis.n), 0)::int AS visited, (count(*) * ${days}::int)::int AS total
      FROM mg LEFT JOIN vis ON vis.k = mg.k GROUP BY mg.k`);
  return new Map(rows.map((r) => [r.k, r]));
}

export interface KpiComputeInput {
  level: StatsLevel;
  parentPath: string;
  window: KpiWindow;
  /** Shanghai midnight of `now` (on shift = a fix since). */
  midnight: number;
  fromDay: string;
  toDay: string;
  days: number;
}

/** Every indicator for each key of the level under the parent. */
export async function computeKpis(db: Queryable, scope: Scope, q: KpiComputeInput): Promise<Map<string, KpiValues>> {
  const [tickets, received, overdue, online, coverage] = [
    await ticketAggregates(db, scope, q.level, q.parentPath, q.window),
    await receivedCounts(db, scope, q.level, q.parentPath, q.window),
    await overdueOpen(db, scope, q.level, q.parentPath, q.window.now),
    await onlineCounts(db, scope, q.level, q.parentPath, q.window.now, q.midnight),
    await coverageCounts(db, scope, q.level, q.parentPath, q.fromDay, q.toDay, q.days),
  ];
  const keys = new Set<string>([...tickets.keys(), ...received.keys(), ...overdue.keys(), ...online.keys(), ...coverage.keys()]);
  const out = new Map<string, KpiValues>();
  for (const k of keys) {
    const t = tickets.get(k);
    const o = online.get(k);
    const c = coverage.get(k);
    const v = emptyValues();
    if (t) {
      v.closedOnTimeRate = ratio(t.on_time, t.due_in);
      v.closeRate = ratio(t.closed, t.due_in);
      v.overdue = ratio(t.due_in - t.on_time, t.due_in);
      v.registeredOnTimeRate = ratio(t.reg_ok, t.reg_n);
      v.dispatchedOnTimeRate = ratio(t.disp_ok, t.disp_n);
      v.handledOnTimeRate = ratio(t.res_ok, t.res_n);
      v.reworkRate = ratio(t.reworked, t.closed_w);
      v.satisfactionRate = ratio(t.satisfied, t.rated);
      v.acceptDuration = duration(t.reg_n, t.acc_med, t.acc_p90);
      v.dispatchDuration = duration(t.dsp_n, t.dsp_med, t.dsp_p90);
      v.responseDuration = duration(t.rsp_n, t.rsp_med, t.rsp_p90);
      v.handleDuration = duration(t.hdl_n, t.hdl_med, t.hdl_p90);
    }
    v.received = received.get(k) ?? 0;
    v.overdueOpenNow = overdue.get(k) ?? 0;
    if (o) v.onlineRate = ratio(o.on, o.shift);
    if (c) v.patrolCoverage = ratio(c.visited, c.total);
    out.set(k, v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The leader's lists

export interface OverdueTicketRow {
  id: number;
  number: string;
  category: string;
  status: string;
  level: string;
  gridName: string;
  streetName: string;
  dueAt: string;
  overdueMin: number;
}

/** The open tickets most overdue now under the parent (closing or stage deadline passed). */
export async function overdueTickets(db: Queryable, scope: Scope, parentPath: string, now: number, limit: number): Promise<OverdueTicketRow[]> {
  const { rows } = await db.query<OverdueTicketRow & { dueAt: Date | string }>(sql`
    SELECT t.id::int AS id, t.number, c.name AS category, t.status, t.level, g.name AS "gridName", coalesce(s.name, '') AS "streetName",
           least(t.due_at, coalesce(t.stage_due_at, t.due_at)) AS "dueAt",
           floor(extract(epoch FROM (${ts(now)}::timestamptz - least(t.due_at, coalesce(t.stage_due_at, t.due_at)))) / 60)::int AS "overdueMin"
      FROM tickets t
      JOIN ticket_categories c ON c.code = t.category_code
      JOIN regions g ON g.code = t.grid_code
      LEFT JOIN regions s ON s.code = split_part(t.grid_path, '/', 3)
     WHERE t.status NOT IN ('closed', 'cancelled') AND ${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}
       AND (t.stage_due_at < ${ts(now)}::timestamptz OR t.due_at < ${ts(now)}::timestamptz)
     ORDER BY least(t.due_at, coalesce(t.stage_due_at, t.due_at)) ASC, t.id
     LIMIT ${limit}`);
  return rows.map((r) => ({ ...r, dueAt: new Date(r.dueAt).toISOString() }));
}

export interface OnlineByRole {
  role: string;
  online: number;
  onShift: number;
  total: number;
}

/** Workers by role under the parent: total, on shift and online now. */
export async function onlineByRole(db: Queryable, scope: Scope, parentPath: string, now: number, midnight: number): Promise<OnlineByRole[]> {
  const { rows } = await db.query<OnlineByRole>(sql`
    SELECT w.role,
           count(*) FILTER (WHERE p.recorded_at >= ${ts(now - ONLINE_WITHIN_MS)}::timestamptz)::int AS online,
           count(*) FILTER (WHERE p.recorded_at >= ${ts(midnight)}::timestamptz)::int AS "onShift",
           count(*)::int AS total
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
      LEFT JOIN worker_positions_latest p ON p.worker_id = w.id
     WHERE w.active AND ${scope.covers('g.path')} AND g.path LIKE ${likePrefix(parentPath)}
     GROUP BY w.role ORDER BY w.role`);
  return rows;
}

/** Tickets received per Shanghai hour of the day in [from, to) under the parent (today vs last week). */
export async function receivedByHour(db: Queryable, scope: Scope, parentPath: string, from: number, to: number): Promise<number[]> {
  const { rows } = await db.query<{ h: number; n: number }>(sql`
    SELECT floor(extract(epoch FROM (t.received_at - ${ts(from)}::timestamptz)) / 3600)::int AS h, count(*)::int AS n
      FROM tickets t
     WHERE ${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}
       AND t.received_at >= ${ts(from)}::timestamptz AND t.received_at < ${ts(to)}::timestamptz
     GROUP BY 1`);
  const out = new Array<number>(24).fill(0);
  for (const r of rows) if (r.h >= 0 && r.h < 24) out[r.h] = r.n;
  return out;
}

/**
 * 在岗 for the month's assessment: worker-hours with a patrol track (patrol_worker_hours, written by
 * the patrol job) against 8 hours a day per worker, per key.
 */
export async function onDutyHours(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, fromDay: string, toDay: string, days: number): Promise<Map<string, { hours: number; expected: number }>> {
  const key = level === 'worker' ? raw('w.id::text') : raw(`split_part(g.path, '/', ${PART[level]})`);
  const { rows } = await db.query<{ k: string; hours: number; workers: number }>(sql`
    SELECT ${key} AS k, count(*)::int AS workers,
           coalesce(sum((SELECT count(*) FROM patrol_worker_hours h
                          WHERE h.worker_id = w.id AND h.day >= ${fromDay}::date AND h.day <= ${toDay}::date AND h.distance_m > 0)), 0)::int AS hours
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.role <> 'party_member' AND w.active AND ${scope.covers('g.path')} AND g.path LIKE ${likePrefix(parentPath)}
     GROUP BY 1`);
  return new Map(rows.map((r) => [r.k, { hours: r.hours, expected: r.workers * 8 * days }]));
}

// ---------------------------------------------------------------------------------------------
// Assessment weights

export interface WeightRow {
  indicator: string;
  weight: number;
  higherBetter: boolean;
  target: number | null;
}

export async function loadWeights(db: Queryable): Promise<WeightRow[]> {
  const { rows } = await db.query<WeightRow>(sql`
    SELECT indicator, weight, higher_better AS "higherBetter", target FROM assessment_weights ORDER BY sort_order, indicator`);
  return rows.map((r) => ({ ...r, weight: Number(r.weight), target: r.target === null ? null : Number(r.target) }));
}

/** Replaces the weights (indicators left out are removed from the score). */
export async function saveWeights(tx: Queryable, weights: WeightRow[], userId: number): Promise<void> {
  await tx.query(sql`DELETE FROM assessment_weights`);
  let i = 0;
  for (const w of weights) {
    i++;
    await tx.query(sql`
      INSERT INTO assessment_weights (indicator, weight, higher_better, target, sort_order, updated_by)
      VALUES (${w.indicator}, ${w.weight}, ${w.higherBetter}, ${w.target}, ${i}, ${userId})`);
  }
}
