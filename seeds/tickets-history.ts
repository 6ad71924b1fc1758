/**
 * Thirty days of ticket history, so the wall's heatmap and counters mean something at first start.
 *
 * Volume from Zhangqiu's published week (10,471 tickets for 1,782 grids, 10–17 Feb 2023) scaled by
 * the district's grid count, over the hours of the day (few at night, peaks mid-morning and
 * afternoon) and the week; classes in the published mix. Each ticket sits at a point inside a grid
 * chosen uniformly (grids are sized by households, so this follows where people live), is handled
 * by a worker of that grid and has a complete timeline through the GB/T 30428 stages with delays
 * inside the deadline table — except the few closed late (按期结案率 ≈ 94 %) and the few escalated
 * when their handling overran. A small share was never registered or was cancelled, with a reason.
 * Each timeline is planned whole and then cut at the seeding time: what had not happened yet has not
 * happened, so the newest tickets are still open at the stage they had reached (with that stage's
 * running deadline, and an open offer when one was waiting for its worker's answer), as a centre's
 * queue is at any moment, and "today" counts what was received and closed today.
 *
 * Deterministic for a given district, clock and length: the same rows every time, on both engines.
 */
import { raw, sql, type Db, type Queryable, type Sql } from '../server/platform/db';
import { systemClock, type Clock } from '../server/platform/clock';
import {
  DEFAULT_DEADLINE_RULES,
  ESCALATION_LEVEL_LABELS,
  TICKET_STAGE_LABELS,
  TICKET_STAGES,
  TICKET_URGENCIES,
  formatTicketNumber,
  nextStageWindow,
  ticketDay,
  type DeadlineRules,
  type EscalationLevel,
  type StageWindow,
  type TicketEventKind,
  type TicketSource,
  type TicketStatus,
  type TicketUrgency,
} from '../shared/tickets';
import { createRandom, pick, pickWeighted } from '@shared/random';
import { silentProgress, type Progress } from './progress';
import { SeedError } from './seed-error';
import { SHANGHAI_OFFSET_MS, shanghaiHourStart, shanghaiWallClock } from '@shared/shanghai-time';

// ---------------------------------------------------------------------------------------------
// The published figures and the shapes drawn from them

/** Zhangqiu district's command centre, 10–17 Feb 2023: tickets received in one week, for its grids. */
export const ZHANGQIU_WEEK = { tickets: 10_471, grids: 1_782 } as const;

/** The same week by class (the 3,958 uncategorised ones are spread in these proportions). */
export const PUBLISHED_CLASS_MIX: readonly (readonly [string, number])[] = [
  ['convenience', 3221],
  ['safety', 2570],
  ['opinion', 523],
  ['dispute', 149],
  ['patrol', 50],
];

/** Tickets per grid per day. */
const PER_GRID_DAY = ZHANGQIU_WEEK.tickets / ZHANGQIU_WEEK.grids / 7;

/** Relative receipts per hour of the day in China Standard Time: quiet nights, 9–11 and 14–17 busiest. */
const HOURLY = [
  0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.5, 1.2, 2.6, 3.6, 3.8, 3.0,
  1.6, 1.8, 3.0, 3.4, 3.2, 2.4, 1.4, 1.0, 0.8, 0.6, 0.4, 0.25,
];
const HOURLY_SUM = HOURLY.reduce((a, b) => a + b, 0);
/** Weekdays busier than weekends (Monday first); the mean over a week is 1. */
const WEEKDAY = [1.08, 1.08, 1.08, 1.08, 1.08, 0.8, 0.8];

/** Sub-categories within each class, by relative frequency; '' names the class itself. */
const SUB_MIX: Record<string, readonly (readonly [string, number])[]> = {
  convenience: [
    ['', 10], ['urban_construction', 7], ['housing', 7], ['municipal', 15], ['transport', 9], ['city_appearance', 20],
    ['employment', 7], ['health', 7], ['elderly_care', 11], ['enterprise', 7],
  ],
  safety: [['', 10], ['fire', 24], ['gas', 13], ['building', 11], ['road_traffic', 11], ['production', 11], ['food_drug', 7], ['public_order', 13]],
  opinion: [['', 10], ['suggestion', 36], ['livelihood', 40], ['sentiment', 14]],
  dispute: [['', 10], ['neighbour', 32], ['family', 13], ['property_management', 27], ['labour', 13], ['litigation', 5]],
  patrol: [['', 10], ['illegal_construction', 22], ['street_vending', 22], ['sanitation', 22], ['key_persons', 9], ['key_places', 9], ['public_interest', 6]],
};

