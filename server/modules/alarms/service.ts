/**
 * Alarms (一键报警) on the server: raising from a device's `alarm=sos` or the phone app, joining a
 * repeat to the open alarm, the desks' transitions through the shared machine, and one-click
 * dispatch of the nearest free workers to the spot through the ticket workflow. Every change is one
 * transaction writing the alarm, its timeline entry and the audit log; the live events go out after
 * it commits.
 */
import type { FastifyBaseLogger } from 'fastify';
import {
  ALARM_DISPATCH_ROLES,
  ALARM_TRAIL_MS,
  OPEN_ALARM_STATUSES,
  decideAlarm,
  type AlarmDetail,
  type AlarmDispatchBody,
  type AlarmDispatchResult,
  type AlarmKind,
  type AlarmSource,
  type AlarmSummary,
  type AlarmTicketRef,
  type AlarmTransitionBody,
  type AlarmsQuery,
  type RaiseAlarmBody,
} from '@shared/alarms-api';
import { raw, type Db, type Queryable } from '../../platform/db';
import type { Principal } from '../../platform/auth/scope';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import { audit } from '../auth/repository';
import type { AlarmFix } from '../positions/ingest';
import type { TicketService } from '../tickets/service';
import type { DispatchService } from '../dispatch/service';
import type { AlarmBroadcaster } from './broadcast';
import * as repo from './repository';

/** Internal work sees every alarm. */
const ALL = raw('true');
/** The category of the tickets that send people to an alarm (migration 007). */
export const ALARM_TICKET_CATEGORY = 'safety.sos';
/** A phone's clock may run this far ahead, ms. */
const FUTURE_SKEW_MS = 60_000;

class ClientIdTaken extends Error {}

/** What raises an alarm, from whichever channel. */
export interface RaiseInput {
  kind: AlarmKind;
  workerId: number;
  lon: number;
  lat: number;
  accuracy: number | null;
  /** When it was raised (the device's or phone's time), ms. */
  time: number;
  source: AlarmSource;
  deviceId: number | null;
  /** The signed-in worker (the app); null for a device. */
  userId: number | null;
  clientId: string | null;
  ip?: string | undefined;
}

interface Committed {
  id: number;
  event: 'raised' | 'repeated' | 'acknowledged' | 'dispatched' | 'resolved' | 'false_alarm';
  workerUserIds: number[];
}

export interface AlarmServiceDeps {
  db: Db;
  clock: Clock;
  broadcast: AlarmBroadcaster;
  tickets: TicketService;
  dispatch: DispatchService;
  log?: FastifyBaseLogger;
}

export class AlarmService {
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly broadcast: AlarmBroadcaster;
  private readonly tickets: TicketService;
  private readonly dispatcher: DispatchService;
  private readonly log: FastifyBaseLogger | undefined;

  constructor(deps: AlarmServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.broadcast = deps.broadcast;
    this.tickets = deps.tickets;
    this.dispatcher = deps.dispatch;
    this.log = deps.log;
  }

  // -------------------------------------------------------------------------------------------
  // Raising

  /** A device's fix carried an alarm (the ingest's sink): an SOS raises or joins; other alarms are not handled yet. */
  async fromDevice(fix: AlarmFix): Promise<void> {
    if (fix.alarm.toLowerCase() !== 'sos') return;
    await this.raise({
      kind: 'sos',
      workerId: fix.workerId,
      lon: fix.lon,
      lat: fix.lat,
      accuracy: fix.accuracy,
      time: fix.time,
      source: 'device',
      deviceId: fix.deviceId,
      userId: null,
      clientId: null,
    });
  }

