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
import { raw, sql, type Db, type Queryable, type Sql } from '../../platform/db';
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

/** A duration histogram: bucket (minutes, see kpi_minutes_bucket in migration 009) → tickets. */
export type Histogram = Record<string, number>;

/** What the tickets did in the window, per key: the additive parts of the indicators. */
export interface TicketCounts {
  received: number;
  reg_n: number; reg_ok: number;
  disp_n: number; disp_ok: number;
  res_n: number; res_ok: number;
  closed: number; on_time: number; reworked: number; rated: number; satisfied: number;
  acc: Histogram; dsp: Histogram; rsp: Histogram; hdl: Histogram;
}

const COUNT_FIELDS = ['received', 'reg_n', 'reg_ok', 'disp_n', 'disp_ok', 'res_n', 'res_ok', 'closed', 'on_time', 'reworked', 'rated', 'satisfied'] as const;
const HIST_FIELDS = ['acc', 'dsp', 'rsp', 'hdl'] as const;

function emptyCounts(): TicketCounts {
  return {
    received: 0, reg_n: 0, reg_ok: 0, disp_n: 0, disp_ok: 0, res_n: 0, res_ok: 0,
    closed: 0, on_time: 0, reworked: 0, rated: 0, satisfied: 0, acc: {}, dsp: {}, rsp: {}, hdl: {},
  };
}

function addCounts(into: TicketCounts, row: Record<string, unknown>): void {
  for (const f of COUNT_FIELDS) into[f] += Number(row[f] ?? 0);
  for (const f of HIST_FIELDS) {
    const cell = row[f];
    const h = (typeof cell === 'string' ? JSON.parse(cell) : cell) as Histogram | Histogram[] | null | undefined;
    for (const one of Array.isArray(h) ? h : h ? [h] : []) {
      if (!one) continue;
      for (const [b, n] of Object.entries(one)) into[f][b] = (into[f][b] ?? 0) + Number(n);
    }
  }
}

/**
 * PostgreSQL's percentile_cont over the histogram's values (each bucket's minutes, `count` times):
 * the value at position p × (n − 1), interpolated between neighbours.
 */
export function histogramPercentile(h: Histogram, p: number): number | null {
  const buckets = Object.entries(h).map(([b, n]) => [Number(b), n] as const).filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const n = buckets.reduce((s, [, c]) => s + c, 0);
  if (n === 0) return null;
  const pos = p * (n - 1);
  const lo = Math.floor(pos);
  const at = (i: number): number => {
    let seen = 0;
    for (const [v, c] of buckets) {
      seen += c;
      if (i < seen) return v;
    }
    return buckets.at(-1)![0];
  };
  const a = at(lo);
  return lo + 1 < n ? a + (pos - lo) * (at(lo + 1) - a) : a;
}

const SHANGHAI_DAY = (col: string) => `((${col} AT TIME ZONE 'UTC') + interval '8 hours')::date`;

/**
 * One row per thing a ticket did inside [from, to): received ('rcv'), registered ('reg', with the
 * 受理 duration and on-time flag), dispatched ('dsp'), accepted ('rsp', the response duration),
 * resolved ('res', on-time flag and the handling duration), closed ('cls', on time, reworked,
 * rated, satisfied) — with the ticket's grid path, worker and Shanghai day. The single definition
 * both the rollups and the grid/worker figures are computed from.
 */
