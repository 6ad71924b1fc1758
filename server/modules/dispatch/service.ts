/**
 * Dispatch to the nearest free worker (派单): recommendations from the in-memory index, the offer to
 * the worker's phone, the re-offer to the next worker when one declines or does not answer in time,
 * and each category's auto-dispatch. It follows the workflow through the ticket service's hooks, so
 * every dispatch — a dispatcher's click or the system's — goes through the one state machine and
 * lands on the timeline and in the audit log with its rank and distance among the recommended.
 */
import type { FastifyBaseLogger } from 'fastify';
import { TICKET_RULES, type TicketActorRole } from '@shared/tickets';
import { geodesicDistanceM, walkingEtaS, type NearestCandidate } from '@shared/dispatch';
import type {
  DispatchCandidate,
  ReofferTrigger,
  TaskOffer,
  TicketChange,
  TicketEventDto,
  TicketReoffer,
  TicketReofferMark,
  TicketSummary,
} from '@shared/tickets-api';
import { REOFFER_MARK_STATUSES } from '@shared/tickets-api';
import { raw, type Db, type Queryable } from '../../platform/db';
import { Scope, type Principal } from '../../platform/auth/scope';
import { audit } from '../auth/repository';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import type { NearestWorkers } from './nearest';
import { userRoom, type LiveHub } from '../realtime/hub';
import { roomsCovering } from '../tickets/broadcast';
import type { TicketChangeContext, TicketDispatchHooks, TicketService } from '../tickets/service';
import * as tickets from '../tickets/repository';
import * as repo from './repository';

/** Internal work sees every ticket. */
const ALL = raw('true');

/** How deep a dispatch is looked up among the recommended (the most a dispatcher is shown). */
export const RANK_DEPTH = 50;

/** The timeline's words for what the system did. */
const REASONS: Record<ReofferTrigger | 'policy', string> = {
  declined: '拒单后自动改派下一位最近的网格员',
  timeout: '超时未接单，自动改派下一位最近的网格员',
  policy: '按类别自动派遣给最近的空闲网格员',
};

/** Whether a role may dispatch at all: the machine's answer, not restated here. */
function mayDispatch(role: TicketActorRole): boolean {
  return TICKET_RULES.dispatch.some((rule) => rule.who.includes(role));
}

/** '/140106/…/' → '/140106/': the district a path lies in. */
function districtPathOf(path: string): string {
  return `/${path.split('/')[1]}/`;
}

const iso = (t: number): string => new Date(t).toISOString();
/** Decimetres are plenty for people reading the timeline and the audit log. */
const roundM = (m: number): number => Math.round(m * 10) / 10;

/** Where a ticket is and who holds it: what a recommendation needs. */
interface Place {
  id: number;
  lon: number;
  lat: number;
  gridPath: string;
  assignedWorkerId: number | null;
}

/** What dispatch writes into a dispatch's timeline entry (and audit log) beside the machine's facts. */
interface DispatchFacts {
  previousWorkerId?: number;
  recommendation?: { rank: number; sameGrid: boolean; distanceM: number; etaS: number } | null;
  reoffer?: { trigger: ReofferTrigger; from: { workerId: number; name: string }; at: string };
}

export interface DispatchServiceDeps {
  db: Db;
  clock: Clock;
  tickets: TicketService;
  nearest: NearestWorkers;
  /** The live hub's socket.io server, looked up on each send (absent while the app is built). */
  io: () => LiveHub['io'] | undefined;
  /** A worker's newest position: the distance of a pick that was not among the recommended. */
  position: (workerId: number) => { lon: number; lat: number } | undefined;
  /** How long an offer waits for an answer before it goes to the next worker, ms; 0: forever. */
  offerTimeoutMs: number;
  log?: FastifyBaseLogger;
}

export class DispatchService implements TicketDispatchHooks {
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly tickets: TicketService;
  private readonly nearest: NearestWorkers;
  private readonly io: DispatchServiceDeps['io'];
  private readonly position: DispatchServiceDeps['position'];
  private readonly offerTimeoutMs: number;
  private readonly log: FastifyBaseLogger | undefined;
  /**
   * The system's own dispatches run one at a time: each picks from loads the previous one has
   * updated, so two re-offers at once never send two tickets to the same free worker.
   */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(deps: DispatchServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.tickets = deps.tickets;
    this.nearest = deps.nearest;
    this.io = deps.io;
    this.position = deps.position;
    this.offerTimeoutMs = deps.offerTimeoutMs;
    this.log = deps.log;
  }

  // -------------------------------------------------------------------------------------------
  // Recommendations

