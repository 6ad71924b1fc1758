/**
 * The ticket workflow on the server: creation with grid resolution and idempotency, transitions
 * through the shared machine, deadline windows, escalation, department replies and photos. Every
 * change is one transaction that writes the ticket, its timeline entry and the audit log; live
 * events go out after it commits.
 */
import type { FastifyBaseLogger } from 'fastify';
import { REGION_LEVELS, type RegionLevel } from '@shared/domain';
import {
  DEFAULT_DEADLINE_RULES,
  ESCALATION_LEVEL_LABELS,
  FINAL_STATUSES,
  SYSTEM_ESCALATABLE,
  TICKET_RULES,
  TICKET_STAGE_LABELS,
  TICKET_STAGES,
  TICKET_URGENCIES,
  availableActions,
  deadlineAlert,
  decide,
  formatTicketNumber,
  nextStageWindow,
  ticketDay,
  type DeadlineRules,
  type EscalationLevel,
  type TicketAction,
  type TicketActor,
  type TicketDecision,
  type TicketEventKind,
  type TicketStage,
  type TicketStatus,
  type TransitionAction,
} from '@shared/tickets';
import type {
  CreateTicketBody,
  DepartmentReplyBody,
  PutCategoryBody,
  TicketChange,
  TicketDetail,
  TicketList,
  TicketPhotoDto,
  TicketReofferMark,
  TicketSummary,
  TicketsQuery,
  TransitionBody,
} from '@shared/tickets-api';
import { TICKET_REPORTED_MAX_AGE_MS } from '@shared/tickets-api';
import { raw, type Db, type Queryable } from '../../platform/db';
import { Scope, type Principal } from '../../platform/auth/scope';
import { audit } from '../auth/repository';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import { detectImageType, PHOTO_MAX_BYTES, type PhotoStore } from './photos';
import type { TicketBroadcaster } from './broadcast';
import * as repo from './repository';

/** Internal work sees every ticket (the scheduler, announcing a change after commit). */
const ALL = raw('true');

/** Statuses in which a worker holds the ticket: dispatching it to them again changes nothing. */
const HELD: readonly TicketStatus[] = ['dispatched', 'accepted', 'in_progress'];

/** Roles at the district centre that relay a department's reply and progress. */
const DEPARTMENT_RELAY: readonly string[] = ['admin', 'leader', 'operator'];

class DuplicateClientId extends Error {}

/** The level of a jurisdiction from its path ('/140106/' is the district); null for the system. */
export function regionLevelOfPath(path: string | null): RegionLevel | null {
  if (path === null) return null;
  return REGION_LEVELS[path.split('/').filter(Boolean).length - 1] ?? null;
}

/** The region at an escalation level along a grid path: the desk that now holds the ticket. */
export function regionCodeAtLevel(gridPath: string, level: EscalationLevel): string {
  const [district = '', street = '', community = '', grid = ''] = gridPath.split('/').filter(Boolean);
  switch (level) {
    case 'grid':
      return grid;
    case 'community':
      return community;
    case 'street':
      return street;
    default:
      return district;
  }
}

interface ApplyContext {
  actorUserId: number | null;
  /** Whose jurisdiction a dispatched worker must come from. */
  scope: Scope;
  reason?: string | undefined;
  note?: string | undefined;
  workerId?: number | undefined;
  departmentCode?: string | undefined;
  /** close: the 回访 rating, stored on the ticket. */
  satisfaction?: 'satisfied' | 'basic' | 'unsatisfied' | undefined;
  replyDueBy?: number;
  detail?: Record<string, unknown>;
  overdueStage?: TicketStage | null;
  ip?: string | undefined;
}

interface Applied {
  ticketId: number;
  eventId: number;
  gridPath: string;
  /** Workers whose open-task count may have changed. */
  workers?: number[];
  escalation?: { fromLevel: EscalationLevel; toLevel: EscalationLevel; overdueStage: TicketStage | null };
}