function factsSql(from: string, to: string, where: Sql): Sql {
  const inR = (col: string) => sql`(${raw(col)} >= ${from}::timestamptz AND ${raw(col)} < ${to}::timestamptz)`;
  const mins = (later: string, earlier: string) => raw(`kpi_minutes_bucket(extract(epoch FROM (${later} - ${earlier})) / 60.0)`);
  const rule = (stage: string) => raw(`max(minutes) FILTER (WHERE stage = '${stage}') * interval '1 minute'`);
  return sql`
    WITH rules AS (
      SELECT urgency, ${rule('register')} AS reg_rule, ${rule('dispatch')} AS disp_rule, ${rule('resolve')} AS res_rule
        FROM ticket_deadline_rules GROUP BY urgency
    ), t AS (
      SELECT t.grid_path, t.assigned_worker_id AS worker, t.reporter_worker_id AS reporter, t.status, t.received_at, t.registered_at,
             t.dispatched_at, t.accepted_at, t.resolved_at, t.closed_at, t.escalated_at, t.due_at, t.reworks, t.satisfaction,
             r.reg_rule, r.disp_rule, r.res_rule
        FROM tickets t JOIN rules r ON r.urgency = t.urgency
       WHERE ${where}
         AND (${inR('t.received_at')} OR ${inR('t.registered_at')} OR ${inR('t.dispatched_at')} OR ${inR('t.accepted_at')}
              OR ${inR('t.resolved_at')} OR (t.status = 'closed' AND ${inR('t.closed_at')}))
    ), f AS (
      SELECT grid_path, reporter AS worker, ${raw(SHANGHAI_DAY('received_at'))} AS day, 'rcv' AS m, NULL::int AS v, NULL::boolean AS ok, NULL::boolean AS rw, NULL::text AS sat
        FROM t WHERE ${inR('received_at')}
      UNION ALL
      SELECT grid_path, worker, ${raw(SHANGHAI_DAY('registered_at'))}, 'reg', ${mins('registered_at', 'received_at')}, registered_at <= received_at + reg_rule, NULL, NULL
        FROM t WHERE ${inR('registered_at')}
      UNION ALL
      SELECT grid_path, worker, ${raw(SHANGHAI_DAY('dispatched_at'))}, 'dsp',
             CASE WHEN registered_at IS NOT NULL THEN ${mins('dispatched_at', 'registered_at')} END,
             dispatched_at <= coalesce(registered_at, received_at) + disp_rule, NULL, NULL
        FROM t WHERE ${inR('dispatched_at')}
      UNION ALL
      SELECT grid_path, worker, ${raw(SHANGHAI_DAY('accepted_at'))}, 'rsp', ${mins('accepted_at', 'dispatched_at')}, NULL, NULL, NULL
        FROM t WHERE ${inR('accepted_at')} AND dispatched_at IS NOT NULL AND dispatched_at <= accepted_at
      UNION ALL
      SELECT grid_path, worker, ${raw(SHANGHAI_DAY('resolved_at'))}, 'res',
             CASE WHEN accepted_at IS NOT NULL AND accepted_at <= resolved_at THEN ${mins('resolved_at', 'accepted_at')} END,
             resolved_at <= coalesce(dispatched_at, escalated_at, received_at) + res_rule, NULL, NULL
        FROM t WHERE ${inR('resolved_at')}
      UNION ALL
      SELECT grid_path, worker, ${raw(SHANGHAI_DAY('closed_at'))}, 'cls', NULL, closed_at <= due_at, reworks > 0, satisfaction
        FROM t WHERE status = 'closed' AND ${inR('closed_at')}
    )`;
}

/** Counters (`c`) and histograms (`h`) from the facts in `source`, grouped by `key` (and `extraGroup`). */
function aggregateFactsFrom(source: string, key: Sql, extraGroup: Sql = sql``): Sql {
  const hist = (m: string) => raw(`coalesce(jsonb_object_agg(h.v::text, h.n) FILTER (WHERE h.m = '${m}' AND h.v IS NOT NULL), '{}'::jsonb)`);
  return sql`
    , keyed AS (
      SELECT ${key} AS k, src.* FROM ${raw(source)} src
    ), c AS (
      SELECT k ${extraGroup},
             count(*) FILTER (WHERE m = 'rcv')::int AS received,
             count(*) FILTER (WHERE m = 'reg')::int AS reg_n, count(*) FILTER (WHERE m = 'reg' AND ok)::int AS reg_ok,
             count(*) FILTER (WHERE m = 'dsp')::int AS disp_n, count(*) FILTER (WHERE m = 'dsp' AND ok)::int AS disp_ok,
             count(*) FILTER (WHERE m = 'res')::int AS res_n, count(*) FILTER (WHERE m = 'res' AND ok)::int AS res_ok,
             count(*) FILTER (WHERE m = 'cls')::int AS closed, count(*) FILTER (WHERE m = 'cls' AND ok)::int AS on_time,
             count(*) FILTER (WHERE m = 'cls' AND rw)::int AS reworked, count(*) FILTER (WHERE m = 'cls' AND sat IS NOT NULL)::int AS rated,
             count(*) FILTER (WHERE m = 'cls' AND sat IN ('satisfied', 'basic'))::int AS satisfied
        FROM keyed GROUP BY k ${extraGroup}
    ), hv AS (
      SELECT k ${extraGroup}, hm AS m, v, count(*)::int AS n
        FROM (SELECT keyed.*, CASE m WHEN 'reg' THEN 'acc' WHEN 'dsp' THEN 'dsp' WHEN 'rsp' THEN 'rsp' ELSE 'hdl' END AS hm
                FROM keyed WHERE v IS NOT NULL AND m IN ('reg', 'dsp', 'rsp', 'res')) x
       GROUP BY k ${extraGroup}, hm, v
    ), h AS (
      SELECT k ${extraGroup}, ${hist('acc')} AS acc, ${hist('dsp')} AS dsp, ${hist('rsp')} AS rsp, ${hist('hdl')} AS hdl
        FROM hv h GROUP BY k ${extraGroup}
    )`;
}

