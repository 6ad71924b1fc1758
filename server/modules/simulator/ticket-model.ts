/**
 * What the ticket simulation draws from, with no I/O: how many tickets a district files per hour
 * (the published Zhangqiu week scaled by grids, shaped by the hour in Asia/Shanghai), which
 * category, urgency and source each has, a short description in the reporter's words, and how long
 * people take over each step. Every draw takes the random source, so a seed gives the same run.
 */
import type { TicketSource, TicketUrgency } from '@shared/tickets';
import { shanghaiHour } from '@shared/shanghai-time';

/**
 * 章丘区 received 10,471 tickets in one week (10–17 Feb 2023) from 1,782 grids: 3,221 / 2,570 / 523 /
 * 149 / 50 in the five classes, the rest uncategorised. The simulation files the whole volume and
 * gives every ticket one of the five classes in the published proportions (a ticket needs one).
 */
export const PUBLISHED_WEEK = {
  received: 10_471,
  grids: 1_782,
  byClass: { convenience: 3_221, safety: 2_570, opinion: 523, dispute: 149, patrol: 50 },
} as const;

export type TicketClass = keyof typeof PUBLISHED_WEEK.byClass;
export const TICKET_CLASSES = Object.keys(PUBLISHED_WEEK.byClass) as TicketClass[];

/**
 * Relative filing intensity by hour of day (Asia/Shanghai): quiet at night, a mid-morning peak as
 * patrols get going and the offices open, a lunch dip, an afternoon peak. Normalised to a mean of 1.
 */
const RAW_HOURLY = [
  0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.35, 0.8, 1.5, 2.1, 2.3, 1.9,
  1.1, 1.2, 1.8, 2.1, 2.0, 1.6, 1.0, 0.8, 0.6, 0.45, 0.3, 0.2,
];
const RAW_MEAN = RAW_HOURLY.reduce((a, b) => a + b, 0) / RAW_HOURLY.length;
export const HOURLY_PROFILE: readonly number[] = RAW_HOURLY.map((v) => v / RAW_MEAN);

/** Average tickets per hour for a district of `grids` grids at the published rhythm (× `multiplier`). */
export function meanTicketsPerHour(grids: number, multiplier = 1): number {
  return ((PUBLISHED_WEEK.received * grids) / PUBLISHED_WEEK.grids / (7 * 24)) * multiplier;
}

/** Tickets per hour at time `t` (ms): the mean shaped by the hour of day. */
export function ticketsPerHourAt(t: number, grids: number, multiplier = 1): number {
  return meanTicketsPerHour(grids, multiplier) * HOURLY_PROFILE[Math.floor(shanghaiHour(t))]!;
}

const HOUR_MS = 3_600_000;

/**
 * Filing times in [from, to): a Poisson process whose rate is constant within each hour (exact by
 * memorylessness: at an hour's end the next gap is drawn afresh at the new rate).
 */
