/**
 * Statistics: windows in Asia/Shanghai, the KPI rows of a level under a parent (ranked), the grid
 * assessment (网格考核) from the admin's weights, and the tables they export.
 */
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import type { Principal, Scope } from '../../platform/auth/scope';
import { AppError } from '../../platform/errors';
import type { ExportColumn, ExportTable } from '../../platform/exports';
import { audit } from '../auth/repository';
import { SHANGHAI_OFFSET_MS, shanghaiDate, shanghaiMidnight } from '@shared/shanghai-time';
import {
  ASSESSMENT_INDICATORS, KPI_LABELS, STATS_LEVELS,
  type Assessment, type AssessmentIndicator, type AssessmentRow, type AssessmentWeight, type KpiRow, type KpiValues,
  type StatsLevel, type StatsWindow,
} from '@shared/stats-api';
import * as repo from './repository';

const DAY_MS = 86_400_000;
/** The longest from/to window. */
export const MAX_WINDOW_DAYS = 366;

export interface ResolvedWindow {
  window: StatsWindow;
  from: number;
  to: number;
  now: number;
}

/** A Shanghai date 'YYYY-MM-DD' → its midnight (or the last millisecond of that day for `end`). */
function parseBound(value: string, end: boolean): number {
  const midnight = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) - SHANGHAI_OFFSET_MS : NaN;
  if (!Number.isFinite(midnight)) throw new AppError('VALIDATION_FAILED', `"${value}" is not a date (YYYY-MM-DD, Asia/Shanghai).`);
  return end ? midnight + DAY_MS - 1 : midnight;
}

/** The first instant of the Shanghai month holding `ms`. */
export function shanghaiMonthStart(ms: number): number {
  const d = new Date(ms + SHANGHAI_OFFSET_MS);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) - SHANGHAI_OFFSET_MS;
}

/** The bounds of a month 'YYYY-MM' in Shanghai: [first midnight, last millisecond]. */
export function monthBounds(month: string): { from: number; to: number } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const from = Date.UTC(y, m - 1, 1) - SHANGHAI_OFFSET_MS;
  const to = Date.UTC(y, m, 1) - SHANGHAI_OFFSET_MS - 1;
  return { from, to };
}

/**
 * Windows are whole Shanghai calendar days (the rollups are daily): today since midnight; 7d and
 * 30d the last 7 or 30 days including today (近7天 / 近30天); month since the first of this month;
 * from/to (window 'range', implied when from is given) Shanghai dates, both days included, at most
 * 366 days. `to` is never later than now.
 */
export function resolveWindow(q: { window?: StatsWindow | undefined; from?: string | undefined; to?: string | undefined }, now: number): ResolvedWindow {
  const window: StatsWindow = q.window ?? (q.from !== undefined ? 'range' : 'today');
  switch (window) {
    case 'today':
      return { window, from: shanghaiMidnight(now), to: now, now };
    case '7d':
      return { window, from: shanghaiMidnight(now) - 6 * DAY_MS, to: now, now };
    case '30d':
      return { window, from: shanghaiMidnight(now) - 29 * DAY_MS, to: now, now };
    case 'month':
      return { window, from: shanghaiMonthStart(now), to: now, now };
    case 'range': {
      if (q.from === undefined) throw new AppError('VALIDATION_FAILED', 'A range needs `from` (and optionally `to`).');
      const from = parseBound(q.from, false);
      const to = Math.min(q.to === undefined ? now : parseBound(q.to, true), now);
      if (to < from) throw new AppError('VALIDATION_FAILED', '`to` is before `from`.');
      if (to - from >= MAX_WINDOW_DAYS * DAY_MS) throw new AppError('VALIDATION_FAILED', `A window is at most ${MAX_WINDOW_DAYS} days.`);
      return { window, from, to, now };
    }
  }
}

/** Shanghai days from `from` to `to` inclusive. */
function dayRange(from: number, to: number): { fromDay: string; toDay: string; days: number } {
  const fromDay = shanghaiDate(from);
  const toDay = shanghaiDate(to);
  const days = Math.round((Date.parse(`${toDay}T00:00:00Z`) - Date.parse(`${fromDay}T00:00:00Z`)) / DAY_MS) + 1;
  return { fromDay, toDay, days };
}