const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`) - 8 * 3_600_000;
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/**
 * Brings the daily rollups of [fromDay, toDay] up to date: recomputes every day a ticket change has
 * touched since it was last computed (all at once, under an advisory lock so two readers do not
 * both write), and marks it computed at the version it read.
 */
export async function refreshRollups(db: Db, fromDay: string, toDay: string): Promise<number> {
  const stale = async (q: Queryable) => (await q.query<{ day: string; version: number }>(sql`
    SELECT day::text AS day, version FROM ticket_kpi_days
     WHERE day >= ${fromDay}::date AND day <= ${toDay}::date AND version > computed_version ORDER BY day`)).rows;
  const pending = await stale(db);
  let done = 0;
  // A month of days per statement: a year rebuilt at once would outlast the statement timeout.
  for (let i = 0; i < pending.length; i += ROLLUP_BATCH_DAYS) {
    const batch = pending.slice(i, i + ROLLUP_BATCH_DAYS);
    done += await db.transaction(async (tx) => {
      await tx.query(sql`SELECT pg_advisory_xact_lock(7414009)`);
      // Another reader may have done them meanwhile.
      const days = (await stale(tx)).filter((d) => batch.some((b) => b.day === d.day));
      if (days.length === 0) return 0;
      await recompute(tx, days);
      return days.length;
    });
  }
  return done;
}

/** Days per rollup statement. */
const ROLLUP_BATCH_DAYS = 31;

async function recompute(tx: Queryable, days: { day: string; version: number }[]): Promise<void> {
  const first = days[0]!.day;
  const last = days.at(-1)!.day;
  const list = JSON.stringify(days.map((d) => d.day));
  await tx.query(sql`DELETE FROM ticket_kpi_daily WHERE day IN (SELECT json_array_elements_text(${list}::json)::date)`);
  const from = new Date(dayStart(first)).toISOString();
  const to = new Date(dayStart(addDays(last, 1))).toISOString();
  await tx.query(sql`
    ${factsSql(from, to, raw('true'))}
    , fd AS (SELECT * FROM f WHERE day IN (SELECT json_array_elements_text(${list}::json)::date))
    , fx AS (
      SELECT r.code AS region_code, fd.* FROM fd
        CROSS JOIN LATERAL (VALUES (split_part(fd.grid_path, '/', 2)), (split_part(fd.grid_path, '/', 3)), (split_part(fd.grid_path, '/', 4))) r(code)
    )
    ${aggregateFactsFrom('fx', raw('region_code'), raw(', day'))}
    INSERT INTO ticket_kpi_daily (day, region_code, received, reg_n, reg_ok, disp_n, disp_ok, res_n, res_ok, closed, on_time, reworked, rated, satisfied, acc, dsp, rsp, hdl)
    SELECT c.day, c.k, c.received, c.reg_n, c.reg_ok, c.disp_n, c.disp_ok, c.res_n, c.res_ok, c.closed, c.on_time, c.reworked, c.rated, c.satisfied,
           coalesce(h.acc, '{}'), coalesce(h.dsp, '{}'), coalesce(h.rsp, '{}'), coalesce(h.hdl, '{}')
      FROM c LEFT JOIN h ON h.k = c.k AND h.day = c.day`);
  for (const d of days) {
    await tx.query(sql`UPDATE ticket_kpi_days SET computed_version = GREATEST(computed_version, ${d.version}) WHERE day = ${d.day}::date`);
  }
}

/** The window's ticket counters per key: from the daily rollups for district, street and community; from the tickets for grid and worker. */
async function ticketCounts(db: Db, scope: Scope, level: StatsLevel, parentPath: string, w: KpiWindow, fromDay: string, toDay: string): Promise<Map<string, TicketCounts>> {
  const out = new Map<string, TicketCounts>();
  if (level === 'district' || level === 'street' || level === 'community') {
    await refreshRollups(db, fromDay, toDay);
    // One row per region and day, summed here: jsonb_agg over the histograms costs more than the sums.
    const { rows } = await db.query<Record<string, unknown> & { k: string }>(sql`
      SELECT r.code AS k, ${raw(COUNT_FIELDS.map((f) => `d.${f}`).join(', '))}, ${raw(HIST_FIELDS.map((f) => `d.${f}`).join(', '))}
        FROM ticket_kpi_daily d JOIN regions r ON r.code = d.region_code
       WHERE r.level = ${level} AND ${scope.covers('r.path')} AND r.path LIKE ${likePrefix(parentPath)}
         AND d.day >= ${fromDay}::date AND d.day <= ${toDay}::date`);
    for (const r of rows) {
      let c = out.get(r.k);
      if (!c) out.set(r.k, (c = emptyCounts()));
      addCounts(c, r);
    }
    return out;
  }
  const key = level === 'worker' ? raw('src.worker::text') : raw(`split_part(src.grid_path, '/', ${PART[level]})`);
  const { rows } = await db.query<Record<string, unknown> & { k: string }>(sql`
    ${factsSql(ts(w.from), ts(w.to + 1), sql`${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}`)}
    ${aggregateFactsFrom('f', key)}
    SELECT c.*, h.acc, h.dsp, h.rsp, h.hdl FROM c LEFT JOIN h ON h.k = c.k WHERE c.k IS NOT NULL`);
  for (const r of rows) {
    const c = emptyCounts();
    addCounts(c, r);
    out.set(r.k, c);
  }
  return out;
}

/**
 * Open tickets (not closed, not cancelled), per key: those whose closing deadline fell in
 * [from, min(to, now)] (the open part of 应结案), and those past their running stage's or closing
 * deadline now (超期未结). One pass over the open tickets (a partial index).
 */
async function openCounts(db: Queryable, scope: Scope, level: StatsLevel, parentPath: string, w: KpiWindow): Promise<Map<string, { due: number; late: number }>> {
  const now = ts(w.now);
  const { rows } = await db.query<{ k: string; due: number; late: number }>(sql`
    SELECT ${ticketKey(level)} AS k,
           count(*) FILTER (WHERE t.due_at >= ${ts(w.from)}::timestamptz AND t.due_at <= ${ts(Math.min(w.to, w.now))}::timestamptz)::int AS due,
           count(*) FILTER (WHERE t.stage_due_at < ${now}::timestamptz OR t.due_at < ${now}::timestamptz)::int AS late
      FROM tickets t
     WHERE t.status NOT IN ('closed', 'cancelled') AND ${scope.covers('t.grid_path')} AND t.grid_path LIKE ${likePrefix(parentPath)}
     GROUP BY 1`);
  return new Map(rows.map((r) => [r.k, r]));
}

function ticketKey(level: StatsLevel): Sql {
  return level === 'worker' ? raw('t.assigned_worker_id::text') : raw(`split_part(t.grid_path, '/', ${PART[level]})`);
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
export async function computeKpis(db: Db, scope: Scope, q: KpiComputeInput): Promise<Map<string, KpiValues>> {
  // Independent reads: concurrent on a server pool (PGlite runs them one after another anyway).
  const [tickets, open, online, coverage] = await Promise.all([
    ticketCounts(db, scope, q.level, q.parentPath, q.window, q.fromDay, q.toDay),
    openCounts(db, scope, q.level, q.parentPath, q.window),
    onlineCounts(db, scope, q.level, q.parentPath, q.window.now, q.midnight),
    coverageCounts(db, scope, q.level, q.parentPath, q.fromDay, q.toDay, q.days),
  ]);
  const keys = new Set<string>([...tickets.keys(), ...open.keys(), ...online.keys(), ...coverage.keys()]);
  const out = new Map<string, KpiValues>();
  for (const k of keys) {
    const t = tickets.get(k) ?? emptyCounts();
    const o = online.get(k);
    const c = coverage.get(k);
    const v = emptyValues();
    const due = t.closed + (open.get(k)?.due ?? 0);
    v.closedOnTimeRate = ratio(t.on_time, due);
    v.closeRate = ratio(t.closed, due);
    v.overdue = ratio(due - t.on_time, due);
    v.registeredOnTimeRate = ratio(t.reg_ok, t.reg_n);
    v.dispatchedOnTimeRate = ratio(t.disp_ok, t.disp_n);
    v.handledOnTimeRate = ratio(t.res_ok, t.res_n);
    v.reworkRate = ratio(t.reworked, t.closed);
    v.satisfactionRate = ratio(t.satisfied, t.rated);
    const dur = (h: Histogram) => duration(Object.values(h).reduce((a, b) => a + b, 0), histogramPercentile(h, 0.5), histogramPercentile(h, 0.9));
    v.acceptDuration = dur(t.acc);
    v.dispatchDuration = dur(t.dsp);
    v.responseDuration = dur(t.rsp);
    v.handleDuration = dur(t.hdl);
    v.received = t.received;
    v.overdueOpenNow = open.get(k)?.late ?? 0;
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