/** A change as the dispatch flow sees it while it is being written. */
export interface TicketChangeContext {
  /** The ticket before the change. */
  ticket: repo.TicketRow;
  event: TicketEventKind;
  to: TicketStatus;
  /** Who holds it after the change. */
  workerId: number | null;
  actorUserId: number | null;
  /** The jurisdiction the change was made in (a dispatched worker comes from inside it). */
  scope: Scope;
  now: number;
}

/** How the dispatch flow (dispatch-service.ts) follows the workflow: offers, re-offers, auto-dispatch. */
export interface TicketDispatchHooks {
  /**
   * Inside the change's transaction, before its timeline entry is written: keeps the offers in step
   * and returns facts for the entry and the audit log (a dispatch's rank among the recommended).
   */
  recording(tx: Queryable, change: TicketChangeContext): Promise<Record<string, unknown> | undefined>;
  /** After the change has committed and gone to the dashboards. */
  announced(change: TicketChange, gridPath: string): Promise<void>;
  /** The desk's re-offer marks for listed tickets (only those with one; none for a caller who does not dispatch). */
  reofferMarks(p: Principal, listed: readonly Pick<TicketSummary, 'id' | 'status'>[]): Promise<TicketReofferMark[]>;
}

export interface TicketServiceDeps {
  db: Db;
  clock: Clock;
  photos: PhotoStore;
  broadcast: TicketBroadcaster;
  log?: FastifyBaseLogger;
}

export class TicketService {
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly photos: PhotoStore;
  private readonly broadcast: TicketBroadcaster;
  private readonly log: FastifyBaseLogger | undefined;
  /** Open tasks per worker, kept in step with every transition (dispatch recommendations read it). */
  private readonly openTaskCount = new Map<number, number>();
  private dispatchHooks: TicketDispatchHooks | undefined;

  constructor(deps: TicketServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.photos = deps.photos;
    this.broadcast = deps.broadcast;
    this.log = deps.log;
  }

  /** Calls `listener` with the grid path of every ticket created or changed, after it went out. */
  onChange(listener: (gridPath: string) => void): void {
    this.broadcast.listen(listener);
  }

  /** Lets the dispatch flow follow every change (set once, when the app is built). */
  useDispatch(hooks: TicketDispatchHooks): void {
    this.dispatchHooks = hooks;
  }

  /** Loads every worker's open-task count (at start). */
  async loadOpenTasks(): Promise<void> {
    this.openTaskCount.clear();
    for (const [id, n] of await repo.openTaskCounts(this.db)) this.openTaskCount.set(id, n);
  }

  /**
   * How many tickets a worker holds now (dispatched to them, accepted or in progress). Synchronous,
   * from memory, so a nearest-worker search can call it per candidate.
   */
  openTasks(workerId: number): number {
    return this.openTaskCount.get(workerId) ?? 0;
  }

  private async refreshOpenTasks(workerIds: readonly number[]): Promise<void> {
    if (workerIds.length === 0) return;
    const counts = await repo.openTaskCounts(this.db, workerIds);
    for (const id of workerIds) {
      const n = counts.get(id) ?? 0;
      if (n > 0) this.openTaskCount.set(id, n);
      else this.openTaskCount.delete(id);
    }
  }

  /** Who the principal is to this ticket, in the machine's terms. */
  actorFor(p: Principal, t: { assignedWorkerId: number | null; level: EscalationLevel }): TicketActor {
    const regionLevel = regionLevelOfPath(p.scope.path);
    const handler = t.assignedWorkerId !== null
      ? p.workerId !== null && p.workerId === t.assignedWorkerId
      : t.level === 'department' && regionLevel === 'district' && DEPARTMENT_RELAY.includes(p.role);
    return { role: p.role, handler, regionLevel };
  }

  private toDto(row: repo.TicketSummaryRow): TicketSummary {
    const { gridPath: _gridPath, ...dto } = row;
    return { ...dto, alert: deadlineAlert(dto, this.clock.now()) };
  }

  // -------------------------------------------------------------------------------------------
  // Filing