/** Best 按期结案率 first; rows without a rate after, then by code. */
export function rankRows<T extends { code: string; values: KpiValues }>(rows: T[]): (T & { rank: number })[] {
  const sorted = [...rows].sort((a, b) => {
    const ra = a.values.closedOnTimeRate.rate;
    const rb = b.values.closedOnTimeRate.rate;
    if (ra === null && rb === null) return a.code.localeCompare(b.code);
    if (ra === null) return 1;
    if (rb === null) return -1;
    return rb - ra || b.values.closedOnTimeRate.den - a.values.closedOnTimeRate.den || a.code.localeCompare(b.code);
  });
  return sorted.map((r, i) => ({ ...r, rank: i + 1 }));
}

export interface KpiRequest {
  window?: StatsWindow | undefined;
  from?: string | undefined;
  to?: string | undefined;
  level?: StatsLevel | undefined;
  parent?: string | undefined;
}

export class StatsService {
  constructor(private readonly db: Db, private readonly clock: Clock) {}

  /** The parent region (default: the caller's jurisdiction); 404 outside it. */
  async parentOf(scope: Scope, code: string | undefined): Promise<repo.RegionRef> {
    const parentCode = code ?? scope.regionCode;
    const region = parentCode ? await repo.regionInScope(this.db, scope, parentCode) : await repo.firstDistrict(this.db);
    if (!region) throw new AppError('NOT_FOUND', 'No such region in your jurisdiction');
    return region;
  }

  /** KPI rows for each region (or worker) of `level` under `parent`, ranked. */
  async kpis(scope: Scope, q: KpiRequest): Promise<{ rows: KpiRow[]; window: ResolvedWindow; parent: repo.RegionRef; level: StatsLevel }> {
    const window = resolveWindow(q, this.clock.now());
    const parent = await this.parentOf(scope, q.parent);
    const level = q.level ?? nextLevel(parent.level);
    if (level !== 'worker' && repo.levelDepth(level) < repo.levelDepth(parent.level)) {
      throw new AppError('VALIDATION_FAILED', `level ${level} is above the parent ${parent.code} (${parent.level}).`);
    }
    const rows = await this.kpiRows(scope, level, parent.path, window);
    return { rows, window, parent, level };
  }

  async kpiRows(scope: Scope, level: StatsLevel, parentPath: string, window: ResolvedWindow): Promise<KpiRow[]> {
    const [list, values] = await Promise.all([
      repo.entities(this.db, scope, level, parentPath),
      repo.computeKpis(this.db, scope, {
        level,
        parentPath,
        window,
        midnight: shanghaiMidnight(window.now),
        ...dayRange(window.from, window.to),
      }),
    ]);
    return rankRows(list.map((e) => ({ code: e.code, name: e.name, level, rank: 0, values: values.get(e.code) ?? repo.emptyValues() })));
  }

  /** One region's totals (for the live push: a room's own figures). */
  async totals(scope: Scope, region: repo.RegionRef, window: ResolvedWindow): Promise<KpiValues> {
    const level = region.level as StatsLevel;
    const rows = await this.kpiRows(scope, level, region.path, window);
    return rows.find((r) => r.code === region.code)?.values ?? repo.emptyValues();
  }