export function arrivals(from: number, to: number, perHourAt: (t: number) => number, random: () => number): number[] {
  const out: number[] = [];
  let t = from;
  while (t < to) {
    const hourEnd = Math.min(to, (Math.floor(t / HOUR_MS) + 1) * HOUR_MS);
    const rate = perHourAt(t) / HOUR_MS;
    if (rate <= 0) {
      t = hourEnd;
      continue;
    }
    const next = t - Math.log(1 - random()) / rate;
    if (next >= hourEnd) {
      t = hourEnd;
      continue;
    }
    out.push(next);
    t = next;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What is filed

/** Shares of immediate / scheduled / long-term (立刻办理 / 定期办理 / 长期推进). */
type UrgencyMix = readonly [immediate: number, scheduled: number, longTerm: number];
/** Shares of patrol / hotline / resident (巡查上报 / 热线 / 群众诉求). */
type SourceMix = readonly [patrol: number, hotline: number, resident: number];

interface SubCategory {
  code: string;
  weight: number;
  /** Whether the problem is at a place on the street (a description may name the building). */
  placed: boolean;
  urgency?: UrgencyMix;
  texts: readonly string[];
}

interface ClassModel {
  urgency: UrgencyMix;
  source: SourceMix;
  subs: readonly SubCategory[];
}

/** The five classes' sub-categories (codes as in the ticket_categories table) and what people report. */
export const CLASS_MODELS: Record<TicketClass, ClassModel> = {
  convenience: {
    urgency: [0.08, 0.85, 0.07],
    source: [0.55, 0.25, 0.2],
    subs: [
      { code: 'convenience.urban_construction', weight: 10, placed: true, texts: ['小区道路破损，雨天积水严重', '人行道地砖松动翘起，老人行走易绊倒', '施工围挡破损，影响行人通行', '小区内健身器材损坏，需要维修'] },
      { code: 'convenience.housing', weight: 6, placed: false, urgency: [0.02, 0.78, 0.2], texts: ['居民咨询公租房申请条件及所需材料', '老旧小区加装电梯，居民希望社区协调意见', '住户反映楼顶防水层老化漏雨', '廉租房住户咨询租金补贴发放时间'] },
      { code: 'convenience.municipal', weight: 16, placed: true, texts: ['路灯不亮，夜间出行不便', '井盖缺失，存在安全隐患', '下水道堵塞，污水外溢', '自来水管道漏水，路面结冰', '雨水箅子堵塞，路面积水', '暖气不热，室温不足16度'] },
      { code: 'convenience.transport', weight: 8, placed: true, texts: ['公交站牌损坏，需要修复', '共享单车乱停放，堵塞人行道', '小区门口机动车乱停放，影响消防车通行', '路口缺少减速带，车速过快'] },
      { code: 'convenience.city_appearance', weight: 22, placed: true, texts: ['垃圾桶满溢，未及时清运', '墙面小广告乱贴乱画', '绿化带内有大量生活垃圾', '楼道内堆放废旧家具', '宠物粪便无人清理，居民反映强烈'] },
      { code: 'convenience.employment', weight: 8, placed: false, texts: ['居民咨询灵活就业人员社保缴费办法', '失业人员咨询失业登记办理流程', '退休人员咨询养老金资格认证', '困难家庭成员希望社区推荐就业岗位'] },
      { code: 'convenience.health', weight: 6, placed: false, texts: ['独居老人需要家庭医生上门随访', '居民咨询医保异地就医备案', '行动不便老人需要上门接种疫苗', '社区卫生服务站常用药短缺'] },
      { code: 'convenience.elderly_care', weight: 14, placed: false, texts: ['独居老人多日未出门，需要上门探视', '高龄老人咨询高龄津贴申领', '低保户咨询临时救助申请', '空巢老人希望开通社区助餐服务'] },
      { code: 'convenience.enterprise', weight: 10, placed: false, texts: ['个体商户咨询营业执照办理流程', '小微企业咨询稳岗补贴申报', '新开业商户咨询门头招牌设置审批', '企业反映周边道路施工影响经营'] },
    ],
  },
  safety: {
    urgency: [0.25, 0.72, 0.03],
    source: [0.85, 0.1, 0.05],
    subs: [
      { code: 'safety.fire', weight: 30, placed: true, texts: ['楼道堆放杂物，堵塞消防通道', '电动车在楼道内充电，存在火灾隐患', '消防栓无水或被圈占', '小区消防通道被私家车占用', '沿街商铺私拉电线，存在火灾隐患', '灭火器过期未更换'] },
      { code: 'safety.gas', weight: 14, placed: true, urgency: [0.5, 0.48, 0.02], texts: ['住户闻到燃气异味，需要立即排查', '餐饮店液化气瓶未安装报警装置', '燃气管道锈蚀严重', '燃气立管被违规包封'] },
      { code: 'safety.building', weight: 12, placed: true, texts: ['外墙瓷砖脱落，危及行人安全', '阳台护栏松动', '楼顶女儿墙开裂', '危旧房屋墙体出现裂缝'] },
      { code: 'safety.road_traffic', weight: 10, placed: true, texts: ['路口信号灯故障', '道路出现塌陷坑洞', '校门口缺少交通安全设施', '路边树木倒伏压占车道'] },
      { code: 'safety.production', weight: 12, placed: true, texts: ['建筑工地作业人员未佩戴安全帽', '小作坊存在无证生产行为', '仓库内违规存放易燃物品', '高空作业未设置安全防护网'] },
      { code: 'safety.food_drug', weight: 8, placed: true, texts: ['流动摊贩无证售卖熟食', '餐馆后厨卫生条件差', '药店疑似销售过期药品', '学校周边小卖部售卖三无食品'] },
      { code: 'safety.public_order', weight: 14, placed: true, texts: ['单元门禁损坏，陌生人随意进出', '夜间有可疑人员在小区徘徊', '小区监控探头损坏', '出租屋人员频繁更换，未登记'] },
    ],
  },
  opinion: {
    urgency: [0.03, 0.72, 0.25],
    source: [0.5, 0.25, 0.25],
    subs: [
      { code: 'opinion.suggestion', weight: 40, placed: false, texts: ['居民建议小区增设休闲座椅', '居民希望延长社区活动室开放时间', '居民建议在小区内增设快递柜', '居民建议增加夜间公交班次'] },
      { code: 'opinion.livelihood', weight: 45, placed: false, texts: ['居民反映小区物业服务不到位', '居民希望解决老旧小区停车难问题', '居民反映冬季供暖收费问题', '居民希望附近增设便民菜店'] },
      { code: 'opinion.sentiment', weight: 15, placed: false, texts: ['网上流传小区拆迁传言，居民情绪不稳', '居民对周边施工项目存在疑虑', '居民群内反映物业涨价，情绪较大'] },
    ],
  },
  dispute: {
    urgency: [0.15, 0.7, 0.15],
    source: [0.4, 0.35, 0.25],
    subs: [
      { code: 'dispute.neighbour', weight: 40, placed: true, texts: ['楼上漏水引发邻里纠纷', '邻居装修噪音扰民引发争执', '楼道公共区域占用引发邻里矛盾', '宠物扰民引发邻里纠纷'] },
      { code: 'dispute.family', weight: 12, placed: false, texts: ['家庭成员因赡养老人问题发生争执', '夫妻矛盾激化，需要社区调解'] },
      { code: 'dispute.property_management', weight: 25, placed: true, texts: ['业主与物业因停车费发生纠纷', '物业撤场，小区垃圾无人清运', '业主拒缴物业费引发矛盾'] },
      { code: 'dispute.labour', weight: 15, placed: false, texts: ['务工人员反映被拖欠工资', '商户员工反映未签订劳动合同'] },
      { code: 'dispute.litigation', weight: 8, placed: false, texts: ['当事人对判决结果不满，情绪激动', '房屋买卖合同纠纷，当事人寻求调解'] },
    ],
  },
  patrol: {
    urgency: [0.12, 0.8, 0.08],
    source: [1, 0, 0],
    subs: [
      { code: 'patrol.illegal_construction', weight: 30, placed: true, texts: ['楼顶私搭乱建', '小区绿地内违规搭建板房', '沿街商户违规扩建'] },
      { code: 'patrol.street_vending', weight: 30, placed: true, texts: ['流动摊贩占道经营', '商铺店外经营占用人行道', '早市摊位超出划定区域'] },
      { code: 'patrol.sanitation', weight: 20, placed: true, texts: ['绿化带内堆放建筑垃圾', '背街小巷存在卫生死角', '河道沿岸漂浮垃圾'] },
      { code: 'patrol.key_persons', weight: 8, placed: false, texts: ['重点人员定期走访，发现近期情绪异常', '社区矫正人员未按时报到'] },
      { code: 'patrol.key_places', weight: 8, placed: true, texts: ['网吧疑似接纳未成年人', '歌舞娱乐场所超时营业'] },
      { code: 'patrol.public_interest', weight: 4, placed: true, texts: ['企业疑似向河道偷排污水', '文物保护单位周边违规施工'] },
    ],
  },
};

const PLACES = ['{b}号楼{u}单元', '{b}号楼', '{b}号楼前', '小区东门', '小区北门', '小区停车场', '沿街商铺门前', '背街小巷', '菜市场旁', '公交站旁'];

function weighted<T>(random: () => number, items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((s, i) => s + weight(i), 0);
  let r = random() * total;
  for (const item of items) {
    r -= weight(item);
    if (r < 0) return item;
  }
  return items[items.length - 1]!;
}

function mix<T>(random: () => number, values: readonly T[], shares: readonly number[]): T {
  return weighted(random, values.map((v, i) => [v, shares[i] ?? 0] as const), ([, w]) => w)[0];
}

/** What one simulated ticket is about. */
export interface TicketDraw {
  class: TicketClass;
  /** A sub-category code ('safety.fire'). */
  category: string;
  urgency: TicketUrgency;
  /** patrol: a worker on duty files it where they stand; hotline / resident: the centre files it. */
  source: Extract<TicketSource, 'patrol' | 'hotline' | 'resident'>;
  description: string;
}

/** Draws one ticket: class by the published shares, then sub-category, urgency, source and words. */
export function drawTicket(random: () => number): TicketDraw {
  const cls = weighted(random, TICKET_CLASSES, (c) => PUBLISHED_WEEK.byClass[c]);
  const model = CLASS_MODELS[cls];
  const sub = weighted(random, model.subs, (s) => s.weight);
  const urgency = mix(random, ['immediate', 'scheduled', 'long_term'] as const, sub.urgency ?? model.urgency);
  const source = mix(random, ['patrol', 'hotline', 'resident'] as const, model.source);
  const text = sub.texts[Math.floor(random() * sub.texts.length)]!;
  let description = text;
  if (sub.placed && random() < 0.6) {
    const place = PLACES[Math.floor(random() * PLACES.length)]!
      .replace('{b}', String(1 + Math.floor(random() * 30)))
      .replace('{u}', String(1 + Math.floor(random() * 6)));
    description = `${place}${text}`;
  }
  if (source === 'hotline') description = `12345热线转来：${description}`;
  else if (source === 'resident') description = `居民通过小程序反映：${description}`;
  return { class: cls, category: sub.code, urgency, source, description };
}

// ---------------------------------------------------------------------------------------------
// How long people take

/** How simulated people behave; the defaults are what the live simulation uses. */
export interface Behaviour {
  /** Chance a worker on duty lets an offer go unanswered (it times out and goes to the next worker). */
  ignoreOffer: number;
  /** Chance a worker declines an offer (with a reason). */
  declineOffer: number;
  /** Median seconds before a worker accepts an offer (log-normal). */
  acceptMedianS: number;
  /** Seconds from arriving at the place to starting work: [min, max]. */
  prepS: readonly [number, number];
  /** Median seconds of handling, start to resolve, by urgency (log-normal), and the longest. */
  handlingMedianS: Record<TicketUrgency, number>;
  handlingMaxS: Record<TicketUrgency, number>;
  /** Chance a worker's handling runs past the stage deadline (the deadline job escalates it). */
  overrun: number;
  /** Chance the desk cancels a ticket instead of registering it (a duplicate, or not its business). */
  cancel: number;
  /** Chance the desk's site check fails and the work goes back to the worker (核查不通过). */
  rework: number;
}

export const DEFAULT_BEHAVIOUR: Behaviour = {
  ignoreOffer: 0.04,
  declineOffer: 0.07,
  acceptMedianS: 45,
  prepS: [60, 240],
  handlingMedianS: { immediate: 20 * 60, scheduled: 60 * 60, long_term: 8 * 3600 },
  handlingMaxS: { immediate: 3 * 3600, scheduled: 36 * 3600, long_term: 20 * 86_400 },
  overrun: 0.03,
  cancel: 0.02,
  rework: 0.04,
};

export const DECLINE_REASONS = [
  '正在处置另一起紧急事项，无法及时到场',
  '距离较远，建议改派本网格网格员',
  '身体不适，请改派他人',
  '手机电量不足，即将下班',
  '该事项不属于本人负责网格',
];
export const CANCEL_REASONS = ['重复上报，已与前一工单合并', '经核实不属于受理范围，已告知反映人'];
export const REWORK_REASONS = ['现场核查未整改到位，请继续处置', '反映人对处置结果不满意，请再次上门'];
export const RESOLVE_NOTES = ['已到现场处置完毕', '已协调相关单位整改到位', '已当面向居民解释并办结', '已现场劝导，问题已消除'];
export const VERIFY_NOTES = ['现场核查，已整改到位', '电话回访反映人，对处置结果满意'];

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** A log-normal draw around `median`, clamped to [min, max]. */
export function logNormal(random: () => number, median: number, sigma: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, median * Math.exp(sigma * normal(random))));
}

