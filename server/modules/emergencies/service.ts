/**
 * Emergency mode (平战结合). A district or street leader declares an emergency over an area inside
 * their jurisdiction; every grid worker and party member registered to a grid in it is called up
 * with an urgent notice with receipt; they acknowledge (收到) and report in (报到) at their grid (the
 * position checked inside the grid by PostGIS), and appear on the map through the position ingest.
 * Closing writes the after-action report. Every change is audited; live events go out after commit.
 */
import type { FastifyBaseLogger } from 'fastify';
import {
  levelNumeral,
  type CallUpState,
  type DeclareEmergencyBody,
  type DeclaredEmergency,
  type EmergenciesQuery,
  type EmergencyDetail,
  type EmergencyReport,
  type EmergencySituation,
  type EmergencySummary,
  type ReportInBody,
} from '@shared/emergencies-api';
import type { GeoJsonPolygon } from '@shared/notices-api';
import { sql, type Db } from '../../platform/db';
import { Scope, type Principal } from '../../platform/auth/scope';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import { audit } from '../auth/repository';
import type { NoticeBroadcaster } from '../notices/broadcast';
import { findForDesk as findNotice, markDelivered, markRead } from '../notices/repository';
import type { PositionIngest } from '../positions/ingest';
import type { EmergencyBroadcaster } from './broadcast';
import * as repo from './repository';

export const TYPE_LABELS: Record<EmergencySummary['type'], string> = {
  flood: '防汛',
  fire: '火灾',
  epidemic: '疫情',
  public_order: '治安',
  other: '其他',
};

/** A drawn area may stray over the jurisdiction's border by this share (it is clipped to it); more is refused. */
const MAX_SHARE_OUTSIDE = 0.05;

export interface EmergencyServiceDeps {
  db: Db;
  clock: Clock;
  broadcast: EmergencyBroadcaster;
  ingest: PositionIngest;
  /** The call-up notice's receipts go out to its sender and desks as any notice's do. */
  noticeReceipts: NoticeBroadcaster;
  log?: FastifyBaseLogger;
  /** Acknowledgements gathered into one statement: at most this many, ms. */
  ackDelayMs?: number;
}

interface PendingAck extends repo.AckKey {
  resolve: (changed: { gridCode: string } | undefined) => void;
  reject: (error: unknown) => void;
}

/** Acknowledgements written in one statement at most. */
const ACK_BATCH = 500;

const notFound = () => new AppError('NOT_FOUND', 'No such emergency.');

function checkPolygon(area: GeoJsonPolygon): void {
  for (const ring of area.coordinates) {
    for (const [lon, lat] of ring) {
      if (!(lon! >= -180 && lon! <= 180 && lat! >= -90 && lat! <= 90)) {
        throw new AppError('VALIDATION_FAILED', 'The polygon’s positions must be longitude, latitude in WGS 84.');
      }
    }
    const first = ring[0]!;
    const last = ring[ring.length - 1]!;
    if (first[0] !== last[0] || first[1] !== last[1]) throw new AppError('VALIDATION_FAILED', 'Each ring of the polygon must end where it starts.');
  }
}