  /** The phone app's SOS, by a signed-in worker for themselves. */
  async fromApp(p: Principal, body: RaiseAlarmBody, ip?: string): Promise<{ alarm: AlarmSummary; created: boolean }> {
    if (p.workerId === null) throw new AppError('FORBIDDEN', 'Only a grid worker’s account raises an SOS for themselves.');
    const now = this.clock.now();
    const time = body.time === undefined ? now : Date.parse(body.time);
    if (!Number.isFinite(time)) throw new AppError('VALIDATION_FAILED', 'time is not a valid date-time.');
    if (time > now + FUTURE_SKEW_MS) throw new AppError('POSITION_IN_FUTURE', 'The SOS is dated in the future: check the phone’s clock.');
    return this.raise({
      kind: body.kind,
      workerId: p.workerId,
      lon: body.lon,
      lat: body.lat,
      accuracy: body.accuracy ?? null,
      time,
      source: 'app',
      deviceId: null,
      userId: p.userId,
      clientId: body.clientId,
      ip,
    });
  }

  /**
   * Raises an alarm, or joins the worker's open one of the same kind (a 'repeated' entry, the newest
   * position). A client id seen before answers with its alarm and records nothing.
   */
  async raise(input: RaiseInput): Promise<{ alarm: AlarmSummary; created: boolean }> {
    if (input.clientId) {
      const seen = await repo.alarmByClientId(this.db, input.workerId, input.clientId);
      if (seen !== undefined) return { alarm: await this.summary(seen), created: false };
    }
    let committed: Committed;
    try {
      committed = await this.db.transaction((tx) => this.raiseIn(tx, input));
    } catch (error) {
      if (!(error instanceof ClientIdTaken) || !input.clientId) throw error;
      const seen = await repo.alarmByClientId(this.db, input.workerId, input.clientId);
      if (seen === undefined) throw error;
      return { alarm: await this.summary(seen), created: false };
    }
    const alarm = await this.announce(committed);
    return { alarm, created: committed.event === 'raised' };
  }