  /**
   * Files a ticket at a point: the grid is resolved in PostGIS, the number is the day's next, the
   * register deadline starts. The same clientId from the same reporter returns the first ticket.
   */
  async create(p: Principal, body: CreateTicketBody, ip?: string): Promise<{ ticket: TicketSummary; created: boolean }> {
    const clientId = body.clientId ?? null;
    if (clientId) {
      const existing = await repo.findIdByClientId(this.db, p.userId, clientId);
      if (existing !== undefined) return { ticket: await this.summary(existing), created: false };
    }
    const category = await repo.findCategory(this.db, body.category);
    if (!category || !category.active) throw new AppError('TICKET_CATEGORY_UNKNOWN', `There is no category "${body.category}" in use.`);
    const grid = await repo.gridAt(this.db, body.lon, body.lat);
    if (!grid) throw new AppError('TICKET_OUT_OF_DISTRICT', 'The location lies outside every district Gridline serves.');
    // A grid worker on patrol may report anywhere in their district; a desk files inside its jurisdiction.
    const district = `/${grid.path.split('/')[1]}/`;
    const allowed = p.role === 'worker' ? p.scope.path === null || p.scope.path.startsWith(district) : p.scope.contains(grid.path);
    if (!allowed) throw new AppError('OUT_OF_JURISDICTION', 'The location lies outside your jurisdiction.');

    const now = this.clock.now();
    // A report queued offline on a phone keeps the time it was made; its deadlines run from now, when the centre learns of it.
    const reportedAt = body.reportedAt === undefined ? now : Date.parse(body.reportedAt);
    if (!(reportedAt <= now + 60_000 && reportedAt >= now - TICKET_REPORTED_MAX_AGE_MS)) {
      throw new AppError('TICKET_REPORTED_AT_INVALID', `reportedAt must lie between ${TICKET_REPORTED_MAX_AGE_MS / 86_400_000} days ago and now.`);
    }
    const rules = await this.rules(this.db);
    const closeDueAt = now + rules[body.urgency].close * 60_000;
    const window = nextStageWindow(rules, body.urgency, 'received', 'created', now, {
      current: { stage: null, startedAt: null, dueAt: null },
      dispatchedAt: null,
      receivedAt: now,
      closeDueAt,
    });
    const source = body.source ?? (p.role === 'worker' ? 'patrol' : 'hotline');
    let id: number;
    try {
      id = await this.db.transaction(async (tx) => {
        const number = formatTicketNumber(ticketDay(now), await repo.nextTicketSeq(tx, ticketDay(now)));
        const inserted = await repo.insertTicket(tx, {
          number,
          source,
          categoryCode: category.code,
          urgency: body.urgency,
          description: body.description,
          lon: body.lon,
          lat: body.lat,
          grid,
          reporterUserId: p.userId,
          reporterWorkerId: p.workerId,
          clientId,
          stage: window.stage!,
          stageStartedAt: window.startedAt!,
          stageDueAt: window.dueAt!,
          dueAt: closeDueAt,
          now,
          receivedAt: Math.min(reportedAt, now),
        });
        // Another request with this clientId won the race: undo the number, return theirs.
        if (inserted === undefined) throw new DuplicateClientId();
        const id = inserted;
        const detail = {
          number, source, category: category.code, urgency: body.urgency, grid: grid.code, lon: body.lon, lat: body.lat,
          ...(body.reportedAt === undefined ? {} : { reportedAt: new Date(reportedAt).toISOString() }),
        };
        await repo.insertEvent(tx, { ticketId: id, at: now, actorUserId: p.userId, kind: 'created', fromStatus: null, toStatus: 'received', detail });
        await audit(tx, { userId: p.userId, action: 'ticket.created', subjectType: 'ticket', subjectId: String(id), detail, ip });
        return id;
      });
    } catch (error) {
      if (!(error instanceof DuplicateClientId) || !clientId) throw error;
      const existing = await repo.findIdByClientId(this.db, p.userId, clientId);
      if (existing === undefined) throw error;
      return { ticket: await this.summary(existing), created: false };
    }
    const row = await repo.findSummary(this.db, id, ALL);
    if (!row) throw new Error(`ticket ${id} vanished after creation`);
    const ticket = this.toDto(row);
    this.broadcast.created(ticket, row.gridPath);
    return { ticket, created: true };
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  async list(p: Principal, q: TicketsQuery): Promise<TicketList> {
    const { total, items } = await repo.listSummaries(this.db, repo.visibleTo(p), q, this.clock.now(), p.workerId);
    const reoffers = (await this.dispatchHooks?.reofferMarks(p, items)) ?? [];
    return { total, items: items.map((r) => this.toDto(r)), reoffers };
  }

  /** One ticket as the wire carries it, whoever may see it (internal work: notices, re-offers). */
  async summary(id: number): Promise<TicketSummary> {
    const row = await repo.findSummary(this.db, id, ALL);
    if (!row) throw new AppError('NOT_FOUND', `No ticket ${id}.`);
    return this.toDto(row);
  }

  /** One ticket with its timeline, photos, department replies and what the caller may do now. */
  async detail(p: Principal, id: number, visible = repo.visibleTo(p)): Promise<TicketDetail> {
    const row = await repo.findSummary(this.db, id, visible);
    if (!row) throw new AppError('NOT_FOUND', `No ticket ${id} in your jurisdiction.`);
    const [timeline, photos, departmentReplies] = await Promise.all([
      repo.timeline(this.db, id),
      repo.photos(this.db, id),
      repo.replies(this.db, id),
    ]);
    const actor = this.actorFor(p, { assignedWorkerId: row.assignedWorker?.id ?? null, level: row.level });
    return { ...this.toDto(row), timeline, photos, departmentReplies, actions: availableActions(row, actor) };
  }

  // -------------------------------------------------------------------------------------------
  // Transitions

  /**
   * Fires an action for a user; returns the ticket after, or throws the machine's stable code.
   * Idempotent: requests on one ticket serialise on its row lock, and a request that would change
   * nothing — a dispatch to the worker who already holds the ticket, or the same action again by the
   * user whose action brought the ticket where it stands — returns the ticket as it stands, with no
   * timeline entry, offer or broadcast. Once the ticket has moved on, a late repeat gets the
   * machine's answer (409 TICKET_TRANSITION_NOT_ALLOWED and the like).
   */
  async transition(p: Principal, id: number, body: TransitionBody, ip?: string): Promise<TicketDetail> {
    const applied = await this.db.transaction(async (tx) => {
      const row = await repo.lockTicket(tx, id, repo.visibleTo(p));
      if (!row) throw new AppError('NOT_FOUND', `No ticket ${id} in your jurisdiction.`);
      if (body.satisfaction !== undefined && body.action !== 'close') {
        throw new AppError('VALIDATION_FAILED', 'A satisfaction rating (回访) goes only with close.');
      }
      const decision = decide(row, body.action, this.actorFor(p, row), { reason: body.reason, workerId: body.workerId });
      if (decision.ok && body.action === 'dispatch' && HELD.includes(row.status) && row.assignedWorkerId === body.workerId) return null;
      if (!decision.ok) {
        if (await this.isRepeat(tx, row, p, body.action)) return null;
        throw new AppError(decision.code, decision.message);
      }
      return this.apply(tx, row, decision, {
        actorUserId: p.userId,
        scope: p.scope,
        reason: body.reason,
        note: body.note,
        workerId: body.workerId,
        departmentCode: body.departmentCode,
        satisfaction: body.satisfaction,
        ip,
      });
    });
    if (applied) await this.announce(applied);
    // The caller acted on it legitimately; show the result even if it has now left their view
    // (a worker who declined a ticket outside their grid).
    return this.detail(p, id, ALL);
  }

  /** Whether the ticket stands where this user's same action brought it: its latest step is that action, by them. */
  private async isRepeat(tx: Queryable, row: repo.TicketRow, p: Principal, action: TicketAction): Promise<boolean> {
    const last = await repo.latestTransition(tx, row.id);
    if (!last || last.actorUserId !== p.userId || last.toStatus !== row.status) return false;
    return TICKET_RULES[action].some((r) => r.event === last.kind && r.from === last.fromStatus && r.to === last.toStatus);
  }

  /**
   * Fires an action as the system (auto-dispatch, re-offers) inside a jurisdiction: a dispatched
   * worker must come from `scope`. The machine decides whether the system may; `still` re-checks the
   * locked row, so a ticket someone has just moved on is left alone. Returns whether it was applied.
   */
  async systemTransition(
    id: number,
    body: { action: TransitionAction; workerId?: number; reason: string; detail?: Record<string, unknown> },
    scope: Scope,
    still: (row: repo.TicketRow) => boolean = () => true,
  ): Promise<boolean> {
    const applied = await this.db.transaction(async (tx) => {
      const row = await repo.lockTicket(tx, id, ALL);
      if (!row || !still(row)) return null;
      const decision = decide(row, body.action, { role: 'system', handler: false }, { reason: body.reason, workerId: body.workerId });
      if (!decision.ok) throw new AppError(decision.code, decision.message);
      return this.apply(tx, row, decision, { actorUserId: null, scope, reason: body.reason, workerId: body.workerId, detail: body.detail });
    });
    if (!applied) return false;
    await this.announce(applied);
    return true;
  }

  /** Records a department's 吹哨 reply (the four facts) and starts its handling. */
  async reply(p: Principal, id: number, body: DepartmentReplyBody, ip?: string): Promise<TicketDetail> {
    const acceptedAt = Date.parse(body.acceptedAt);
    const dueBy = Date.parse(body.dueBy);
    if (!(dueBy > acceptedAt)) throw new AppError('VALIDATION_FAILED', 'dueBy must come after acceptedAt.');
    const applied = await this.db.transaction(async (tx) => {
      const row = await repo.lockTicket(tx, id, repo.visibleTo(p));
      if (!row) throw new AppError('NOT_FOUND', `No ticket ${id} in your jurisdiction.`);
      const decision = decide(row, 'reply', this.actorFor(p, row));
      if (!decision.ok) {
        // The same reply again (a retry): the ticket stands where it took it.
        if (await this.isRepeat(tx, row, p, 'reply')) return null;
        throw new AppError(decision.code, decision.message);
      }
      const code = body.departmentCode ?? row.departmentCode;
      if (!code) throw new AppError('TICKET_DEPARTMENT_REQUIRED', 'Say which department replies (departmentCode).');
      const department = await repo.findDepartment(tx, code);
      if (!department) throw new AppError('TICKET_DEPARTMENT_UNKNOWN', `There is no department "${code}".`);
      const now = this.clock.now();
      const replyId = await repo.insertReply(tx, {
        ticketId: id, departmentCode: department.code, acceptedAt, contacted: body.contacted, actions: body.actions, dueBy, recordedBy: p.userId, now,
      });
      return this.apply(tx, row, decision, {
        actorUserId: p.userId,
        scope: p.scope,
        note: body.note,
        departmentCode: department.code,
        replyDueBy: dueBy,
        detail: { replyId, department: department.code, acceptedAt: body.acceptedAt, contacted: body.contacted, actions: body.actions, dueBy: body.dueBy },
        ip,
      });
    });
    if (applied) await this.announce(applied);
    return this.detail(p, id, ALL);
  }

  /**
   * Escalates every ticket whose running stage is past its deadline one level up the ladder, with a
   * notice to the level above. Returns the ids escalated. Re-checks each under its row lock, so a
   * ticket someone just moved on is left alone.
   */
  async escalateOverdue(): Promise<number[]> {
    const now = this.clock.now();
    const done: number[] = [];
    for (const id of await repo.overdueForEscalation(this.db, now, SYSTEM_ESCALATABLE)) {
      try {
        const applied = await this.db.transaction(async (tx) => {
          const row = await repo.lockTicket(tx, id, ALL);
          if (!row || row.stageDueAt === null || row.stageDueAt >= now) return null;
          const decision = decide(row, 'escalate', { role: 'system', handler: false });
          if (!decision.ok) return null;
          const stage = row.stage;
          const reason = `${stage ? TICKET_STAGE_LABELS[stage] : ''}超时，自动上报${ESCALATION_LEVEL_LABELS[decision.level]}`;
          return this.apply(tx, row, decision, {
            actorUserId: null,
            scope: Scope.system(),
            reason,
            overdueStage: stage,
            detail: { auto: true, overdueStage: stage, overdueByMs: now - row.stageDueAt },
          });
        });
        if (applied) {
          done.push(id);
          await this.announce(applied);
        }
      } catch (error) {
        this.log?.error({ err: error, ticketId: id }, 'deadline escalation failed');
      }
    }
    return done;
  }

  /**
   * Writes one decided transition: the ticket's new status, assignment, level and deadline window,
   * its timeline entry and the audit log. Runs inside the caller's transaction.
   */
  private async apply(tx: Queryable, row: repo.TicketRow, d: Extract<TicketDecision, { ok: true }>, ctx: ApplyContext): Promise<Applied> {
    const now = this.clock.now();
    let assigned = row.assignedWorkerId;
    let department = row.departmentCode;
    let dispatchedAt = row.dispatchedAt;
    let dueAt = row.dueAt;
    const detail: Record<string, unknown> = { ...ctx.detail };
    const rules = await this.rules(tx);

    switch (d.event) {
      case 'dispatched':
      case 'reassigned': {
        const worker = await repo.workerInScope(tx, ctx.scope, ctx.workerId!);
        if (!worker) throw new AppError('NOT_FOUND', `No worker ${ctx.workerId} in your jurisdiction.`);
        if (!worker.active) throw new AppError('TICKET_WORKER_UNAVAILABLE', `${worker.name} is not on active duty.`);
        detail.worker = { id: worker.id, name: worker.name };
        if (assigned !== null && assigned !== worker.id) detail.previousWorkerId = assigned;
        assigned = worker.id;
        dispatchedAt = now;
        break;
      }
      case 'escalated': {
        detail.fromLevel = row.level;
        detail.toLevel = d.level;
        if (d.level === 'department') {
          const code = ctx.departmentCode ?? (await repo.findCategory(tx, row.categoryCode))?.departmentCode ?? null;
          if (code) {
            const dep = await repo.findDepartment(tx, code);
            if (!dep) throw new AppError('TICKET_DEPARTMENT_UNKNOWN', `There is no department "${code}".`);
            department = dep.code;
            detail.department = dep;
          }
        }
        if (assigned !== null) detail.previousWorkerId = assigned;
        assigned = null;
        break;
      }
      case 'department_replied':
        department = ctx.departmentCode ?? department;
        break;
      case 'reopened':
        // A new cycle: the resident gets a fresh overall deadline.
        dueAt = now + rules[row.urgency].close * 60_000;
        if (assigned !== null) detail.previousWorkerId = assigned;
        assigned = null;
        break;
      case 'declined':
      case 'returned':
      case 'cancelled':
      case 'not_registered':
        if (assigned !== null) detail.previousWorkerId = assigned;
        assigned = null;
        break;
      default:
        break;
    }

    const window = nextStageWindow(rules, row.urgency, d.to, d.event, now, {
      current: { stage: row.stage, startedAt: row.stageStartedAt, dueAt: row.stageDueAt },
      dispatchedAt,
      receivedAt: row.receivedAt,
      closeDueAt: dueAt,
      replyDueBy: ctx.replyDueBy ?? null,
    });
    await repo.updateTicket(tx, row.id, {
      status: d.to,
      level: d.level,
      departmentCode: department,
      assignedWorkerId: assigned,
      stage: window.stage,
      stageStartedAt: window.startedAt,
      stageDueAt: window.dueAt,
      dueAt,
      event: d.event,
      now,
    });
    if (d.event === 'closed' && ctx.satisfaction) {
      await repo.setSatisfaction(tx, row.id, ctx.satisfaction, now);
      detail.satisfaction = ctx.satisfaction;
    }
    if (this.dispatchHooks) {
      const change = { ticket: row, event: d.event, to: d.to, workerId: assigned, actorUserId: ctx.actorUserId, scope: ctx.scope, now };
      Object.assign(detail, await this.dispatchHooks.recording(tx, change));
    }
    const eventId = await repo.insertEvent(tx, {
      ticketId: row.id,
      at: now,
      actorUserId: ctx.actorUserId,
      kind: d.event,
      fromStatus: d.from,
      toStatus: d.to,
      reason: ctx.reason?.trim() || null,
      note: ctx.note?.trim() || null,
      detail: Object.keys(detail).length > 0 ? detail : undefined,
    });
    await audit(tx, {
      userId: ctx.actorUserId,
      action: `ticket.${d.event}`,
      subjectType: 'ticket',
      subjectId: String(row.id),
      detail: { number: row.number, action: d.action, from: d.from, to: d.to, reason: ctx.reason ?? null, ...detail },
      ip: ctx.ip,
    });
    return {
      ticketId: row.id,
      eventId,
      gridPath: row.gridPath,
      workers: [...new Set([row.assignedWorkerId, assigned].filter((w): w is number => w !== null))],
      ...(d.event === 'escalated' ? { escalation: { fromLevel: row.level, toLevel: d.level, overdueStage: ctx.overdueStage ?? null } } : {}),
    };
  }

  /** After commit: the change to every dashboard whose jurisdiction holds the ticket, then dispatch's follow-up. */
  private async announce(a: Applied): Promise<void> {
    await this.refreshOpenTasks(a.workers ?? []);
    const row = await repo.findSummary(this.db, a.ticketId, ALL);
    const event = await repo.eventById(this.db, a.eventId);
    if (!row || !event) return;
    const ticket = this.toDto(row);
    this.broadcast.updated({ ticket, event }, row.gridPath);
    if (a.escalation) {
      const regionCode = regionCodeAtLevel(row.gridPath, a.escalation.toLevel);
      this.broadcast.escalated(
        {
          ticket,
          event,
          fromLevel: a.escalation.fromLevel,
          toLevel: a.escalation.toLevel,
          target: { level: a.escalation.toLevel, regionCode, regionName: (await repo.regionName(this.db, regionCode)) ?? regionCode },
          department: ticket.department,
          overdueStage: a.escalation.overdueStage,
        },
        row.gridPath,
      );
    }
    try {
      await this.dispatchHooks?.announced({ ticket, event }, row.gridPath);
    } catch (error) {
      // The change itself has committed; a failed offer or re-offer is logged, not the caller's error.
      this.log?.error({ err: error, ticketId: a.ticketId }, 'dispatch follow-up failed');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Photos

  /** Stores a photo of a ticket the caller may see; the bytes must really be the image type claimed. */
  async addPhoto(p: Principal, id: number, declaredType: string, bytes: Buffer, ip?: string): Promise<TicketPhotoDto> {
    if (bytes.length > PHOTO_MAX_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'A photo may be at most 10 MB.');
    const type = detectImageType(bytes);
    if (!type || type !== declaredType) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The body is not a JPEG, PNG or WebP image of the type its Content-Type names.');
    }
    const visible = await repo.findSummary(this.db, id, repo.visibleTo(p));
    if (!visible) throw new AppError('NOT_FOUND', `No ticket ${id} in your jurisdiction.`);
    if (FINAL_STATUSES.includes(visible.status)) throw new AppError('TICKET_TRANSITION_NOT_ALLOWED', 'A closed or cancelled ticket takes no more photos.');
    const saved = await this.photos.save(id, bytes, type);
    let applied: Applied & { photoId: number };
    try {
      applied = await this.db.transaction(async (tx) => {
        const row = await repo.lockTicket(tx, id, repo.visibleTo(p));
        if (!row) throw new AppError('NOT_FOUND', `No ticket ${id} in your jurisdiction.`);
        const now = this.clock.now();
        const photoId = await repo.insertPhoto(tx, { ticketId: id, uploadedBy: p.userId, mime: type, bytes: bytes.length, sha256: saved.sha256, storageKey: saved.key, now });
        const detail = { photoId, mime: type, bytes: bytes.length, sha256: saved.sha256 };
        const eventId = await repo.insertEvent(tx, { ticketId: id, at: now, actorUserId: p.userId, kind: 'photo_added', fromStatus: null, toStatus: null, detail });
        await repo.touchTicket(tx, id, now);
        await audit(tx, { userId: p.userId, action: 'ticket.photo_added', subjectType: 'ticket', subjectId: String(id), detail, ip });
        return { ticketId: id, eventId, gridPath: row.gridPath, photoId };
      });
    } catch (error) {
      await this.photos.remove(saved.key);
      throw error;
    }
    await this.announce(applied);
    const photo = await repo.findPhoto(this.db, id, applied.photoId, ALL);
    return repo.photoDto(photo!);
  }

  /** Where a photo's bytes are, if the caller may see its ticket. */
  async photoFile(p: Principal, id: number, photoId: number): Promise<{ file: string; mime: string; bytes: number }> {
    const photo = await repo.findPhoto(this.db, id, photoId, repo.visibleTo(p));
    if (!photo) throw new AppError('NOT_FOUND', `No photo ${photoId} of ticket ${id} in your jurisdiction.`);
    return { file: this.photos.file(photo.storageKey), mime: photo.mime, bytes: photo.bytes };
  }

  // -------------------------------------------------------------------------------------------
  // Reference data an administrator changes

  async putCategory(p: Principal, code: string, body: PutCategoryBody, ip?: string): Promise<void> {
    if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator can change ticket categories.');
    const parentCode = body.parentCode ?? null;
    if (parentCode) {
      const parent = await repo.findCategory(this.db, parentCode);
      if (!parent || parent.parentCode !== null) throw new AppError('TICKET_CATEGORY_UNKNOWN', `"${parentCode}" is not a top-level category.`);
      if (!code.startsWith(`${parentCode}.`)) throw new AppError('VALIDATION_FAILED', `A sub-category's code starts with its parent's: "${parentCode}.…".`);
    } else if (code.includes('.')) {
      throw new AppError('VALIDATION_FAILED', 'A top-level category code has no dot; name its parent to make a sub-category.');
    }
    const departmentCode = body.departmentCode ?? null;
    if (departmentCode && !(await repo.findDepartment(this.db, departmentCode))) {
      throw new AppError('TICKET_DEPARTMENT_UNKNOWN', `There is no department "${departmentCode}".`);
    }
    const entry = { code, name: body.name, parentCode, departmentCode, sortOrder: body.sortOrder ?? 0, active: body.active ?? true };
    await this.db.transaction(async (tx) => {
      await repo.upsertCategory(tx, entry, this.clock.now());
      await audit(tx, { userId: p.userId, action: 'ticket_category.saved', subjectType: 'ticket_category', subjectId: code, detail: entry, ip });
    });
  }

  async putDeadlineRules(p: Principal, rules: DeadlineRules, ip?: string): Promise<void> {
    if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator can change ticket deadlines.');
    await this.db.transaction(async (tx) => {
      await repo.saveDeadlineRules(tx, rules);
      await audit(tx, { userId: p.userId, action: 'ticket_deadlines.saved', subjectType: 'ticket_deadlines', detail: rules, ip });
    });
  }

  /** The deadline table, falling back to the defaults for any cell an administrator removed. */
  async rules(db: Queryable): Promise<DeadlineRules> {
    const stored = await repo.deadlineRules(db);
    const rules = {} as DeadlineRules;
    for (const u of TICKET_URGENCIES) {
      rules[u] = { ...DEFAULT_DEADLINE_RULES[u] };
      for (const s of TICKET_STAGES) if (stored[u][s] !== undefined) rules[u][s] = stored[u][s];
    }
    return rules;
  }
}

