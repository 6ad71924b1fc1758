/**
 * Statistics (issue 12): the KPI and grid-assessment contract. TypeBox schemas with their inferred
 * types under the same name; the server validates and serialises with them, the client imports them.
 *
 * Definitions (GB/T 30428.4, CJ/T 292), as server/modules/stats/repository.ts computes them; every
 * rate is { num, den, rate } with rate = num ÷ den, or null when den is 0.
 */
import { Type, type Static, type TSchema } from 'typebox';
import type { UserRole } from './domain';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);

/** Who may read statistics: everyone but grid workers (each inside their own jurisdiction). */
export const STATS_ROLES: UserRole[] = ['admin', 'leader', 'operator', 'dispatcher'];
/** Who may open the leader's screen (/command). */
export const COMMAND_ROLES: UserRole[] = ['admin', 'leader'];

export const STATS_WINDOWS = ['today', '7d', '30d', 'month', 'range'] as const;
export type StatsWindow = (typeof STATS_WINDOWS)[number];

export const STATS_LEVELS = ['district', 'street', 'community', 'grid', 'worker'] as const;
export type StatsLevel = (typeof STATS_LEVELS)[number];

/** The rate indicators, in the order the tables show them. */
export const RATE_KPIS = [
  'closedOnTimeRate',
  'closeRate',
  'registeredOnTimeRate',
  'dispatchedOnTimeRate',
  'handledOnTimeRate',
  'reworkRate',
  'overdue',
  'onlineRate',
  'patrolCoverage',
  'satisfactionRate',
] as const;
export type RateKpi = (typeof RATE_KPIS)[number];

/** Durations between stages, in minutes. */
export const DURATION_KPIS = ['acceptDuration', 'dispatchDuration', 'responseDuration', 'handleDuration'] as const;
export type DurationKpi = (typeof DURATION_KPIS)[number];

export const KPI_LABELS: Record<RateKpi | DurationKpi | 'reportCount', { zh: string; en: string }> = {
  closedOnTimeRate: { zh: '按期结案率', en: 'Closed on time' },
  closeRate: { zh: '结案率', en: 'Close rate' },
  registeredOnTimeRate: { zh: '按期立案率', en: 'Registered on time' },
  dispatchedOnTimeRate: { zh: '按期派遣率', en: 'Dispatched on time' },
  handledOnTimeRate: { zh: '按期处置率', en: 'Handled on time' },
  reworkRate: { zh: '返工率', en: 'Rework rate' },
  overdue: { zh: '超期数', en: 'Overdue' },
  onlineRate: { zh: '网格员在线率', en: 'Workers online' },
  patrolCoverage: { zh: '巡查覆盖率', en: 'Patrol coverage' },
  satisfactionRate: { zh: '群众满意率', en: 'Satisfaction' },
  acceptDuration: { zh: '受理时长', en: 'Time to register' },
  dispatchDuration: { zh: '派遣时长', en: 'Time to dispatch' },
  responseDuration: { zh: '响应时长', en: 'Time to respond' },
  handleDuration: { zh: '处置时长', en: 'Time to handle' },
  reportCount: { zh: '上报数', en: 'Reports' },
};

export const Ratio = Type.Object({
  num: Type.Integer(),
  den: Type.Integer(),
  rate: Nullable(Type.Number()),
});
export type Ratio = Static<typeof Ratio>;

export const Duration = Type.Object({
  /** Tickets measured. */
  n: Type.Integer(),
  medianMin: Nullable(Type.Number()),
  p90Min: Nullable(Type.Number()),
});
export type Duration = Static<typeof Duration>;

export const KpiValues = Type.Object({
  /** 按期结案率 (headline) = closed by the closing deadline ÷ 应结案数. */
  closedOnTimeRate: Ratio,
  /** 结案率 = closed by the window's end ÷ 应结案数. */
  closeRate: Ratio,
  /** 按期立案率 = registered within the register deadline ÷ registered in the window. */
  registeredOnTimeRate: Ratio,
  /** 按期派遣率 = dispatched within the dispatch deadline ÷ dispatched in the window. */
  dispatchedOnTimeRate: Ratio,
  /** 按期处置率 = resolved within the handling deadline ÷ resolved in the window. */
  handledOnTimeRate: Ratio,
  /** 返工率 = closed in the window after at least one rework or reopening ÷ closed in the window. */
  reworkRate: Ratio,
  /** 超期数 = 应结案 tickets not closed by their deadline (num); den = 应结案数. */
  overdue: Ratio,
  /** 网格员在线率 (now) = on shift with a fix in the last 5 min ÷ on shift (a fix since midnight). */
  onlineRate: Ratio,
  /** 巡查覆盖率 = Σ per day micro-grids patrolled ÷ (micro-grids × days) over the window. */
  patrolCoverage: Ratio,
  /** 群众满意率 = (满意 + 基本满意) ÷ rated at closing, among tickets closed in the window. */
  satisfactionRate: Ratio,
  acceptDuration: Duration,
  dispatchDuration: Duration,
  responseDuration: Duration,
  handleDuration: Duration,
  /** Tickets received in the window (上报数 for a worker: the ones they reported). */
  received: Type.Integer(),
  /** Open now and past their closing or stage deadline (any receipt time). */
  overdueOpenNow: Type.Integer(),
});
export type KpiValues = Static<typeof KpiValues>;