  /**
   * Who to send: on-duty, online workers with a fresh position and room for another task, inside
   * the caller's jurisdiction, those responsible for the ticket's grid first (属地), then by true
   * ground distance. Never the worker who holds it now, nor one who declined it or let it expire.
   */
  async candidates(p: Principal, ticketId: number, limit: number): Promise<DispatchCandidate[]> {
    if (!mayDispatch(p.role)) throw new AppError('FORBIDDEN', 'Only a dispatch desk is shown whom to send.');
    const t = await tickets.findSummary(this.db, ticketId, tickets.visibleTo(p));
    if (!t) throw new AppError('NOT_FOUND', `No ticket ${ticketId} in your jurisdiction.`);
    const place = { id: t.id, ...t.location, gridPath: t.gridPath, assignedWorkerId: t.assignedWorker?.id ?? null };
    const list = await this.recommend(this.db, place, p.scope.path, Math.min(limit, RANK_DEPTH));
    const names = await repo.workerNames(this.db, list.map((c) => c.workerId));
    return list.map((c, i) => ({
      rank: i + 1,
      workerId: c.workerId,
      name: names.get(c.workerId) ?? '',
      role: c.role,
      sameGrid: c.ownGrid,
      distanceM: c.distanceM,
      etaS: c.etaS,
      location: { lon: c.lon, lat: c.lat },
      fixAt: iso(c.fixTime),
      openTasks: this.tickets.openTasks(c.workerId),
    }));
  }

  private async recommend(db: Queryable, t: Place, within: string | null, n: number): Promise<NearestCandidate[]> {
    const exclude = new Set(await repo.refusedBy(db, t.id));
    if (t.assignedWorkerId !== null) exclude.add(t.assignedWorkerId);
    return this.nearest.nearest({ lon: t.lon, lat: t.lat, gridPath: t.gridPath, n, filter: { within, exclude } });
  }

  /**
   * The desk's queue marks (issue 14) for these listed tickets, from the stored offers: each one still
   * waiting for a worker whose latest offer was declined or ran out, with whom the system offered it
   * to next. Only a dispatch desk is told; everyone else gets none.
   */
  async reofferMarks(p: Principal, listed: readonly Pick<TicketSummary, 'id' | 'status'>[]): Promise<TicketReofferMark[]> {
    if (!mayDispatch(p.role)) return [];
    const waiting = listed.filter((t) => REOFFER_MARK_STATUSES.includes(t.status)).map((t) => t.id);
    const rows = await repo.latestRefusals(this.db, waiting, REOFFER_MARK_STATUSES);
    return rows.map((r) => ({
      ticketId: r.ticketId,
      trigger: r.trigger,
      from: { workerId: r.fromWorkerId, name: r.fromName },
      reason: r.reason,
      at: iso(r.at),
      to: r.next && { ...r.next, etaS: r.next.distanceM === null ? null : walkingEtaS(r.next.distanceM) },
    }));
  }

  // -------------------------------------------------------------------------------------------
  // Following the workflow (TicketDispatchHooks)

  /**
   * Inside every transition: answers the open offer (accepted, declined, or withdrawn when the
   * ticket moved on), and for a dispatch opens the next one and says how the worker ranked.
   */
  async recording(tx: Queryable, c: TicketChangeContext): Promise<Record<string, unknown> | undefined> {
    const outcome: repo.OfferOutcome = c.event === 'accepted' ? 'accepted' : c.event === 'declined' ? 'declined' : 'withdrawn';
    const previous = await repo.closeOpenOffer(tx, c.ticket.id, outcome, c.now);
    if ((c.event !== 'dispatched' && c.event !== 'reassigned') || c.workerId === null) return undefined;

    const t = await tickets.findSummary(tx, c.ticket.id, ALL);
    if (!t) return undefined;
    const scopePath = c.scope.path ?? previous?.scopePath ?? districtPathOf(c.ticket.gridPath);
    const place = { id: t.id, ...t.location, gridPath: c.ticket.gridPath, assignedWorkerId: c.ticket.assignedWorkerId };
    const list = await this.recommend(tx, place, scopePath, RANK_DEPTH);
    const rank = list.findIndex((x) => x.workerId === c.workerId) + 1;
    const hit = rank > 0 ? list[rank - 1]! : undefined;
    const at = hit ? undefined : this.position(c.workerId);
    const distanceM = hit ? hit.distanceM : at ? geodesicDistanceM(t.location.lon, t.location.lat, at.lon, at.lat) : null;
    const expiresAt = this.offerTimeoutMs > 0 ? c.now + this.offerTimeoutMs : null;
    await repo.insertOffer(tx, {
      ticketId: t.id, workerId: c.workerId, offeredBy: c.actorUserId, scopePath, now: c.now, expiresAt, rank: hit ? rank : null, distanceM,
    });
    return {
      // Who decided on what grounds: the system, a pick from the list, or a person's own choice.
      basis: c.actorUserId === null ? 'system' : hit ? 'recommendation' : 'manual',
      recommendation: hit ? { rank, sameGrid: hit.ownGrid, distanceM: roundM(hit.distanceM), etaS: hit.etaS } : null,
      ...(!hit && distanceM !== null ? { distanceM: roundM(distanceM) } : {}),
      offerExpiresAt: expiresAt === null ? null : iso(expiresAt),
    };
  }