  private async raiseIn(tx: Queryable, input: RaiseInput): Promise<Committed> {
    const now = this.clock.now();
    const home = await repo.workerHome(tx, input.workerId);
    if (!home) throw new AppError('NOT_FOUND', `No worker ${input.workerId}.`);
    const place = { lon: input.lon, lat: input.lat, accuracy: input.accuracy };
    const detail = { source: input.source, lon: input.lon, lat: input.lat, accuracy: input.accuracy, deviceId: input.deviceId, time: new Date(input.time).toISOString() };
    // The open alarm, or a new one; a concurrent raise that won the partial unique index is joined.
    let open = await repo.lockOpenAlarm(tx, input.workerId, input.kind);
    let id: number | undefined;
    if (!open) {
      id = await repo.insertAlarm(tx, {
        kind: input.kind, workerId: input.workerId, gridCode: home.gridCode, gridPath: home.gridPath, ...place,
        source: input.source, deviceId: input.deviceId, raisedByUserId: input.userId, raisedAt: input.time, now,
      });
      if (id === undefined) open = await repo.lockOpenAlarm(tx, input.workerId, input.kind);
    }
    let event: Committed['event'];
    if (id !== undefined) {
      event = 'raised';
    } else {
      if (!open) throw new Error(`alarm of worker ${input.workerId} neither inserted nor open`);
      id = open.id;
      event = 'repeated';
      await repo.repeatAlarm(tx, id, { ...place, now });
    }
    if (input.clientId && !(await repo.rememberClientId(tx, input.workerId, input.clientId, id))) throw new ClientIdTaken();
    await repo.insertEvent(tx, { alarmId: id, at: now, kind: event, actorUserId: input.userId, detail });
    await audit(tx, { userId: input.userId, action: `alarm.${event}`, subjectType: 'alarm', subjectId: String(id), detail: { kind: input.kind, workerId: input.workerId, ...detail }, ip: input.ip });
    return { id, event, workerUserIds: await repo.workerUserIds(tx, input.workerId) };
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  async list(p: Principal, q: AlarmsQuery): Promise<AlarmSummary[]> {
    return repo.listSummaries(this.db, repo.visibleTo(p), (q.status ?? 'open') === 'open', 500);
  }

  /** One alarm as the wire carries it, whoever may see it (internal work). */
  async summary(id: number): Promise<AlarmSummary> {
    const row = await repo.findSummary(this.db, id, ALL);
    if (!row) throw new AppError('NOT_FOUND', `No alarm ${id}.`);
    return row.summary;
  }

  /** One alarm with its timeline, the worker's trail of the last 10 minutes and the tickets sent to it. */
  async detail(p: Principal, id: number, visible = repo.visibleTo(p)): Promise<AlarmDetail> {
    const row = await repo.findSummary(this.db, id, visible);
    if (!row) throw new AppError('NOT_FOUND', `No alarm ${id} in your jurisdiction.`);
    const a = row.summary;
    const open = OPEN_ALARM_STATUSES.includes(a.status);
    const until = open || a.resolvedAt === null ? this.clock.now() : Date.parse(a.resolvedAt);
    const [timeline, trail, tickets] = await Promise.all([
      repo.timeline(this.db, id),
      repo.trail(this.db, a.worker.id, until - ALARM_TRAIL_MS, until),
      repo.tickets(this.db, id),
    ]);
    return { ...a, timeline, trail, tickets };
  }

  // -------------------------------------------------------------------------------------------
  // Transitions

  /**
   * 接警 / 处置完毕 / 误报. Requests on one alarm take turns on its row lock. A second acknowledge is
   * 409 ALARM_TRANSITION_NOT_ALLOWED (someone has the alarm already); a resolve or false alarm
   * repeated by the user who made it changes nothing and answers with the alarm as it stands.
   */
  async transition(p: Principal, id: number, body: AlarmTransitionBody, ip?: string): Promise<AlarmDetail> {
    const committed = await this.db.transaction(async (tx): Promise<Committed | null> => {
      const row = await repo.lockAlarm(tx, id, repo.visibleTo(p));
      if (!row) throw new AppError('NOT_FOUND', `No alarm ${id} in your jurisdiction.`);
      const own = p.workerId !== null && p.workerId === row.workerId;
      const note = body.note?.trim() || null;
      const decision = decideAlarm(row.status, body.action, { role: p.role, own }, note ?? undefined);
      if (!decision.ok) {
        const closedAs = body.action === 'resolve' ? 'resolved' : body.action === 'false_alarm' ? 'false_alarm' : null;
        const repeat = closedAs !== null && row.status === closedAs && row.resolvedBy === p.userId;
        if (repeat) return null;
        throw new AppError(decision.code, decision.message);
      }
      const now = this.clock.now();
      const close = decision.to === 'resolved' || decision.to === 'false_alarm';
      // Resolving takes the alarm too (who was on it); a false alarm closes it as it stands.
      await repo.updateStatus(tx, id, { status: decision.to, userId: p.userId, note, acknowledge: body.action !== 'false_alarm', close, now });
      const event = decision.to === 'acknowledged' ? 'acknowledged' : decision.to === 'resolved' ? 'resolved' : 'false_alarm';
      await repo.insertEvent(tx, { alarmId: id, at: now, kind: event, actorUserId: p.userId, note, detail: { from: row.status, to: decision.to } });
      await audit(tx, { userId: p.userId, action: `alarm.${event}`, subjectType: 'alarm', subjectId: String(id), detail: { from: row.status, to: decision.to, note }, ip });
      return { id, event, workerUserIds: await repo.workerUserIds(tx, row.workerId) };
    });
    if (committed) await this.announce(committed);
    return this.detail(p, id, ALL);
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch (派最近人员)

  /**
   * Sends people to the alarm: one immediate ticket at its position per worker, registered and
   * dispatched through the ticket workflow (so each gets the usual offer on their phone), linked to
   * the alarm. Whom: `workerIds`, or the `count` (default 1) nearest free workers among the dispatch
   * candidates, never the worker in danger. A raised alarm is acknowledged by the same click. When
   * nobody is free the ticket waits, registered, for a desk.
   */
  async dispatch(p: Principal, id: number, body: AlarmDispatchBody, ip?: string): Promise<AlarmDispatchResult> {
    if (!(ALARM_DISPATCH_ROLES as readonly string[]).includes(p.role)) throw new AppError('FORBIDDEN', 'Only a dispatch desk sends people.');
    const row = await repo.findSummary(this.db, id, repo.visibleTo(p));
    if (!row) throw new AppError('NOT_FOUND', `No alarm ${id} in your jurisdiction.`);
    const alarm = row.summary;
    if (!OPEN_ALARM_STATUSES.includes(alarm.status)) {
      throw new AppError('ALARM_TRANSITION_NOT_ALLOWED', `The alarm is ${alarm.status}: nobody is sent to a closed alarm.`);
    }
    if (alarm.status === 'raised') {
      try {
        await this.transition(p, id, { action: 'acknowledge', note: '派遣即接警' }, ip);
      } catch (error) {
        // Someone acknowledged it meanwhile: dispatch all the same.
        if (!(error instanceof AppError && error.code === 'ALARM_TRANSITION_NOT_ALLOWED')) throw error;
      }
    }

    const already = await repo.tickets(this.db, id);
    const busy = new Set<number>([alarm.worker.id, ...already.flatMap((t) => (t.assignedWorker ? [t.assignedWorker.id] : []))]);
    const description = `一键报警：网格员${alarm.worker.name}（${alarm.worker.phone}，${alarm.grid.name}）在此求助，请立即前往支援。告警编号 ${id}。`;
    const file = async (k: number) => {
      const { ticket } = await this.tickets.create(p, {
        category: ALARM_TICKET_CATEGORY, urgency: 'immediate', lon: alarm.lon, lat: alarm.lat, description,
        source: 'hotline', clientId: `alarm-${id}-${k}`,
      }, ip);
      await this.tickets.transition(p, ticket.id, { action: 'register' }, ip);
      return ticket.id;
    };

    const first = await file(already.length + 1);
    let whom = body.workerIds;
    if (!whom) {
      const count = body.count ?? 1;
      const candidates = await this.dispatcher.candidates(p, first, count + busy.size);
      whom = candidates.filter((c) => !busy.has(c.workerId)).slice(0, count).map((c) => c.workerId);
    }
    const sent: number[] = [];
    for (const [i, workerId] of whom.filter((w) => w !== alarm.worker.id).entries()) {
      const ticketId = i === 0 ? first : await file(already.length + 1 + i);
      await this.tickets.transition(p, ticketId, { action: 'dispatch', workerId }, ip);
      sent.push(ticketId);
    }
    if (sent.length === 0) sent.push(first);

    const committed = await this.db.transaction(async (tx): Promise<Committed> => {
      for (const ticketId of sent) await repo.linkTicket(tx, id, ticketId);
      const refs = (await repo.tickets(tx, id)).filter((t) => sent.includes(t.id));
      const detail = { tickets: refs.map((t) => ({ id: t.id, number: t.number, worker: t.assignedWorker })) };
      const now = this.clock.now();
      await repo.insertEvent(tx, { alarmId: id, at: now, kind: 'dispatched', actorUserId: p.userId, detail });
      await audit(tx, { userId: p.userId, action: 'alarm.dispatched', subjectType: 'alarm', subjectId: String(id), detail, ip });
      return { id, event: 'dispatched', workerUserIds: await repo.workerUserIds(tx, alarm.worker.id) };
    });
    const after = await this.announce(committed);
    const tickets: AlarmTicketRef[] = (await repo.tickets(this.db, id)).filter((t) => sent.includes(t.id));
    return { alarm: after, tickets };
  }

  /** After commit: the alarm to every dashboard whose jurisdiction covers it and to the worker. */
  private async announce(c: Committed): Promise<AlarmSummary> {
    const row = await repo.findSummary(this.db, c.id, ALL);
    if (!row) throw new Error(`alarm ${c.id} vanished after commit`);
    try {
      if (c.event === 'raised') this.broadcast.raised(row.summary, row.gridPath, c.workerUserIds);
      else this.broadcast.updated(row.summary, row.gridPath, c.workerUserIds);
    } catch (error) {
      this.log?.error({ err: error, alarmId: c.id }, 'alarm broadcast failed');
    }
    return row.summary;
  }
}