/** 立刻办理 / 定期办理 / 长期推进 by class: hazards are urgent more often, disputes take longer. */
const URGENCY_MIX: Record<string, readonly (readonly [TicketUrgency, number])[]> = {
  convenience: [['immediate', 10], ['scheduled', 86], ['long_term', 4]],
  safety: [['immediate', 30], ['scheduled', 66], ['long_term', 4]],
  opinion: [['immediate', 5], ['scheduled', 85], ['long_term', 10]],
  dispute: [['immediate', 15], ['scheduled', 70], ['long_term', 15]],
  patrol: [['immediate', 20], ['scheduled', 75], ['long_term', 5]],
};

/** 巡查上报 first, then 热线 and 群众诉求, few department referrals. */
const SOURCE_MIX: readonly (readonly [TicketSource, number])[] = [['patrol', 55], ['hotline', 21], ['resident', 19], ['referral', 5]];

/** Outcomes: never registered (不予立案), cancelled later, closed late without escalation, escalated. */
const P_NOT_REGISTERED = 0.02;
const P_CANCELLED = 0.012;
const P_LATE = 0.065;
const P_ESCALATED = 0.025;

/** Minutes from verification to 结案 by urgency: [shortest, longest]. */
const CLOSE_AFTER_VERIFY_MIN: Record<TicketUrgency, readonly [number, number]> = {
  immediate: [5, 60],
  scheduled: [10, 480],
  long_term: [60, 2880],
};

/** The last receipt is this long before the seeding time, so even the newest has room for its timeline. */
const NEWEST_RECEIPT_MS = 60_000;
/** How long the deadline job takes to notice an overrun (it sweeps periodically). */
const SWEEP_LAG_MS: readonly [number, number] = [5_000, 60_000];

const DESCRIPTIONS: Record<string, readonly string[]> = {
  convenience: ['群众咨询办事流程，需协助办理', '居民反映生活不便，请求协调解决'],
  'convenience.urban_construction': ['小区周边施工围挡破损，影响通行', '老旧小区改造施工噪音扰民'],
  'convenience.housing': ['公租房住户反映房屋漏水待维修', '居民咨询保障性住房申请条件'],
  'convenience.municipal': ['路灯不亮，夜间出行不便', '窨井盖缺失存在隐患', '供暖管道漏水，室温不达标'],
  'convenience.transport': ['公交站牌损坏，需更换', '非机动车乱停放堵塞人行道'],
  'convenience.city_appearance': ['小区门口垃圾堆积未清运', '墙面乱涂乱画小广告', '绿化带内杂物堆放'],
  'convenience.employment': ['失业人员咨询就业登记和培训', '居民咨询灵活就业社保缴纳'],
  'convenience.health': ['独居老人需上门测量血压', '居民咨询家庭医生签约服务'],
  'convenience.elderly_care': ['高龄老人申请居家养老服务', '困难家庭申请临时救助'],
  'convenience.enterprise': ['个体商户咨询营业执照办理', '小微企业咨询惠企政策申报'],
  safety: ['巡查发现安全隐患，需现场核实处置'],
  'safety.fire': ['楼道堆放杂物，堵塞消防通道', '电动自行车在楼道内充电', '消防栓箱内器材缺失'],
  'safety.gas': ['居民家中闻到燃气异味', '餐饮店液化气钢瓶存放不规范'],
  'safety.building': ['老旧楼房外墙瓷砖脱落', '房屋墙体出现裂缝'],
  'safety.road_traffic': ['路口信号灯故障', '路面塌陷存在坑洼'],
  'safety.production': ['小作坊生产作业防护措施不到位', '施工工地未规范设置警示标志'],
  'safety.food_drug': ['流动摊贩售卖无证熟食', '小餐馆后厨卫生条件差'],
  'safety.public_order': ['夜间有可疑人员在小区内徘徊', '单元门禁损坏无法关闭'],
  opinion: ['居民就社区事务提出意见'],
  'opinion.suggestion': ['建议在小区增设健身器材', '建议增加社区公共停车位'],
  'opinion.livelihood': ['居民反映小区停水未提前通知', '群众反映菜市场价格问题'],
  'opinion.sentiment': ['网络上流传不实信息引发居民担忧', '居民对拆迁补偿政策存在疑虑'],
  dispute: ['群众反映纠纷，请求调解'],
  'dispute.neighbour': ['楼上住户噪音扰民引发邻里矛盾', '邻居占用公共楼道堆放物品发生争执'],
  'dispute.family': ['家庭成员因赡养老人问题发生矛盾', '夫妻矛盾请求社区调解'],
  'dispute.property_management': ['业主与物业因收费问题发生纠纷', '物业未按约定维修电梯'],
  'dispute.labour': ['务工人员反映工资被拖欠', '员工与店主因解除劳动关系发生纠纷'],
  'dispute.litigation': ['当事人对判决执行有异议，情绪激动'],
  patrol: ['巡查发现重点事项，需跟进处理'],
  'patrol.illegal_construction': ['楼顶私搭乱建彩钢房', '一楼住户私自扩建院墙'],
  'patrol.street_vending': ['商户占道经营影响通行', '流动摊贩占用人行道摆摊'],
  'patrol.sanitation': ['背街小巷垃圾未及时清理', '公厕卫生状况差'],
  'patrol.key_persons': ['重点关注人员走访', '独居困难老人情况异常'],
  'patrol.key_places': ['网吧未落实实名登记', '废品收购站物品堆放杂乱'],
  'patrol.public_interest': ['发现河道排污口异常排放'],
};