export type OfferResponse =
  | { kind: 'ignore' }
  | { kind: 'decline'; afterS: number; reason: string }
  | { kind: 'accept'; afterS: number };

/**
 * How a worker on duty answers an offer: mostly accepts after seconds to a couple of minutes, sometimes
 * declines with a reason, now and then lets it time out. `offerTimeoutS` (0: offers never expire)
 * bounds an acceptance so that one meant as an acceptance is not a timeout in disguise.
 */
export function offerResponse(random: () => number, b: Behaviour, offerTimeoutS: number): OfferResponse {
  const r = random();
  if (r < b.ignoreOffer) return { kind: 'ignore' };
  if (r < b.ignoreOffer + b.declineOffer) {
    return { kind: 'decline', afterS: 15 + random() * 105, reason: DECLINE_REASONS[Math.floor(random() * DECLINE_REASONS.length)]! };
  }
  const cap = offerTimeoutS > 0 ? offerTimeoutS * 0.9 : 600;
  return { kind: 'accept', afterS: logNormal(random, b.acceptMedianS, 0.7, 5, cap) };
}

/** Seconds from start to resolve for a ticket of this urgency. */
export function handlingS(random: () => number, b: Behaviour, urgency: TicketUrgency): number {
  return logNormal(random, b.handlingMedianS[urgency], 0.8, Math.min(300, b.handlingMaxS[urgency]), b.handlingMaxS[urgency]);
}

/** The desk's steps on the simulator's own tickets. */
export type DeskStep = 'register' | 'dispatch' | 'verify' | 'close';

/**
 * Seconds beyond the grace delay before the desk takes a step: registering and dispatching within a
 * couple of minutes, a site check for verification (sooner for immediate tickets), closing soon after.
 */
export function deskExtraS(random: () => number, step: DeskStep, urgency: TicketUrgency): number {
  switch (step) {
    case 'register':
      return random() * 120;
    case 'dispatch':
      return random() * 90;
    case 'verify':
      return urgency === 'immediate' ? 180 + random() * 1_020 : 300 + random() * 2_100;
    case 'close':
      return 60 + random() * 540;
  }
}