  async overview(scope: Scope, parentCode: string | undefined) {
    const now = this.clock.now();
    const parent = await this.parentOf(scope, parentCode);
    const midnight = shanghaiMidnight(now);
    const [overdue, roles, today, lastWeek] = [
      await repo.overdueTickets(this.db, scope, parent.path, now, 20),
      await repo.onlineByRole(this.db, scope, parent.path, now, midnight),
      await repo.receivedByHour(this.db, scope, parent.path, midnight, midnight + DAY_MS),
      await repo.receivedByHour(this.db, scope, parent.path, midnight - 7 * DAY_MS, midnight - 6 * DAY_MS),
    ];
    const hourNow = Math.floor((now - midnight) / 3_600_000);
    const sumTo = (a: number[], h: number) => a.slice(0, h + 1).reduce((s, n) => s + n, 0);
    return {
      parent: { code: parent.code, name: parent.name, level: parent.level },
      at: new Date(now).toISOString(),
      overdueTickets: overdue,
      workersByRole: roles,
      receivedByHour: { today, lastWeek, hourNow, todaySoFar: sumTo(today, hourNow), lastWeekSoFar: sumTo(lastWeek, hourNow) },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Grid assessment

  async weights(): Promise<AssessmentWeight[]> {
    return (await repo.loadWeights(this.db)) as AssessmentWeight[];
  }

  async putWeights(p: Principal, weights: AssessmentWeight[], ip?: string): Promise<AssessmentWeight[]> {
    const seen = new Set<string>();
    for (const w of weights) {
      if (seen.has(w.indicator)) throw new AppError('VALIDATION_FAILED', `${w.indicator} is listed twice.`);
      seen.add(w.indicator);
      if (w.indicator === 'reportCount' && !w.target) throw new AppError('VALIDATION_FAILED', 'reportCount needs a target (the monthly count for full marks).');
    }
    if (!weights.some((w) => w.weight > 0)) throw new AppError('VALIDATION_FAILED', 'At least one indicator needs a weight above 0.');
    await this.db.transaction(async (tx) => {
      await repo.saveWeights(tx, weights, p.userId);
      await audit(tx, { userId: p.userId, action: 'stats.weights.updated', subjectType: 'assessment_weights', subjectId: 'all', detail: { weights }, ip });
    });
    return this.weights();
  }

  /**
   * The month's assessment per grid (or worker) under the parent: each indicator's value, its points
   * (0–100: a rate × 100, 1 − rate for lower-is-better, a count ÷ its target capped at 100), and the
   * score Σ weight × points ÷ Σ weight over the indicators that have a value (a den of 0 has none).
   * 在线率 for a month is 在岗: hours with a patrol track ÷ 8 h × days (the live figure means "now").
   */
  async assessment(scope: Scope, q: { month?: string | undefined; level?: 'grid' | 'worker' | undefined; parent?: string | undefined }): Promise<Assessment> {
    const now = this.clock.now();
    const month = q.month ?? shanghaiDate(now).slice(0, 7);
    const bounds = monthBounds(month);
    if (bounds.from > now) throw new AppError('VALIDATION_FAILED', `${month} has not begun.`);
    const window: ResolvedWindow = { window: 'range', from: bounds.from, to: Math.min(bounds.to, now), now };
    const level = q.level ?? 'grid';
    const parent = await this.parentOf(scope, q.parent);
    const weights = await this.weights();
    const rows = await this.kpiRows(scope, level, parent.path, window);
    const { fromDay, toDay, days } = dayRange(window.from, window.to);
    const onDuty = await repo.onDutyHours(this.db, scope, level, parent.path, fromDay, toDay, days);
    const entities = new Map((await repo.entities(this.db, scope, level, parent.path)).map((e) => [e.code, e]));
    const scored: AssessmentRow[] = rows.map((r) => {
      const indicators: AssessmentRow['indicators'] = {};
      let sum = 0;
      let wsum = 0;
      for (const w of weights) {
        const { value, num, den } = indicatorValue(w.indicator, r.values, onDuty.get(r.code));
        let points: number | null = null;
        if (value !== null) {
          if (w.indicator === 'reportCount') points = Math.min(100, (value / (w.target ?? 1)) * 100);
          else points = (w.higherBetter ? value : 1 - value) * 100;
          points = Math.round(points * 10) / 10;
          sum += w.weight * points;
          wsum += w.weight;
        }
        indicators[w.indicator] = { value, points, num, den };
      }
      return {
        rank: 0,
        code: r.code,
        name: r.name,
        context: entities.get(r.code)?.context ?? '',
        score: wsum > 0 ? Math.round((sum / wsum) * 10) / 10 : null,
        indicators,
      };
    });
    scored.sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.code.localeCompare(b.code));
    scored.forEach((r, i) => (r.rank = i + 1));
    return { month, level, from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString(), weights, rows: scored };
  }
}

function indicatorValue(indicator: AssessmentIndicator, v: KpiValues, onDuty: { hours: number; expected: number } | undefined): { value: number | null; num: number; den: number } {
  switch (indicator) {
    case 'reportCount':
      return { value: v.received, num: v.received, den: 1 };
    case 'onlineRate': {
      const num = onDuty?.hours ?? 0;
      const den = onDuty?.expected ?? 0;
      return { value: den > 0 ? Math.min(1, num / den) : null, num, den };
    }
    default: {
      const r = v[indicator];
      return { value: r.rate, num: r.num, den: r.den };
    }
  }
}

export function nextLevel(level: string): StatsLevel {
  const i = STATS_LEVELS.indexOf(level as StatsLevel);
  return STATS_LEVELS[Math.min(i + 1, STATS_LEVELS.length - 1)] ?? 'grid';
}

// ---------------------------------------------------------------------------------------------
// Export tables

const pct = '0.0%';
const rateCol = (key: keyof KpiValues, width = 12): ExportColumn<KpiRow>[] => [
  { key: (r) => (r.values[key] as { rate: number | null }).rate, header: KPI_LABELS[key as 'closeRate'].zh, width, numFmt: pct },
  { key: (r) => (r.values[key] as { num: number }).num, header: `${KPI_LABELS[key as 'closeRate'].zh}·分子`, width: 10 },
  { key: (r) => (r.values[key] as { den: number }).den, header: `${KPI_LABELS[key as 'closeRate'].zh}·分母`, width: 10 },
];
const durCol = (key: 'acceptDuration' | 'dispatchDuration' | 'responseDuration' | 'handleDuration'): ExportColumn<KpiRow>[] => [
  { key: (r) => r.values[key].medianMin, header: `${KPI_LABELS[key].zh}中位数(分钟)`, width: 14 },
  { key: (r) => r.values[key].p90Min, header: `${KPI_LABELS[key].zh}P90(分钟)`, width: 14 },
];

const LEVEL_ZH: Record<string, string> = { district: '区', street: '街道', community: '社区', grid: '网格', worker: '网格员' };

export function kpiTable(rows: KpiRow[], level: StatsLevel): ExportTable<KpiRow> {
  return {
    sheetName: `${LEVEL_ZH[level]}指标`,
    columns: [
      { key: 'rank', header: '排名', width: 6 },
      { key: 'code', header: '编码', width: 16 },
      { key: 'name', header: LEVEL_ZH[level] ?? '名称', width: 24 },
      ...rateCol('closedOnTimeRate', 12),
      ...rateCol('closeRate'),
      { key: (r) => r.values.overdue.num, header: '超期数', width: 8 },
      ...rateCol('registeredOnTimeRate'),
      ...rateCol('dispatchedOnTimeRate'),
      ...rateCol('handledOnTimeRate'),
      ...rateCol('reworkRate'),
      ...rateCol('satisfactionRate'),
      ...rateCol('onlineRate'),
      ...rateCol('patrolCoverage'),
      ...durCol('acceptDuration'),
      ...durCol('dispatchDuration'),
      ...durCol('responseDuration'),
      ...durCol('handleDuration'),
      { key: (r) => r.values.received, header: '受理数', width: 8 },
      { key: (r) => r.values.overdueOpenNow, header: '当前超期未结', width: 12 },
    ],
    rows,
  };
}

export function assessmentTable(a: Assessment): ExportTable<AssessmentRow> {
  const columns: ExportColumn<AssessmentRow>[] = [
    { key: 'rank', header: '排名', width: 6 },
    { key: 'code', header: '编码', width: 16 },
    { key: 'name', header: a.level === 'worker' ? '网格员' : '网格', width: 22 },
    { key: 'context', header: a.level === 'worker' ? '所属网格' : '所属社区', width: 22 },
    { key: 'score', header: '综合得分', width: 10 },
  ];
  for (const w of a.weights) {
    const label = KPI_LABELS[w.indicator as AssessmentIndicator]?.zh ?? w.indicator;
    const isCount = w.indicator === 'reportCount';
    const name = w.indicator === 'onlineRate' ? '在岗率' : label;
    columns.push({ key: (r) => r.indicators[w.indicator]?.value ?? null, header: `${name}(权重${w.weight})`, width: 16, ...(isCount ? {} : { numFmt: pct }) });
    columns.push({ key: (r) => r.indicators[w.indicator]?.points ?? null, header: `${name}得分`, width: 10 });
  }
  return { sheetName: `网格考核 ${a.month}`, columns, rows: a.rows };
}

export { ASSESSMENT_INDICATORS };