const NOT_REGISTERED_REASONS = [
  '重复上报，已并入同一事项的工单',
  '不属于网格受理范围，已告知诉求人转至相关渠道',
  '经现场核实问题不存在',
  '信息不全，多次联系诉求人未果',
];
const CANCEL_REASONS = ['诉求人撤回诉求', '问题已由群众自行解决', '经核实系重复工单，已合并办理'];

// ---------------------------------------------------------------------------------------------
// Options and what comes back

export interface TicketHistoryOptions {
  /** One district's code ('140106'); default every district in the database. */
  regionCode?: string;
  /** The history ends at this clock's now (default the system clock). */
  clock?: Clock;
  /** How many days back (default 30). */
  days?: number;
  progress?: Progress;
  /**
   * Seconds an offer to a worker waits for an answer (the server's DISPATCH_OFFER_TIMEOUT_S; 0 never
   * expires): the expiry of the open offers of tickets still waiting for their worker at seeding time.
   */
  offerTimeoutS?: number;
}

/** The server's default offer timeout (config.ts, DISPATCH_OFFER_TIMEOUT_S). */
const DEFAULT_OFFER_TIMEOUT_S = 180;

export interface TicketHistorySummary {
  /** Districts seeded, by code. */
  districts: string[];
  tickets: number;
  closed: number;
  closedOnTime: number;
  cancelled: number;
  /** Still open at the seeding time, at the stage their timeline had reached. */
  open: number;
  escalated: number;
  events: number;
  /** ISO-8601: the first possible receipt, and the seeding time. */
  from: string;
  to: string;
}

// ---------------------------------------------------------------------------------------------
// What the plan works from (read from the database)

type Ring = readonly (readonly [number, number])[];
interface GridPlace {
  code: string;
  path: string;
  /** Polygons, each an outer ring then holes. */
  polygons: Ring[][];
  bbox: [number, number, number, number];
}
interface WorkerRef {
  id: number;
  name: string;
  role: string;
  userId: number | null;
}
interface Context {
  districtCode: string;
  grids: GridPlace[];
  workers: Map<string, WorkerRef[]>;
  /** The district's duty desk (its first operator), who registers, dispatches, verifies and closes. */
  deskUserId: number | null;
  rules: DeadlineRules;
  categories: Set<string>;
}

async function loadContext(db: Queryable, districtCode: string): Promise<Context> {
  const prefix = `/${districtCode}/%`;
  const { rows: grids } = await db.query<{ code: string; path: string; geojson: string }>(sql`
    SELECT code, path, ST_AsGeoJSON(geom, 15) AS geojson FROM regions
     WHERE level = 'grid' AND path LIKE ${prefix} ORDER BY code`);
  if (grids.length === 0) throw new SeedError(`District ${districtCode} has no grids to seed tickets into.`);
  const { rows: workers } = await db.query<WorkerRef & { grid: string }>(sql`
    SELECT w.id, w.name, w.role, w.home_grid_code AS grid,
           (SELECT u.id FROM users u WHERE u.worker_id = w.id AND u.active ORDER BY u.id LIMIT 1) AS "userId"
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active AND w.role <> 'party_member' AND g.path LIKE ${prefix}
     ORDER BY w.id`);
  const byGrid = new Map<string, WorkerRef[]>();
  for (const { grid, ...w } of workers) {
    const list = byGrid.get(grid) ?? [];
    list.push(w);
    byGrid.set(grid, list);
  }
  const { rows: desk } = await db.query<{ id: number }>(sql`
    SELECT id FROM users WHERE role = 'operator' AND region_code = ${districtCode} AND active ORDER BY id LIMIT 1`);
  const { rows: stored } = await db.query<{ urgency: TicketUrgency; stage: (typeof TICKET_STAGES)[number]; minutes: number }>(sql`
    SELECT urgency, stage, minutes FROM ticket_deadline_rules`);
  const rules = {} as DeadlineRules;
  for (const u of TICKET_URGENCIES) rules[u] = { ...DEFAULT_DEADLINE_RULES[u] };
  for (const r of stored) rules[r.urgency][r.stage] = r.minutes;
  const { rows: cats } = await db.query<{ code: string }>(sql`SELECT code FROM ticket_categories`);
  return {
    districtCode,
    grids: grids.map((g) => toPlace(g.code, g.path, g.geojson)),
    workers: byGrid,
    deskUserId: desk[0]?.id ?? null,
    rules,
    categories: new Set(cats.map((c) => c.code)),
  };
}