  /** After every committed change: the offer to the worker's phone, a re-offer, or an auto-dispatch. */
  async announced(change: TicketChange, gridPath: string): Promise<void> {
    const { ticket, event } = change;
    const facts = (event.detail ?? {}) as DispatchFacts;
    const previous = facts.previousWorkerId ?? null;
    // Whoever lost the ticket without saying so themselves hears it was taken back.
    if (previous !== null && event.kind !== 'declined' && event.kind !== 'returned') {
      await this.withdraw(previous, ticket, facts.reoffer?.trigger === 'timeout' ? 'timeout' : event.kind, event.actor?.userId ?? null);
    }
    switch (event.kind) {
      case 'dispatched':
      case 'reassigned':
        await this.notifyOffer(ticket, event, facts, gridPath);
        break;
      case 'declined':
        if (previous !== null) await this.reoffer(ticket.id, 'declined', previous, Date.parse(event.at));
        break;
      case 'registered':
        await this.autoDispatch(ticket, gridPath, event.actor?.userId ?? null);
        break;
      default:
        break;
    }
  }

  /** The offer to the worker's own account; for a re-offer, the notice to the ticket's dashboards. */
  private async notifyOffer(ticket: TicketSummary, event: TicketEventDto, facts: DispatchFacts, gridPath: string): Promise<void> {
    const offer = await repo.lastOffer(this.db, ticket.id);
    if (!offer || offer.outcome !== null || offer.workerId !== ticket.assignedWorker?.id) return;
    const etaS = offer.distanceM === null ? null : walkingEtaS(offer.distanceM);
    const payload: TaskOffer = {
      ticket,
      offeredAt: iso(offer.offeredAt),
      expiresAt: offer.expiresAt === null ? null : iso(offer.expiresAt),
      distanceM: offer.distanceM,
      etaS,
    };
    const users = await repo.usersOfWorker(this.db, offer.workerId);
    if (users.length > 0) this.io()?.to(users.map(userRoom)).emit('task.offered', payload);
    if (facts.reoffer) {
      const notice: TicketReoffer = {
        ticket,
        event,
        trigger: facts.reoffer.trigger,
        from: facts.reoffer.from,
        at: facts.reoffer.at,
        to: { workerId: offer.workerId, name: ticket.assignedWorker.name, rank: offer.rank, distanceM: offer.distanceM, etaS },
      };
      this.io()?.to(roomsCovering(gridPath)).emit('ticket.reoffered', notice);
    }
  }

  private async withdraw(workerId: number, ticket: TicketSummary, reason: 'timeout' | TicketEventDto['kind'], actorUserId: number | null): Promise<void> {
    const users = (await repo.usersOfWorker(this.db, workerId)).filter((u) => u !== actorUserId);
    if (users.length > 0) this.io()?.to(users.map(userRoom)).emit('task.withdrawn', { ticketId: ticket.id, number: ticket.number, reason });
  }

  // -------------------------------------------------------------------------------------------
  // The system's dispatches

  /** Runs the system's dispatches one after another (see `queue`). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A jurisdiction by its path (offers keep the path only). */
  private async scopeAt(path: string): Promise<Scope | undefined> {
    const region = await repo.regionAtPath(this.db, path);
    return region && Scope.of(region.code, region.path);
  }