export const KpiRow = Type.Object({
  code: Type.String(),
  name: Type.String(),
  level: literals(STATS_LEVELS),
  /** 1 = best 按期结案率 (rows without a rate come last). */
  rank: Type.Integer(),
  values: KpiValues,
});
export type KpiRow = Static<typeof KpiRow>;

export const KpiList = Type.Array(KpiRow);
export type KpiList = Static<typeof KpiList>;

const DATE = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
const MONTH = '^[0-9]{4}-(0[1-9]|1[0-2])$';

export const KpiQuery = Type.Object(
  {
    /** today (since midnight Asia/Shanghai), 7d and 30d (the last 7 or 30 days including today), month (this calendar month), or range with from/to. */
    window: Type.Optional(literals(STATS_WINDOWS)),
    /** Shanghai dates (YYYY-MM-DD), both included. */
    from: Type.Optional(Type.String({ pattern: DATE })),
    to: Type.Optional(Type.String({ pattern: DATE })),
    level: Type.Optional(literals(STATS_LEVELS)),
    /** A region code inside the caller's jurisdiction (default: the jurisdiction itself). */
    parent: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,40}$' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('xlsx'), Type.Literal('csv')])),
  },
  { additionalProperties: false },
);
export type KpiQuery = Static<typeof KpiQuery>;

export { DATE as STATS_DATE_PATTERN, MONTH as STATS_MONTH_PATTERN };

// ---------------------------------------------------------------------------------------------
// Grid assessment (网格考核)

export const ASSESSMENT_INDICATORS = [
  'closedOnTimeRate',
  'closeRate',
  'registeredOnTimeRate',
  'dispatchedOnTimeRate',
  'handledOnTimeRate',
  'reportCount',
  'patrolCoverage',
  'onlineRate',
  'satisfactionRate',
  'reworkRate',
] as const;
export type AssessmentIndicator = (typeof ASSESSMENT_INDICATORS)[number];

export const AssessmentWeight = Type.Object({
  indicator: literals(ASSESSMENT_INDICATORS),
  weight: Type.Number({ minimum: 0, maximum: 100 }),
  /** false: lower is better (返工率): the score uses 1 − value. */
  higherBetter: Type.Boolean(),
  /** For counts (上报数): the monthly figure that earns full marks. */
  target: Nullable(Type.Number({ exclusiveMinimum: 0 })),
});
export type AssessmentWeight = Static<typeof AssessmentWeight>;

export const AssessmentWeights = Type.Array(AssessmentWeight, { maxItems: ASSESSMENT_INDICATORS.length });
export type AssessmentWeights = Static<typeof AssessmentWeights>;

export const AssessmentQuery = Type.Object(
  {
    /** YYYY-MM (Asia/Shanghai); default this month. */
    month: Type.Optional(Type.String({ pattern: MONTH })),
    /** grid (default) or worker. */
    level: Type.Optional(Type.Union([Type.Literal('grid'), Type.Literal('worker')])),
    parent: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,40}$' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('xlsx'), Type.Literal('csv')])),
  },
  { additionalProperties: false },
);
export type AssessmentQuery = Static<typeof AssessmentQuery>;

export const AssessmentRow = Type.Object({
  rank: Type.Integer(),
  code: Type.String(),
  name: Type.String(),
  /** Street and community names (grid rows) or the home grid (worker rows). */
  context: Type.String(),
  /** 0–100, or null when no indicator has a value. */
  score: Nullable(Type.Number()),
  /** Each indicator's value (0–1 for rates, a count for reportCount) and its 0–100 points. */
  indicators: Type.Record(Type.String(), Type.Object({ value: Nullable(Type.Number()), points: Nullable(Type.Number()), num: Type.Integer(), den: Type.Integer() })),
});
export type AssessmentRow = Static<typeof AssessmentRow>;

export const Assessment = Type.Object({
  month: Type.String(),
  level: Type.String(),
  from: Type.String(),
  to: Type.String(),
  weights: AssessmentWeights,
  rows: Type.Array(AssessmentRow),
});
export type Assessment = Static<typeof Assessment>;

// ---------------------------------------------------------------------------------------------
// Realtime

/**
 * `stats.update`, pushed (throttled) to each jurisdiction room after ticket transitions inside it:
 * today's totals of that region. A screen showing another window or level refetches on it.
 */
export interface StatsUpdate {
  regionCode: string;
  regionPath: string;
  window: 'today';
  at: string;
  total: KpiValues;
}

/** 回访 ratings a desk records when it closes a ticket. */
export const SATISFACTION_LEVELS = ['satisfied', 'basic', 'unsatisfied'] as const;
export type Satisfaction = (typeof SATISFACTION_LEVELS)[number];