function toPlace(code: string, path: string, geojson: string): GridPlace {
  const g = JSON.parse(geojson) as { type: 'Polygon' | 'MultiPolygon'; coordinates: number[][][] | number[][][][] };
  const polygons = (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as unknown as Ring[][];
  const bbox: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const polygon of polygons) {
    for (const [x, y] of polygon[0] ?? []) {
      bbox[0] = Math.min(bbox[0], x);
      bbox[1] = Math.min(bbox[1], y);
      bbox[2] = Math.max(bbox[2], x);
      bbox[3] = Math.max(bbox[3], y);
    }
  }
  return { code, path, polygons, bbox };
}

/** Even–odd ray casting: whether (x, y) lies inside a ring. */
function inRing(ring: Ring, x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function insideGrid(place: Pick<GridPlace, 'polygons'>, x: number, y: number): boolean {
  return place.polygons.some(([outer, ...holes]) => outer !== undefined && inRing(outer, x, y) && !holes.some((h) => inRing(h, x, y)));
}

const round7 = (v: number): number => Math.round(v * 1e7) / 1e7;

/** A point inside the grid (rejection sampling in its bounding box), to 7 decimals (about 1 cm). */
function pointIn(random: () => number, place: GridPlace): [number, number] {
  const [x0, y0, x1, y1] = place.bbox;
  for (let i = 0; i < 10_000; i++) {
    const x = round7(x0 + random() * (x1 - x0));
    const y = round7(y0 + random() * (y1 - y0));
    if (insideGrid(place, x, y)) return [x, y];
  }
  throw new SeedError(`Could not place a point inside grid ${place.code}.`);
}

// ---------------------------------------------------------------------------------------------
// The plan: every ticket with its final row and its timeline

interface PlannedEvent {
  at: number;
  kind: TicketEventKind;
  from: TicketStatus | null;
  to: TicketStatus | null;
  actor: number | null;
  reason: string | null;
  detail: Record<string, unknown> | null;
}

export interface PlannedTicket {
  receivedAt: number;
  source: TicketSource;
  category: string;
  urgency: TicketUrgency;
  description: string;
  lon: number;
  lat: number;
  grid: GridPlace;
  reporterUserId: number | null;
  reporterWorkerId: number | null;
  status: TicketStatus;
  level: EscalationLevel;
  /** The running stage's window (open tickets only). */
  window: StageWindow;
  assignedWorkerId: number | null;
  dueAt: number;
  events: PlannedEvent[];
  number?: string;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Between lo and hi, most often near lo (a desk clears most of its queue quickly). */
const skewed = (random: () => number, lo: number, hi: number): number => lo + (hi - lo) * random() ** 2;
const between = (random: () => number, lo: number, hi: number): number => lo + (hi - lo) * random();

/** Receipt times over [from, to): an expected count per hour from the hourly and weekly shapes. */
function receipts(random: () => number, grids: number, from: number, to: number): number[] {
  const perDay = grids * PER_GRID_DAY;
  const times: number[] = [];
  let dayNoise = 1;
  let noiseDay = -1;
  for (let hour = shanghaiHourStart(from); hour < to; hour += 3_600_000) {
    const local = shanghaiWallClock(hour);
    const day = Math.floor((hour + SHANGHAI_OFFSET_MS) / DAY);
    if (day !== noiseDay) {
      noiseDay = day;
      dayNoise = between(random, 0.9, 1.1);
    }
    const start = Math.max(hour, from);
    const end = Math.min(hour + 3_600_000, to);
    if (end <= start) continue;
    const weekday = WEEKDAY[(local.getUTCDay() + 6) % 7]!;
    const expected = ((perDay * weekday * dayNoise * HOURLY[local.getUTCHours()]!) / HOURLY_SUM) * ((end - start) / 3_600_000);
    const n = Math.floor(expected) + (random() < expected - Math.floor(expected) ? 1 : 0);
    const batch: number[] = [];
    for (let i = 0; i < n; i++) batch.push(Math.floor(start + random() * (end - start)));
    times.push(...batch.sort((a, b) => a - b));
  }
  return times;
}

/** A grid's worker to handle or report: its own full- or part-time worker most often. */
function workerOf(random: () => number, workers: readonly WorkerRef[]): WorkerRef | undefined {
  if (workers.length === 0) return undefined;
  return pickWeighted(random, workers.map((w) => [w, w.role === 'full_time' || w.role === 'part_time' ? 6 : 1] as const));
}

/**
 * Plans one district's history: receipts over [now − days, now − 1 min), each with its place,
 * class, urgency, source, handler and timeline. Pure given the context: the same plan every time.
 */
function planDistrict(ctx: Context, now: number, days: number): PlannedTicket[] {
  const random = createRandom(`tickets-history:${ctx.districtCode}:${days}`);
  const from = now - days * DAY;
  const to = now - NEWEST_RECEIPT_MS;
  const tickets: PlannedTicket[] = [];
  for (const receivedAt of receipts(random, ctx.grids.length, from, to)) {
    const grid = pick(random, ctx.grids);
    const [lon, lat] = pointIn(random, grid);
    const cls = pickWeighted(random, PUBLISHED_CLASS_MIX);
    const sub = pickWeighted(random, SUB_MIX[cls]!);
    const category = sub && ctx.categories.has(`${cls}.${sub}`) ? `${cls}.${sub}` : cls;
    const urgency = pickWeighted(random, URGENCY_MIX[cls]!);
    const source = pickWeighted(random, SOURCE_MIX);
    const description = pick(random, DESCRIPTIONS[category] ?? DESCRIPTIONS[cls]!);
    const workers = ctx.workers.get(grid.code) ?? [];
    const reporter = source === 'patrol' ? workerOf(random, workers) : undefined;
    const reporterUserId = source === 'patrol' ? (reporter?.userId ?? null) : source === 'resident' ? null : ctx.deskUserId;
    const ticket: PlannedTicket = {
      receivedAt,
      source,
      category,
      urgency,
      description,
      lon,
      lat,
      grid,
      reporterUserId,
      reporterWorkerId: reporter?.id ?? null,
      status: 'closed',
      level: 'grid',
      window: { stage: null, startedAt: null, dueAt: null },
      assignedWorkerId: null,
      dueAt: receivedAt + ctx.rules[urgency].close * MINUTE,
      events: [],
    };
    ticket.events.push({
      at: receivedAt,
      kind: 'created',
      from: null,
      to: 'received',
      actor: reporterUserId,
      reason: null,
      detail: { number: '', source, category, urgency, grid: grid.code, lon, lat },
    });
    timeline(random, ctx, ticket, workers);
    cutAt(ctx, ticket, now);
    tickets.push(ticket);
  }
  return tickets;
}

/** Writes the ticket's life after receipt: its events, final status, level and handler. */
function timeline(random: () => number, ctx: Context, t: PlannedTicket, workers: readonly WorkerRef[]): void {
  const r = ctx.rules[t.urgency];
  const desk = ctx.deskUserId;
  let at = t.receivedAt;
  let status = 'received' as TicketStatus;
  const step = (delay: number, kind: TicketEventKind, to: TicketStatus, actor: number | null, extra: Partial<PlannedEvent> = {}) => {
    at += Math.max(1000, Math.round(delay));
    t.events.push({ at, kind, from: status, to, actor, reason: null, detail: null, ...extra });
    status = to;
  };
  const outcome = random();

  if (outcome < P_NOT_REGISTERED) {
    step(r.register * MINUTE * skewed(random, 0.1, 0.9), 'not_registered', 'cancelled', desk, { reason: pick(random, NOT_REGISTERED_REASONS) });
    t.status = 'cancelled';
    return;
  }
  step(r.register * MINUTE * skewed(random, 0.05, 0.9), 'registered', 'registered', desk);

  let handler: WorkerRef | undefined;
  const dispatch = () => {
    handler = workerOf(random, workers) ?? handler;
    step(r.dispatch * MINUTE * skewed(random, 0.05, 0.9), 'dispatched', 'dispatched', desk, {
      detail: handler ? { worker: { id: handler.id, name: handler.name } } : null,
    });
  };
  const byHandler = (delay: number, kind: TicketEventKind, to: TicketStatus) => step(delay, kind, to, handler?.userId ?? null);

  if (outcome < P_NOT_REGISTERED + P_CANCELLED) {
    if (random() < 0.5) dispatch();
    const previous = status === 'dispatched' && handler ? { previousWorkerId: handler.id } : null;
    step((status === 'dispatched' ? r.accept : r.dispatch) * MINUTE * skewed(random, 0.1, 0.8), 'cancelled', 'cancelled', desk, {
      reason: pick(random, CANCEL_REASONS),
      detail: previous,
    });
    t.status = 'cancelled';
    return;
  }

  const late = outcome >= 1 - P_LATE;
  const escalated = !late && outcome >= 1 - P_LATE - P_ESCALATED;
  const resolveMs = r.resolve * MINUTE;

  dispatch();
  let dispatchedAt = at;
  byHandler(r.accept * MINUTE * skewed(random, 0.05, 0.9), 'accepted', 'accepted');
  byHandler(resolveMs * skewed(random, 0.005, 0.08), 'started', 'in_progress');
  /** Resolved at this fraction of the resolve window from dispatch, never before work started. */
  const resolveAt = (fraction: number) => dispatchedAt + resolveMs * Math.max(fraction, (at - dispatchedAt) / resolveMs + 0.01);

  if (escalated) {
    // The handling overran its window: the deadline job escalated it to the community, whose desk
    // sent it out again; the community then saw it through faster.
    const overdueByMs = Math.round(between(random, ...SWEEP_LAG_MS));
    const escalateAt = dispatchedAt + resolveMs + overdueByMs;
    t.events.push({
      at: escalateAt,
      kind: 'escalated',
      from: status,
      to: 'escalated',
      actor: null,
      reason: `${TICKET_STAGE_LABELS.resolve}超时，自动上报${ESCALATION_LEVEL_LABELS.community}`,
      detail: { auto: true, overdueStage: 'resolve', overdueByMs, fromLevel: 'grid', toLevel: 'community', ...(handler ? { previousWorkerId: handler.id } : {}) },
    });
    at = escalateAt;
    status = 'escalated';
    t.level = 'community';
    dispatch();
    dispatchedAt = at;
    byHandler(r.accept * MINUTE * skewed(random, 0.05, 0.9), 'accepted', 'accepted');
    byHandler(resolveMs * skewed(random, 0.005, 0.04), 'started', 'in_progress');
    byHandler(resolveAt(between(random, 0.05, 0.6)) - at, 'resolved', 'resolved');
  } else {
    byHandler(resolveAt(0.15 + 0.8 * random() ** 1.5) - at, 'resolved', 'resolved');
  }

  const [closeLo, closeHi] = CLOSE_AFTER_VERIFY_MIN[t.urgency];
  if (late) {
    // Handled and verified in time, but closed slowly: past the overall deadline (not 按期结案).
    const closeAt = t.dueAt + r.close * MINUTE * skewed(random, 0.01, 0.3);
    step(r.verify * MINUTE * skewed(random, 0.05, 0.9), 'verified', 'verified', desk);
    step(closeAt - at, 'closed', 'closed', desk);
  } else {
    step(r.verify * MINUTE * skewed(random, 0.05, 0.9), 'verified', 'verified', desk);
    step(skewed(random, closeLo, closeHi) * MINUTE, 'closed', 'closed', desk);
  }
  t.assignedWorkerId = handler?.id ?? null;
}

/**
 * A timeline that runs past the seeding time is cut there: the events still to come are dropped and
 * the ticket stays open where it stood — its status, escalation level and worker as of its last kept
 * event, and the deadline window of the stage it is in, replayed through the workflow's own rule.
 */
function cutAt(ctx: Context, t: PlannedTicket, now: number): void {
  const kept = t.events.filter((e) => e.at < now);
  if (kept.length === t.events.length) return;
  t.events = kept;
  t.status = kept.at(-1)!.to!;
  let window: StageWindow = { stage: null, startedAt: null, dueAt: null };
  let dispatchedAt: number | null = null;
  let worker: number | null = null;
  let level: EscalationLevel = 'grid';
  for (const e of kept) {
    window = nextStageWindow(ctx.rules, t.urgency, e.to!, e.kind, e.at, { current: window, dispatchedAt, receivedAt: t.receivedAt, closeDueAt: t.dueAt });
    if (e.kind === 'dispatched') {
      dispatchedAt = e.at;
      worker = (e.detail?.worker as { id: number } | undefined)?.id ?? null;
    }
    if (e.kind === 'escalated') {
      level = (e.detail?.toLevel as EscalationLevel | undefined) ?? level;
      worker = null;
    }
  }
  t.window = window;
  t.level = level;
  t.assignedWorkerId = ['dispatched', 'accepted', 'in_progress', 'resolved', 'verified'].includes(t.status) ? worker : null;
}

type Stamp = 'registered' | 'dispatched' | 'accepted' | 'resolved' | 'verified' | 'closed' | 'escalated';
const STAMPED: readonly Stamp[] = ['registered', 'dispatched', 'accepted', 'resolved', 'verified', 'closed', 'escalated'];

/** The ticket's *_at columns, as the workflow stamps them: the time of the latest event of each kind. */
function stampsOf(t: PlannedTicket): Record<Stamp, number | null> {
  const stamps = Object.fromEntries(STAMPED.map((k) => [k, null])) as Record<Stamp, number | null>;
  for (const e of t.events) if ((STAMPED as readonly string[]).includes(e.kind)) stamps[e.kind as Stamp] = e.at;
  return stamps;
}

// ---------------------------------------------------------------------------------------------
// Writing it

const TICKETS_PER_STATEMENT = 1000;

/** A column of milliseconds since the epoch (JSON integers) as timestamptz, exactly (names chosen here). */
const at = (column: string): Sql => raw(`('epoch'::timestamptz + r.${column} * interval '1 millisecond')`);

/**
 * Seeds closed ticket history for one district (or every district) ending at the clock's now:
 * tickets, their timelines and the day counters behind their numbers. Runs in one transaction
 * (the caller's, when given one). Numbers continue after any ticket already filed on those days,
 * and the counters never go back, so tickets filed afterwards never collide.
 */
export async function seedTicketHistory(db: Db | Queryable, options: TicketHistoryOptions = {}): Promise<TicketHistorySummary> {
  const run = (tx: Queryable) => writeHistory(tx, options);
  return 'transaction' in db ? db.transaction(run) : run(db);
}

async function writeHistory(tx: Queryable, options: TicketHistoryOptions): Promise<TicketHistorySummary> {
  const now = (options.clock ?? systemClock).now();
  const days = options.days ?? 30;
  const offerTimeoutS = options.offerTimeoutS ?? DEFAULT_OFFER_TIMEOUT_S;
  if (!(Number.isInteger(days) && days >= 1 && days <= 366)) throw new SeedError('days must be a whole number from 1 to 366.');
  const progress = options.progress ?? silentProgress;
  const { rows: districts } = await tx.query<{ code: string }>(sql`
    SELECT code FROM regions WHERE level = 'district' ${options.regionCode ? sql`AND code = ${options.regionCode}` : sql``} ORDER BY code`);
  if (options.regionCode && districts.length === 0) throw new SeedError(`There is no district ${options.regionCode} to seed tickets into.`);

  const plans: PlannedTicket[] = [];
  // One at a time: spreading a year's plans (≈ 260,000) into push() overflows the call stack.
  for (const d of districts) for (const t of planDistrict(await loadContext(tx, d.code), now, days)) plans.push(t);
  plans.sort((a, b) => a.receivedAt - b.receivedAt);

  await number(tx, plans);
  const summary: TicketHistorySummary = {
    districts: districts.map((d) => d.code),
    tickets: plans.length,
    closed: 0,
    closedOnTime: 0,
    cancelled: 0,
    open: 0,
    escalated: 0,
    events: 0,
    from: new Date(now - days * DAY).toISOString(),
    to: new Date(now).toISOString(),
  };
  for (const t of plans) {
    const stamps = stampsOf(t);
    if (t.status === 'closed') {
      summary.closed++;
      if (stamps.closed! <= t.dueAt) summary.closedOnTime++;
    } else if (t.status === 'cancelled') summary.cancelled++;
    else summary.open++;
    if (stamps.escalated !== null) summary.escalated++;
    summary.events += t.events.length;
  }

  progress(0, plans.length, 'ticket history');
  for (let i = 0; i < plans.length; i += TICKETS_PER_STATEMENT) {
    await insertBatch(tx, plans.slice(i, i + TICKETS_PER_STATEMENT), offerTimeoutS, i === 0);
    progress(Math.min(i + TICKETS_PER_STATEMENT, plans.length), plans.length, 'ticket history');
  }
  // Fresh planner statistics: PGlite runs no autovacuum, and the wall's first queries would be
  // planned for an empty table.
  await tx.exec('ANALYZE tickets, ticket_events');
  return summary;
}

/**
 * Numbers GD-YYYYMMDD-NNNN in receipt order, each day continuing after the highest number already
 * on a ticket that day; the day counters are locked first (live filings wait) and end at least at
 * the last number given.
 */
async function number(tx: Queryable, plans: PlannedTicket[]): Promise<void> {
  const days = [...new Set(plans.map((t) => ticketDay(t.receivedAt)))];
  if (days.length === 0) return;
  await tx.query(sql`
    INSERT INTO ticket_number_counters (day, last)
    SELECT d, 0 FROM json_array_elements_text(${JSON.stringify(days)}::json) AS d
    ON CONFLICT (day) DO UPDATE SET last = ticket_number_counters.last`);
  const { rows } = await tx.query<{ day: string; last: number }>(sql`
    SELECT substr(number, 4, 8) AS day, max(split_part(number, '-', 3)::int) AS last FROM tickets
     WHERE number ~ '^GD-[0-9]{8}-[0-9]+$'
       AND substr(number, 4, 8) IN (SELECT json_array_elements_text(${JSON.stringify(days)}::json))
     GROUP BY 1`);
  const last = new Map(rows.map((r) => [r.day, r.last]));
  for (const t of plans) {
    const day = ticketDay(t.receivedAt);
    const seq = (last.get(day) ?? 0) + 1;
    last.set(day, seq);
    t.number = formatTicketNumber(day, seq);
    t.events[0]!.detail!.number = t.number;
  }
  await tx.query(sql`
    INSERT INTO ticket_number_counters (day, last)
    SELECT c.day, c.last FROM json_to_recordset(${JSON.stringify(days.map((day) => ({ day, last: last.get(day) })))}::json) AS c(day text, last integer)
    ON CONFLICT (day) DO UPDATE SET last = GREATEST(ticket_number_counters.last, EXCLUDED.last)`);
}

async function insertBatch(tx: Queryable, batch: PlannedTicket[], offerTimeoutS: number, first: boolean): Promise<void> {
  const rows = batch.map((t, i) => ({
    i,
    ...stampsOf(t),
    number: t.number,
    source: t.source,
    category: t.category,
    urgency: t.urgency,
    status: t.status,
    description: t.description,
    lon: t.lon,
    lat: t.lat,
    grid: t.grid.code,
    path: t.grid.path,
    level: t.level,
    reporter: t.reporterUserId,
    reporterWorker: t.reporterWorkerId,
    worker: t.assignedWorkerId,
    stage: t.window.stage,
    stageStarted: t.window.startedAt,
    stageDue: t.window.dueAt,
    due: t.dueAt,
    received: t.receivedAt,
    updated: t.events.at(-1)!.at,
  }));
  const { rows: ids } = await tx.query<{ id: number; number: string }>(sql`
    INSERT INTO tickets (number, source, category_code, urgency, status, description, location, grid_code, grid_path, level,
                         reporter_user_id, reporter_worker_id, assigned_worker_id, stage, stage_started_at, stage_due_at,
                         due_at, received_at, registered_at, dispatched_at, accepted_at, resolved_at, verified_at, closed_at,
                         escalated_at, updated_at)
    SELECT r.number, r.source, r.category, r.urgency, r.status, r.description, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326),
           r.grid, r.path, r.level, r.reporter, r."reporterWorker", r.worker, r.stage, ${at('"stageStarted"')}, ${at('"stageDue"')},
           ${at('due')}, ${at('received')}, ${at('registered')}, ${at('dispatched')}, ${at('accepted')}, ${at('resolved')},
           ${at('verified')}, ${at('closed')}, ${at('escalated')}, ${at('updated')}
      FROM json_to_recordset(${JSON.stringify(rows)}::json) AS r(
             i integer, number text, source text, category text, urgency text, status text, description text,
             lon double precision, lat double precision, grid text, path text, level text, reporter bigint,
             "reporterWorker" bigint, worker bigint, stage text, "stageStarted" bigint, "stageDue" bigint, due bigint, received bigint, registered bigint, dispatched bigint,
             accepted bigint, resolved bigint, verified bigint, closed bigint, escalated bigint, updated bigint)
     ORDER BY r.i
    RETURNING id, number`);
  // Each event's foreign key is checked with a plan the session keeps: one made while tickets held a
  // few rows (live tickets filed and moved on this connection before the seed) scans the whole table,
  // and the seed's events then take time quadratic in its tickets (minutes on PGlite for 30 days).
  // Fresh statistics once the first batch is in invalidate that plan; the next check uses the index.
  if (first) await tx.exec('ANALYZE tickets');
  const idOf = new Map(ids.map((r) => [r.number, r.id]));
  const events = batch.flatMap((t) =>
    t.events.map((e, i) => ({
      ticket: idOf.get(t.number!),
      i,
      at: e.at,
      actor: e.actor,
      kind: e.kind,
      from: e.from,
      to: e.to,
      reason: e.reason,
      detail: e.detail,
    })));
  await tx.query(sql`
    INSERT INTO ticket_events (ticket_id, at, actor_user_id, kind, from_status, to_status, reason, detail)
    SELECT r.ticket, ${at('at')}, r.actor, r.kind, r."from", r."to", r.reason, r.detail
      FROM json_to_recordset(${JSON.stringify(events)}::json) AS r(
             ticket bigint, i integer, at bigint, actor bigint, kind text, "from" text, "to" text, reason text, detail jsonb)
     ORDER BY r.ticket, r.i`);
  // A ticket cut while its worker had not answered yet: the offer the desk's dispatch opened, still
  // waiting (the server's re-offer job takes it over from here when it has expired).
  const offers = batch
    .filter((t) => t.status === 'dispatched' && t.assignedWorkerId !== null)
    .map((t) => {
      const dispatched = t.events.findLast((e) => e.kind === 'dispatched')!;
      return {
        ticket: idOf.get(t.number!),
        worker: t.assignedWorkerId,
        actor: dispatched.actor,
        scope: `/${t.grid.path.split('/')[1]}/`,
        at: dispatched.at,
        expires: offerTimeoutS > 0 ? dispatched.at + offerTimeoutS * 1000 : null,
      };
    });
  if (offers.length === 0) return;
  await tx.query(sql`
    INSERT INTO ticket_offers (ticket_id, worker_id, offered_by, scope_path, offered_at, expires_at)
    SELECT r.ticket, r.worker, r.actor, r.scope, ${at('at')}, ${at('expires')}
      FROM json_to_recordset(${JSON.stringify(offers)}::json) AS r(ticket bigint, worker bigint, actor bigint, scope text, at bigint, expires bigint)`);
}