/** The q-quantile of sorted numbers (nearest rank), null when empty. */
function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export class EmergencyService {
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly broadcast: EmergencyBroadcaster;
  private readonly ingest: PositionIngest;
  private readonly noticeReceipts: NoticeBroadcaster;
  private readonly ackDelayMs: number;
  private readonly log: FastifyBaseLogger | undefined;
  /** The statistics pass after the latest fan-out (the first acknowledgements wait for it). */
  private analysing: Promise<void> = Promise.resolve();
  private acks: PendingAck[] = [];
  private ackTimer: NodeJS.Timeout | undefined;
  private ackWriting: Promise<void> = Promise.resolve();

  constructor(deps: EmergencyServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.broadcast = deps.broadcast;
    this.ingest = deps.ingest;
    this.noticeReceipts = deps.noticeReceipts;
    this.ackDelayMs = deps.ackDelayMs ?? 10;
    this.log = deps.log;
  }

  /**
   * Declares an emergency: checks the leader and the area against their jurisdiction, writes the
   * emergency, its grids, the call-up rows and the call-up notice with its receipts in one
   * transaction, then tells the desks and phones whose jurisdiction meets the area.
   */
  async declare(p: Principal, body: DeclareEmergencyBody, ip?: string): Promise<DeclaredEmergency> {
    if (p.scope.isSystem || p.scope.path === null || p.scope.regionCode === null) throw new AppError('FORBIDDEN', 'Emergencies are declared by a leader.');
    const { rows: [own] } = await this.db.query<{ level: string }>(sql`SELECT level FROM regions WHERE code = ${p.scope.regionCode}`);
    if (p.role !== 'leader' || (own?.level !== 'district' && own?.level !== 'street')) {
      throw new AppError('EMERGENCY_LEADER_REQUIRED', 'Only a district or street leader may declare an emergency.');
    }
    const regionCodes = [...new Set(body.area.regionCodes ?? [])];
    const polygon = body.area.polygon ?? null;
    if (regionCodes.length === 0 && !polygon) throw new AppError('EMERGENCY_AREA_EMPTY', 'Name regions or draw a polygon for the area.');
    const found = await repo.findRegions(this.db, regionCodes);
    const known = new Set(found.map((r) => r.code));
    const unknown = regionCodes.filter((c) => !known.has(c));
    if (unknown.length > 0) throw new AppError('EMERGENCY_AREA_UNKNOWN', `Unknown region code(s): ${unknown.slice(0, 10).join(', ')}.`);
    const outside = found.filter((r) => !p.scope.contains(r.path));
    if (outside.length > 0) {
      throw new AppError('EMERGENCY_AREA_OUT_OF_JURISDICTION', `Region(s) outside your jurisdiction: ${outside.slice(0, 10).map((r) => r.code).join(', ')}.`);
    }
    if (polygon) {
      checkPolygon(polygon);
      const share = await repo.shareOutside(this.db, p.scope.regionCode, polygon);
      if (share > MAX_SHARE_OUTSIDE) {
        throw new AppError('EMERGENCY_AREA_OUT_OF_JURISDICTION', `${Math.round(share * 100)}% of the drawn area lies outside your jurisdiction.`);
      }
    }
    const now = this.clock.now();
    const { path, regionCode } = p.scope;
    const note = body.note?.trim() ?? '';
    const written = await this.db.transaction(async (tx) => {
      const e = await repo.insertEmergency(tx, {
        type: body.type,
        level: body.level,
        note,
        regionCode,
        path,
        regionCodes,
        polygon,
        declaredBy: p.userId,
        declaredByName: p.username,
        scope: p.scope,
        now,
      });
      if (!e) return undefined;
      const label = `${TYPE_LABELS[body.type]}${levelNumeral(body.level)}级应急响应`;
      const notice = await repo.insertCallUpNotice(tx, {
        title: `【${label}】应急动员：请立即到本网格报到`,
        body: `已启动${label}。请收到后立即回复“收到”，并尽快赶到本人所在网格，到达后在手机上“报到”。${note ? `\n${note}` : ''}`,
        senderUserId: p.userId,
        senderName: p.username,
        regionCode,
        path,
        regionCodes,
        emergencyId: e.id,
        now,
      });
      await audit(tx, {
        userId: p.userId,
        action: 'emergency.declared',
        subjectType: 'emergency',
        subjectId: String(e.id),
        detail: { type: body.type, level: body.level, area: { regionCodes, polygon: polygon !== null }, grids: e.grids, called: e.called, noticeId: notice?.id ?? null },
        ip,
      });
      return { ...e, notice };
    });
    if (!written) throw new AppError('EMERGENCY_AREA_EMPTY', 'The area holds no grid inside your jurisdiction.');
    // Thousands of call-ups and receipts appeared at once: until the planner knows, it reads a
    // batch of acknowledgements through every unread receipt of the notice (0.35 → 1.4 s a batch of
    // 500, growing) instead of by key. Autovacuum's own analyse comes a minute later, or never
    // (PGlite; servers run with it off). The first acknowledgements wait for this pass (~0.1 s).
    this.analysing = repo
      .analyseCallUps(this.db)
      .catch((error: unknown) => this.log?.warn({ err: error }, 'analysing the call-up tables failed'));
    const emergency = await this.summary(written.id);
    const paths = await repo.gridPaths(this.db, written.id);
    this.broadcast.declared(emergency, paths);
    if (written.notice) {
      // The phones hear of the call-up as a notice (their inbox), with the notices' own event.
      const notice = await findNotice(this.db, Scope.system(), written.notice.id);
      if (notice) {
        const { path: _p, ...summary } = notice;
        this.broadcast.callUp(written.notice.userIds, { ...summary, receipt: { deliveredAt: null, readAt: null, repliedAt: null, reply: null }, reminder: false });
      }
    }
    return { ...emergency, mobilisation: { called: written.called, acknowledged: 0, reportedIn: 0 }, grids: written.grids };
  }

  private async summary(id: number): Promise<EmergencySummary> {
    const { path: _path, ...s } = (await repo.findForDesk(this.db, Scope.system(), id))!;
    return s;
  }

  /** Desks: emergencies meeting their jurisdiction, with their part of the counts. Workers: those they were called up for. */
  async list(p: Principal, q: EmergenciesQuery): Promise<EmergencyDetail[]> {
    const limit = q.limit ?? 20;
    if (p.role === 'worker') {
      if (p.workerId === null) return [];
      const rows = await repo.listForWorker(this.db, p.workerId, q.status, limit);
      return rows.map(({ emergency: { path: _path, ...e }, callUp }) => this.forWorker(e, callUp));
    }
    const found = await repo.listForDesk(this.db, p.scope, q.status, limit);
    const out: EmergencyDetail[] = [];
    for (const { path: _path, ...e } of found) {
      const grids = await repo.grids(this.db, p.scope, e.id);
      out.push({ ...e, mobilisation: repo.sumCounts(grids), grids, me: null });
    }
    return out;
  }

  private forWorker(e: EmergencySummary, c: repo.CallUpRow): EmergencyDetail {
    return {
      ...e,
      mobilisation: { called: 1, acknowledged: c.acknowledgedAt ? 1 : 0, reportedIn: c.reportedInAt ? 1 : 0 },
      grids: [],
      me: { gridCode: c.gridCode, gridName: c.gridName, acknowledgedAt: c.acknowledgedAt, reportedInAt: c.reportedInAt },
    };
  }

  async detail(p: Principal, id: number): Promise<EmergencyDetail> {
    if (p.role === 'worker') {
      if (p.workerId === null) throw notFound();
      const rows = await repo.listForWorker(this.db, p.workerId, undefined, 100);
      const row = rows.find((r) => r.emergency.id === id);
      if (!row) throw notFound();
      const { path: _path, ...e } = row.emergency;
      return this.forWorker(e, row.callUp);
    }
    const found = await repo.findForDesk(this.db, p.scope, id);
    if (!found) throw notFound();
    const { path: _path, ...e } = found;
    const grids = await repo.grids(this.db, p.scope, id);
    return { ...e, mobilisation: repo.sumCounts(grids), grids, me: null };
  }

  async situation(p: Principal, id: number): Promise<EmergencySituation> {
    if (!(await repo.findForDesk(this.db, p.scope, id))) throw notFound();
    const s = await repo.situation(this.db, p.scope, id);
    const openTickets = Object.values(s.byStatus).reduce((a, b) => a + b, 0);
    return { id, ticketsByStatus: s.byStatus, openTickets, openAlarms: s.alarms.length, alarms: s.alarms };
  }

  /**
   * 收到: the called person acknowledges (their call-up notice is read too). Again changes nothing.
   * A district's party members answer within seconds of each other: acknowledgements gather for a
   * few milliseconds and are written together in one statement (one transaction), and each reply
   * waits for that commit.
   */
  async acknowledge(p: Principal, id: number, ip?: string): Promise<CallUpState> {
    const workerId = p.workerId;
    if (workerId === null) throw notFound();
    const now = this.clock.now();
    const changed = await new Promise<{ gridCode: string } | undefined>((resolve, reject) => {
      this.acks.push({ id, workerId, userId: p.userId, ip: ip ?? null, resolve, reject });
      if (this.acks.length >= ACK_BATCH) this.flushAcks();
      else this.ackTimer ??= setTimeout(() => this.flushAcks(), this.ackDelayMs);
    });
    if (changed) return { emergencyId: id, gridCode: changed.gridCode, acknowledgedAt: new Date(now).toISOString(), reportedInAt: null };
    const c = await repo.callUpOf(this.db, id, workerId);
    if (!c) throw notFound();
    if (c.status !== 'active') throw new AppError('EMERGENCY_CLOSED', 'This emergency is over.');
    if (c.acknowledgedAt === null) throw new AppError('SERVICE_UNAVAILABLE', 'The acknowledgement could not be recorded just now; send it again.');
    return { emergencyId: id, gridCode: c.gridCode, acknowledgedAt: c.acknowledgedAt, reportedInAt: c.reportedInAt };
  }

  /** Writes the gathered acknowledgements (one batch at a time, in order). */
  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const batch = this.acks.splice(0, ACK_BATCH);
    if (batch.length === 0) return;
    this.ackWriting = this.ackWriting.then(async () => {
      try {
        await this.analysing;
        const rows = await this.db.transaction((tx) => repo.acknowledgeMany(tx, batch, this.clock.now()));
        const byKey = new Map(rows.map((r) => [`${r.id}:${r.workerId}`, r]));
        const notices = new Set<number>();
        for (const r of rows) {
          this.broadcast.gridChanged(r.id, r.gridCode);
          if (r.noticeId !== null) notices.add(r.noticeId);
        }
        if (notices.size > 0) this.noticeReceipts.receiptsChanged(notices);
        // A worker's second tap in the same batch finds theirs already written: it answers like a repeat.
        const answered = new Set<string>();
        for (const a of batch) {
          const key = `${a.id}:${a.workerId}`;
          const r = answered.has(key) ? undefined : byKey.get(key);
          answered.add(key);
          a.resolve(r ? { gridCode: r.gridCode } : undefined);
        }
      } catch (error) {
        for (const a of batch) a.reject(error);
      }
    });
    if (this.acks.length > 0) this.ackTimer = setTimeout(() => this.flushAcks(), this.ackDelayMs);
  }

  /** Waits for the acknowledgements in flight (shutdown). */
  async drain(): Promise<void> {
    this.flushAcks();
    await this.ackWriting;
  }

  /**
   * 报到: the called person is at their grid. The position must lie inside their grid (ST_Contains),
   * else 422 EMERGENCY_REPORT_IN_OUTSIDE_GRID and nothing changes. It also acknowledges, and the
   * position goes through the ingest like the phone's own fixes, so they appear on the map.
   */
  async reportIn(p: Principal, id: number, body: ReportInBody, ip?: string): Promise<CallUpState> {
    const workerId = p.workerId;
    if (workerId === null) throw notFound();
    const now = this.clock.now();
    const point = { lon: body.lon, lat: body.lat };
    const result = await this.db.transaction(async (tx) => {
      const c = await repo.lockCallUp(tx, id, workerId, point);
      if (!c) throw notFound();
      if (c.status !== 'active') throw new AppError('EMERGENCY_CLOSED', 'This emergency is over.');
      if (c.reportedInAt !== null) return { c, changed: false };
      if (!c.inside) throw new AppError('EMERGENCY_REPORT_IN_OUTSIDE_GRID', 'You are not inside your grid yet: report in when you get there.');
      await repo.reportIn(tx, id, workerId, c, point, now);
      if (c.acknowledgedAt === null && c.noticeId !== null) {
        await markDelivered(tx, workerId, now, c.noticeId);
        await markRead(tx, workerId, c.noticeId, now);
      }
      await audit(tx, { userId: p.userId, action: 'emergency.reported_in', subjectType: 'emergency', subjectId: String(id), detail: { workerId, lon: body.lon, lat: body.lat }, ip });
      return { c, changed: true };
    });
    if (result.changed) {
      this.broadcast.gridChanged(id, result.c.gridCode);
      // On the map from now on: the same ingest as the phone's POST /api/positions.
      await this.ingest.submitForWorker(workerId, { time: now, lon: body.lon, lat: body.lat, accuracy: body.accuracy });
      if (result.c.acknowledgedAt === null && result.c.noticeId !== null) this.noticeReceipts.receiptsChanged([result.c.noticeId]);
    }
    return this.callUpState(id, workerId);
  }

  private async callUpState(id: number, workerId: number): Promise<CallUpState> {
    const c = (await repo.callUpOf(this.db, id, workerId))!;
    return { emergencyId: id, gridCode: c.gridCode, acknowledgedAt: c.acknowledgedAt, reportedInAt: c.reportedInAt };
  }

  /** Ends the emergency (a leader whose jurisdiction covers the declaring one) and writes the after-action report. */
  async close(p: Principal, id: number, ip?: string): Promise<EmergencyReport> {
    const found = await repo.findForDesk(this.db, p.scope, id);
    if (!found) throw notFound();
    if (!p.scope.contains(found.path)) throw new AppError('FORBIDDEN', 'Only a leader over the declaring jurisdiction may end this emergency.');
    if (found.status !== 'active') throw new AppError('EMERGENCY_CLOSED', 'This emergency is already over.');
    const now = this.clock.now();
    const closed = await this.db.transaction(async (tx) => {
      const ok = await repo.close(tx, id, p.userId, now);
      if (!ok) return false;
      await audit(tx, { userId: p.userId, action: 'emergency.closed', subjectType: 'emergency', subjectId: String(id), ip });
      return true;
    });
    if (!closed) throw new AppError('EMERGENCY_CLOSED', 'This emergency is already over.');
    const report = await this.buildReport(id);
    await repo.saveReport(this.db, id, report);
    this.broadcast.closed({ id, closedAt: report.closedAt }, await repo.gridPaths(this.db, id));
    return report;
  }

  /** The after-action report of a closed emergency meeting the desk's jurisdiction. */
  async report(p: Principal, id: number): Promise<EmergencyReport> {
    const found = await repo.findForDesk(this.db, p.scope, id);
    if (!found) throw notFound();
    if (found.status !== 'closed') throw new AppError('CONFLICT', 'The report is written when the emergency is closed.');
    return ((await repo.loadReport(this.db, id)) as EmergencyReport | null) ?? this.buildReport(id);
  }

  private async buildReport(id: number): Promise<EmergencyReport> {
    const e = await this.summary(id);
    const facts = await repo.reportFacts(this.db, id);
    const declared = Date.parse(e.declaredAt);
    const closedAt = e.closedAt ?? new Date(this.clock.now()).toISOString();
    const durationS = Math.max(0, Math.round((Date.parse(closedAt) - declared) / 1000));
    const ack = [...facts.ackS].sort((a, b) => a - b);
    const rep = [...facts.reportS].sort((a, b) => a - b);
    const mobilisation = repo.sumCounts(facts.grids);
    // The curve: cumulative counts per bucket (a minute, or longer so that it has at most 240 points).
    const bucketMin = Math.max(1, Math.ceil(durationS / 60 / 240));
    const curve: EmergencyReport['curve'] = [];
    let ia = 0;
    let ir = 0;
    for (let m = 0; m <= Math.ceil(durationS / 60) + bucketMin - 1; m += bucketMin) {
      const limit = (m + bucketMin) * 60;
      while (ia < ack.length && ack[ia]! < limit) ia++;
      while (ir < rep.length && rep[ir]! < limit) ir++;
      curve.push({ minute: m, acknowledged: ia, reportedIn: ir });
    }
    const at = (s: number) => new Date(declared + s * 1000).toISOString();
    const timeline: EmergencyReport['timeline'] = [
      { at: e.declaredAt, kind: 'declared', text: `${e.declaredBy.name} 启动${TYPE_LABELS[e.type]}${levelNumeral(e.level)}级应急响应（${facts.grids.length} 个网格）` },
      { at: e.declaredAt, kind: 'called', text: `动员通知发出：${mobilisation.called} 人` },
    ];
    const milestone = (sorted: number[], share: number, kind: string, label: string) => {
      const k = Math.ceil(share * mobilisation.called);
      if (k > 0 && sorted.length >= k) timeline.push({ at: at(sorted[k - 1]!), kind, text: `${label}达 ${Math.round(share * 100)}%（${k} 人）` });
    };
    if (ack.length > 0) timeline.push({ at: at(ack[0]!), kind: 'first_acknowledged', text: '首人回复“收到”' });
    milestone(ack, 0.5, 'acknowledged_50', '“收到”');
    if (rep.length > 0) timeline.push({ at: at(rep[0]!), kind: 'first_reported_in', text: '首人到岗报到' });
    milestone(rep, 0.5, 'reported_in_50', '报到');
    milestone(rep, 0.9, 'reported_in_90', '报到');
    for (const a of facts.alarms) timeline.push({ at: a.at, kind: 'alarm', text: a.text });
    timeline.push({ at: closedAt, kind: 'closed', text: `应急响应结束：收到 ${mobilisation.acknowledged} 人，报到 ${mobilisation.reportedIn} 人` });
    timeline.sort((a, b) => a.at.localeCompare(b.at));
    return {
      id,
      type: e.type,
      level: e.level,
      declaredAt: e.declaredAt,
      closedAt,
      durationS,
      mobilisation,
      timeline,
      curve,
      tickets: { filed: facts.tickets.filed, closed: facts.tickets.closed, open: facts.tickets.open, byStatus: facts.tickets.byStatus },
      responseTimes: {
        acknowledgeMedianS: quantile(ack, 0.5),
        acknowledgeP90S: quantile(ack, 0.9),
        reportInMedianS: quantile(rep, 0.5),
        reportInP90S: quantile(rep, 0.9),
        ticketResponseMedianS: facts.tickets.responseMedianS,
      },
      grids: facts.grids,
    };
  }
}