  /**
   * Offers a ticket to the next nearest free worker in the jurisdiction of its last offer, after
   * `from` declined it or let the offer expire. When nobody is left, the ticket's dashboards are
   * told so that a dispatcher decides. `at`: when they declined or the offer ran out. Returns whether
   * it went to someone.
   */
  private reoffer(ticketId: number, trigger: ReofferTrigger, from: number, at: number): Promise<boolean> {
    return this.serial(async () => {
      const t = await tickets.findSummary(this.db, ticketId, ALL);
      if (!t) return false;
      const last = await repo.lastOffer(this.db, ticketId);
      const scopePath = last?.scopePath ?? districtPathOf(t.gridPath);
      const scope = await this.scopeAt(scopePath);
      const fromRef = { workerId: from, name: (await repo.workerNames(this.db, [from])).get(from) ?? '' };
      const place = { id: t.id, ...t.location, gridPath: t.gridPath, assignedWorkerId: t.assignedWorker?.id ?? null };
      const [next] = scope ? await this.recommend(this.db, place, scopePath, 1) : [];
      if (!scope || !next) {
        await audit(this.db, {
          userId: null, action: 'dispatch.no_candidate', subjectType: 'ticket', subjectId: String(ticketId),
          detail: { number: t.number, trigger, from: fromRef, scope: scopePath },
        });
        const notice: TicketReoffer = { ticket: await this.tickets.summary(ticketId), event: null, trigger, from: fromRef, at: iso(at), to: null };
        this.io()?.to(roomsCovering(t.gridPath)).emit('ticket.reoffered', notice);
        return false;
      }
      // Only if nothing happened meanwhile: still returned by the decliner, or still with the silent worker.
      const still = trigger === 'declined'
        ? (row: tickets.TicketRow) => row.status === 'returned' && row.assignedWorkerId === null
        : (row: tickets.TicketRow) => row.status === 'dispatched' && row.assignedWorkerId === from;
      const detail = { auto: true, reoffer: { trigger, from: fromRef, at: iso(at) } };
      return this.tickets.systemTransition(ticketId, { action: 'dispatch', workerId: next.workerId, reason: REASONS[trigger], detail }, scope, still);
    });
  }

  /**
   * A newly registered ticket of an auto-dispatch category goes to the top recommended worker in
   * the jurisdiction of the desk that registered it, with the system as the one who decided.
   */
  private async autoDispatch(ticket: TicketSummary, gridPath: string, registeredBy: number | null): Promise<void> {
    if (!(await repo.autoDispatches(this.db, ticket.category.code))) return;
    await this.serial(async () => {
      const desk = registeredBy === null ? undefined : await repo.userJurisdiction(this.db, registeredBy);
      const scope = await this.scopeAt(desk?.path ?? districtPathOf(gridPath));
      if (!scope) return;
      const place = { id: ticket.id, ...ticket.location, gridPath, assignedWorkerId: null };
      const [top] = await this.recommend(this.db, place, scope.path, 1);
      if (!top) {
        await audit(this.db, {
          userId: null, action: 'dispatch.no_candidate', subjectType: 'ticket', subjectId: String(ticket.id),
          detail: { number: ticket.number, trigger: 'policy', category: ticket.category.code, scope: scope.path },
        });
        return;
      }
      const detail = { auto: true, policy: { category: ticket.category.code } };
      await this.tickets.systemTransition(ticket.id, { action: 'dispatch', workerId: top.workerId, reason: REASONS.policy, detail }, scope, (row) => row.status === 'registered');
    });
  }

  /**
   * Closes every offer past its time and offers the ticket to the next worker. Returns the tickets
   * that went to someone (an expired offer with nobody left is audited and announced, not listed).
   */
  async expireOffers(): Promise<number[]> {
    const now = this.clock.now();
    const moved: number[] = [];
    for (const offer of await repo.expiredOffers(this.db, now)) {
      try {
        const expired = await this.db.transaction(async (tx) => {
          if (!(await repo.expireOffer(tx, offer.id, now))) return false;
          await audit(tx, {
            userId: null, action: 'dispatch.offer_expired', subjectType: 'ticket', subjectId: String(offer.ticketId),
            detail: { workerId: offer.workerId, offeredAt: iso(offer.offeredAt), expiresAt: offer.expiresAt === null ? null : iso(offer.expiresAt) },
          });
          return true;
        });
        if (expired && (await this.reoffer(offer.ticketId, 'timeout', offer.workerId, now))) moved.push(offer.ticketId);
      } catch (error) {
        this.log?.error({ err: error, ticketId: offer.ticketId }, 're-offer after timeout failed');
      }
    }
    return moved;
  }

  // -------------------------------------------------------------------------------------------
  // Policy an administrator changes

  async setAutoDispatch(p: Principal, code: string, enabled: boolean, ip?: string): Promise<void> {
    if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator can change how a category is dispatched.');
    await this.db.transaction(async (tx) => {
      if (!(await repo.setAutoDispatch(tx, code, enabled, this.clock.now()))) throw new AppError('NOT_FOUND', `There is no category "${code}".`);
      await audit(tx, { userId: p.userId, action: 'ticket_category.auto_dispatch', subjectType: 'ticket_category', subjectId: code, detail: { enabled }, ip });
    });
  }

  autoDispatchCategories(): Promise<string[]> {
    return repo.autoDispatchCategories(this.db);
  }
}
