/**
 * The ticket side of the simulation: simulated grid workers file tickets where they patrol, a
 * simulated centre files hotline and mini-program tickets, simulated workers answer the offers they
 * get, and simulated desks move the simulator's own tickets through register, dispatch, verify and
 * close. Everything goes through the same HTTP API and socket events that people's apps use: the
 * simulator never writes a ticket, an offer or a broadcast itself.
 */
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { DispatchCandidate, TicketList, TicketSummary, TransitionBody } from '@shared/tickets-api';
import { FINAL_STATUSES, type TicketEventKind, type TicketStatus } from '@shared/tickets';
import { haversineM, pointInPolygon } from '@shared/geo';
import { createRandom } from '@shared/random';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import type { UserRow } from '../auth/repository';
import type { SimulatedWorker, Simulator } from './simulator';
import type { Polygon } from './patrol';
import { ensureSimulatedAccounts } from './repository';
import {
  CANCEL_REASONS,
  DEFAULT_BEHAVIOUR,
  RESOLVE_NOTES,
  REWORK_REASONS,
  VERIFY_NOTES,
  arrivals,
  deskExtraS,
  drawTicket,
  handlingS,
  meanTicketsPerHour,
  offerResponse,
  ticketsPerHourAt,
  type Behaviour,
  type DeskStep,
} from './ticket-model';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TicketSimulatorOptions {
  /** The server's own base URL: every action is an HTTP request to it, as a phone's or a desk's would be. */
  baseUrl: string;
  /** Signs a login token for one of the simulator's accounts (the app's own JWT signer). */
  sign: (user: UserRow) => { token: string; expiresAt: Date };
  /** Multiplier on the published filing rhythm (1 = about 5,000 a week for Yingze; 0 files none). */
  rate: number;
  /** Seconds a desk waits before acting on a simulated ticket, so a person at /dispatch can act first. */
  deskGraceS: number;
  /** The server's offer timeout (DISPATCH_OFFER_TIMEOUT_S): acceptances come before it. */
  offerTimeoutS: number;
  /** Scales every simulated person's delay except the grace (tests: 0.05 → minutes become seconds). */
  delayScale?: number;
  behaviour?: Partial<Behaviour>;
  seed?: string;
  /** Requests in flight at most. */
  concurrency?: number;
  /** Unexpected answers (not a 409 "someone else acted"), rate-limited. */
  warn?: (message: string) => void;
}

/** A ticket the simulator follows: its own (the desks act on it) or one held by a simulated worker. */
interface Tracked {
  id: number;
  own: boolean;
  status: TicketStatus;
  holder: number | null;
  urgency: TicketSummary['urgency'];
  level: TicketSummary['level'];
  gridCode: string;
  lon: number;
  lat: number;
  /** Running stage deadline, ms. */
  deadline: number | null;
  /** Bumped on every change the simulator sees; a step planned for an older version is dropped. */
  version: number;
}

interface Job {
  at: number;
  seq: number;
  run: () => Promise<void>;
}

/** The outcome of one request: the body, or whether someone else got there first. */
type Answer<T> = { ok: true; data: T } | { ok: false; status: number; code: string | undefined };

const OPEN_STATUSES: readonly TicketStatus[] = ['received', 'registered', 'dispatched', 'accepted', 'in_progress', 'resolved', 'verified', 'returned', 'escalated'];
/** A clock jump longer than this (a suspended laptop, a test moving hours) files only its last part. */
const MAX_CATCH_UP_MS = 15 * 60_000;

export class TicketSimulator {
  private readonly random: () => number;
  private readonly behaviour: Behaviour;
  private readonly delayScale: number;
  private rate: number;
  /** Simulated workers by worker id, with their account. */
  private readonly workers = new Map<number, { sim: SimulatedWorker; user: UserRow; tasks: Set<number> }>();
  private readonly onRoster: SimulatedWorker[] = [];
  /** Street and district desks by region code. */
  private readonly desks = new Map<string, UserRow>();
  private readonly centres: UserRow[] = [];
  /** Every account of the simulator: tickets they filed are the simulator's own. */
  private readonly ownUsers = new Set<number>();
  private readonly gridPaths = new Map<string, string>();
  /** Grids to file hotline tickets in, with cumulative household weights. */
  private grids: { code: string; path: string; polygons: Polygon[]; cumulative: number }[] = [];
  private readonly tokens = new Map<number, { token: string; renewAt: number }>();
  private readonly tracked = new Map<number, Tracked>();
  private readonly jobs: Job[] = [];
  private seq = 0;
  private readonly waiting: (() => Promise<void>)[] = [];
  private inFlight = 0;
  private lastFiledUpTo: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sockets: Client[] = [];
  private lastEventAt = 0;
  private lastWarnAt = 0;
  private readonly runId: string;
  private filedCount = 0;
  readonly stats = {
    filed: 0,
    /** Successful actions by name ('accept', 'register', …). */
    actions: {} as Record<string, number>,
    /** 404/409: someone else acted first, or the ticket moved on. Normal. */
    conflicts: 0,
    /** Anything else: a bug or an overloaded server. */
    failed: 0,
    ignoredOffers: 0,
    events: 0,
  };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly patrol: Simulator,
    private readonly options: TicketSimulatorOptions,
  ) {
    this.random = createRandom(options.seed ?? `tickets:${Date.now()}`);
    this.behaviour = { ...DEFAULT_BEHAVIOUR, ...options.behaviour };
    this.delayScale = options.delayScale ?? 1;
    this.rate = options.rate;
    this.runId = Math.floor(this.random() * 36 ** 6).toString(36);
  }

  /**
   * Creates or refreshes the simulator's accounts for the patrol simulator's workers and their
   * streets' and districts' desks. Returns how many simulated workers answer offers.
   */
  async load(): Promise<number> {
    const roster = this.patrol.fieldWorkers;
    const deskCodes = new Set<string>();
    for (const w of roster) {
      const [district, street] = w.info.gridPath.split('/').filter(Boolean);
      if (district) deskCodes.add(district);
      if (street) deskCodes.add(street);
      this.gridPaths.set(w.info.gridCode, w.info.gridPath);
    }
    const accounts = await ensureSimulatedAccounts(this.db, roster.map((w) => w.info.id), [...deskCodes]);
    const byWorker = new Map(accounts.filter((a) => a.workerId !== null).map((a) => [a.workerId!, a]));
    this.workers.clear();
    this.onRoster.length = 0;
    this.desks.clear();
    this.centres.length = 0;
    this.ownUsers.clear();
    for (const a of accounts) this.ownUsers.add(a.id);
    for (const w of roster) {
      const user = byWorker.get(w.info.id);
      // A worker with a person's account is theirs to answer for: the simulator only walks them.
      if (!user) continue;
      this.workers.set(w.info.id, { sim: w, user, tasks: new Set() });
      this.onRoster.push(w);
    }
    for (const a of accounts) {
      if (a.workerId !== null || !deskCodes.has(a.regionCode)) continue;
      this.desks.set(a.regionCode, a);
      if (a.regionLevel === 'district') this.centres.push(a);
    }
    const grids = new Map<string, { code: string; path: string; polygons: Polygon[]; households: number }>();
    for (const w of roster) {
      if (!grids.has(w.info.gridCode)) grids.set(w.info.gridCode, { code: w.info.gridCode, path: w.info.gridPath, polygons: w.info.grid, households: w.info.households });
    }
    let sum = 0;
    this.grids = [...grids.values()].map((g) => ({ code: g.code, path: g.path, polygons: g.polygons, cumulative: (sum += g.households) }));
    return this.workers.size;
  }

  /** Tickets per hour on average at the current multiplier, for the district(s) simulated. */
  get meanPerHour(): number {
    return meanTicketsPerHour(this.grids.length, this.rate);
  }

  /** One line for the start-up log. */
  describe(): string {
    const streets = this.desks.size - this.centres.length;
    return `Ticket simulator: ${this.meanPerHour.toFixed(1)} tickets/h on average (×${this.rate} the published rhythm for ` +
      `${this.grids.length} grids, peaks mid-morning and afternoon), ${this.workers.size} simulated workers answer their offers, ` +
      `${streets} street desk(s) and ${this.centres.length} centre(s) handle the simulator's own tickets after ${this.options.deskGraceS} s. ` +
      'SIMULATE_TICKETS=0 turns it off.';
  }

  /** Changes the filing multiplier (0 stops filing; workers and desks carry on). */
  setRate(multiplier: number): void {
    this.rate = multiplier;
  }

  /** Opens the desks' event stream (one socket per district) and catches up with open tickets. */
  async connect(): Promise<void> {
    await Promise.all(this.centres.map((centre) => new Promise<void>((resolve, reject) => {
      const socket: Client = connect(this.options.baseUrl, {
        // A function, so that a reconnection hours later signs a fresh token.
        auth: (cb) => cb({ token: this.token(centre) }),
        transports: ['websocket'],
      });
      this.sockets.push(socket);
      socket.on('ticket.created', (t) => this.heard(() => this.observe(t, 'created')));
      socket.on('ticket.updated', (c) => this.heard(() => this.observe(c.ticket, c.event.kind)));
      socket.on('ticket.reoffered', (r) => this.heard(() => {
        // Nobody free to take it over: the desk has to find someone.
        if (r.to === null) this.nobodyFree(r.ticket);
      }));
      socket.on('connect', () => {
        // A short drop is replayed by the server; after a long one, catch up from the API.
        if (!socket.recovered) this.resync(centre).then(resolve, reject);
      });
      socket.on('connect_error', (error) => {
        if (!socket.active) reject(error);
      });
    })));
  }

  /** Starts filing and acting on a one-second tick (after `load`). */
  async start(): Promise<void> {
    await this.connect();
    this.lastFiledUpTo ??= this.clock.now();
    this.timer ??= setInterval(() => void this.tick(), 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.sockets) s.disconnect();
    this.sockets = [];
    this.jobs.length = 0;
    this.waiting.length = 0;
    for (const w of this.workers.values()) {
      w.tasks.clear();
      w.sim.patrol.release();
    }
  }

  /**
   * One step at the clock's time: files the tickets due since the last step and starts the people's
   * actions that are due. Resolves when the requests it started have been answered.
   */
  async tick(): Promise<void> {
    const now = this.clock.now();
    const from = Math.max(this.lastFiledUpTo ?? now, now - MAX_CATCH_UP_MS);
    this.lastFiledUpTo = now;
    const started: Promise<void>[] = [];
    if (this.rate > 0 && this.grids.length > 0) {
      for (const _at of arrivals(from, now, (t) => ticketsPerHourAt(t, this.grids.length, this.rate), this.random)) {
        started.push(this.enqueue(() => this.file()));
      }
    }
    while (this.jobs.length > 0 && this.jobs[0]!.at <= now) started.push(this.enqueue(this.popJob().run));
    await Promise.all(started);
  }

  /** Resolves once no request is in flight and no event has come for `quietMs` (tests). */
  async settle(quietMs = 150, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.inFlight === 0 && this.waiting.length === 0 && Date.now() - this.lastEventAt >= quietMs) return;
      if (Date.now() > until) throw new Error('the ticket simulator did not settle');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Steps planned and not yet due (tests, logs). */
  get pending(): number {
    return this.jobs.length;
  }

  // -------------------------------------------------------------------------------------------
  // Filing

  /** Files one ticket: a patrol report by a worker on duty where they stand, or a call taken by the centre. */
  private async file(): Promise<void> {
    const draw = drawTicket(this.random);
    let reporter: UserRow | undefined;
    let where: { lon: number; lat: number } | undefined;
    let source = draw.source;
    if (source === 'patrol') {
      const w = this.patrolling();
      if (w) {
        reporter = this.workers.get(w.info.id)!.user;
        where = this.near(w);
      } else {
        source = 'hotline';
      }
    }
    if (!reporter || !where) {
      const grid = this.householdGrid();
      reporter = this.desks.get(grid.path.split('/')[1] ?? '');
      where = this.pointIn(grid.polygons);
      if (!reporter || !where) return;
    }
    const clientId = `sim-${this.runId}-${++this.filedCount}`;
    const body = { category: draw.category, urgency: draw.urgency, lon: where.lon, lat: where.lat, description: draw.description, clientId, source };
    // A phone whose upload fails sends it again: the clientId makes the retry the same ticket.
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await this.call<TicketSummary>(reporter, 'POST', '/api/tickets', body);
      if (res.ok) {
        this.stats.filed++;
        return;
      }
      if (res.status !== 0 && res.status < 500) return;
    }
  }

  /** A random worker on duty who is patrolling their own grid (not away on a task). */
  private patrolling(): SimulatedWorker | undefined {
    const now = this.clock.now();
    const ok = (w: SimulatedWorker) => w.patrol.onDuty(now) && !w.patrol.busy && w.patrol.inside(w.patrol.lon, w.patrol.lat);
    for (let i = 0; i < 100 && this.onRoster.length > 0; i++) {
      const w = this.onRoster[Math.floor(this.random() * this.onRoster.length)]!;
      if (ok(w)) return w;
    }
    const all = this.onRoster.filter(ok);
    return all[Math.floor(this.random() * all.length)];
  }

  /** A few metres from where the worker stands (what they saw), still inside their grid. */
  private near(w: SimulatedWorker): { lon: number; lat: number } {
    const { lon, lat } = w.patrol;
    for (let i = 0; i < 5; i++) {
      const r = this.random() * 20;
      const a = this.random() * 2 * Math.PI;
      const p = { lon: lon + (r * Math.sin(a)) / (111_320 * Math.cos((lat * Math.PI) / 180)), lat: lat + (r * Math.cos(a)) / 111_320 };
      if (w.patrol.inside(p.lon, p.lat)) return p;
    }
    return { lon, lat };
  }

  /** A grid drawn by households: where people live, people call. */
  private householdGrid(): (typeof this.grids)[number] {
    const total = this.grids[this.grids.length - 1]!.cumulative;
    const r = this.random() * total;
    let lo = 0;
    let hi = this.grids.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.grids[mid]!.cumulative > r) hi = mid;
      else lo = mid + 1;
    }
    return this.grids[lo]!;
  }

  private pointIn(polygons: Polygon[]): { lon: number; lat: number } | undefined {
    const ring = polygons.flatMap((p) => p[0]!);
    const xs = ring.map((c) => c[0]!);
    const ys = ring.map((c) => c[1]!);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    for (let i = 0; i < 200; i++) {
      const lon = x0 + this.random() * (x1 - x0);
      const lat = y0 + this.random() * (y1 - y0);
      if (polygons.some((p) => pointInPolygon(lon, lat, p))) return { lon, lat };
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Following the tickets

  private heard(fn: () => void): void {
    this.stats.events++;
    this.lastEventAt = Date.now();
    try {
      fn();
    } catch (error) {
      this.warn(`ticket event handling failed: ${(error as Error).message}`);
    }
  }

  /**
   * A ticket changed (or was seen on catching up): when it is the simulator's own or held by a
   * simulated worker, plan what the desk or the worker does next.
   */
  private observe(ticket: TicketSummary, event: TicketEventKind | null): void {
    const own = ticket.reporter.userId !== null && this.ownUsers.has(ticket.reporter.userId);
    const holder = ticket.assignedWorker?.id ?? null;
    const simHolder = holder !== null && this.workers.has(holder) ? holder : null;
    let t = this.tracked.get(ticket.id);
    if (!t && !own && simHolder === null) return;
    // Nothing the simulator acts on has changed (a photo, a replayed event): keep the plan.
    if (t && t.status === ticket.status && t.holder === holder && event !== 'reassigned') return;
    if (t && t.holder !== null && t.holder !== holder) this.leave(t.holder, t.id);
    if (!t) {
      t = { id: ticket.id, own, status: ticket.status, holder, urgency: ticket.urgency, level: ticket.level, gridCode: ticket.grid.code, lon: 0, lat: 0, deadline: null, version: 0 };
      this.tracked.set(ticket.id, t);
    }
    Object.assign(t, {
      status: ticket.status,
      holder,
      urgency: ticket.urgency,
      level: ticket.level,
      lon: ticket.location.lon,
      lat: ticket.location.lat,
      deadline: ticket.deadline === null ? null : Date.parse(ticket.deadline),
      version: t.version + 1,
    });
    if (FINAL_STATUSES.includes(ticket.status) || (!own && simHolder === null)) {
      if (t.holder !== null) this.leave(t.holder, t.id);
      this.tracked.delete(t.id);
      return;
    }
    if (simHolder !== null) this.planWorker(t, simHolder, event);
    if (own) this.planDesk(t);
  }

  /** The system found nobody free to re-offer the ticket to: the desk looks for someone itself. */
  private nobodyFree(ticket: TicketSummary): void {
    const t = this.tracked.get(ticket.id);
    if (!t || !t.own || t.status !== 'dispatched') return;
    this.deskStep(t, 'dispatch', this.options.deskGraceS + deskExtraS(this.random, 'dispatch', t.urgency) * this.delayScale);
  }

  /** Catches up with every open ticket in a centre's district (at start and after a long drop). */
  private async resync(centre: UserRow): Promise<void> {
    const seen = new Set<number>();
    for (const status of OPEN_STATUSES) {
      for (let offset = 0; ; offset += 500) {
        const res = await this.call<TicketList>(centre, 'GET', `/api/tickets?status=${status}&limit=500&offset=${offset}`);
        if (!res.ok) break;
        for (const ticket of res.data.items) {
          seen.add(ticket.id);
          this.observe(ticket, null);
        }
        if (res.data.items.length < 500) break;
      }
    }
    const district = centre.regionCode;
    for (const t of this.tracked.values()) {
      if (!seen.has(t.id) && this.gridPaths.get(t.gridCode)?.split('/')[1] === district) {
        if (t.holder !== null) this.leave(t.holder, t.id);
        this.tracked.delete(t.id);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Simulated workers

  private planWorker(t: Tracked, workerId: number, event: TicketEventKind | null): void {
    const w = this.workers.get(workerId)!;
    const now = this.clock.now();
    switch (t.status) {
      case 'dispatched': {
        // Off duty, the phone is in a pocket: the offer times out and goes to the next worker.
        if (!w.sim.patrol.onDuty(now)) {
          this.stats.ignoredOffers++;
          return;
        }
        const answer = offerResponse(this.random, this.behaviour, this.options.offerTimeoutS);
        if (answer.kind === 'ignore') {
          this.stats.ignoredOffers++;
          return;
        }
        const body: TransitionBody = answer.kind === 'accept' ? { action: 'accept' } : { action: 'decline', reason: answer.reason };
        this.workerStep(t, w.user, body, answer.afterS);
        return;
      }
      case 'accepted': {
        // On the way: straight there at walking pace, then a few minutes to get going.
        w.tasks.add(t.id);
        w.sim.patrol.goTo(t.lon, t.lat);
        const walkS = haversineM(w.sim.patrol.lon, w.sim.patrol.lat, t.lon, t.lat) / w.sim.patrol.walkSpeed;
        const [p0, p1] = this.behaviour.prepS;
        this.workerStep(t, w.user, { action: 'start' }, walkS + p0 + this.random() * (p1 - p0));
        return;
      }
      case 'in_progress': {
        w.tasks.add(t.id);
        if (!w.sim.patrol.atTask) w.sim.patrol.goTo(t.lon, t.lat);
        let afterS = handlingS(this.random, this.behaviour, t.urgency) * (event === 'rework' ? 0.5 : 1);
        const note = RESOLVE_NOTES[Math.floor(this.random() * RESOLVE_NOTES.length)]!;
        if (t.deadline !== null && this.random() < this.behaviour.overrun) {
          // Runs over: the deadline job escalates it before the worker reports it done.
          this.workerStep(t, w.user, { action: 'resolve', note }, 0, t.deadline + (5 + this.random() * 55) * 60_000);
          return;
        }
        if (t.deadline !== null) afterS = Math.min(afterS, Math.max(60, (t.deadline - now) / 1000 / this.delayScale - 60));
        this.workerStep(t, w.user, { action: 'resolve', note }, afterS);
        return;
      }
      default:
        // Resolved or further on: the worker's part is done.
        this.leave(workerId, t.id);
    }
  }

  /** A worker's part in a ticket ended: back to patrol, or on to their next task. */
  private leave(workerId: number, ticketId: number): void {
    const w = this.workers.get(workerId);
    if (!w || !w.tasks.delete(ticketId)) return;
    const next = [...w.tasks].map((id) => this.tracked.get(id)).find((t) => t !== undefined);
    if (next) w.sim.patrol.goTo(next.lon, next.lat);
    else w.sim.patrol.release();
  }

  private workerStep(t: Tracked, user: UserRow, body: TransitionBody, afterS: number, at?: number): void {
    this.schedule(t, at ?? this.clock.now() + afterS * this.delayScale * 1000, () => this.transition(user, t.id, body));
  }

  // -------------------------------------------------------------------------------------------
  // Simulated desks (only ever on the simulator's own tickets)

  private planDesk(t: Tracked): void {
    const grace = this.options.deskGraceS;
    const extra = (step: DeskStep) => grace + deskExtraS(this.random, step, t.urgency) * this.delayScale;
    switch (t.status) {
      case 'received':
        this.deskStep(t, 'register', extra('register'));
        return;
      case 'registered':
      case 'returned':
      case 'escalated':
        this.deskStep(t, 'dispatch', extra('dispatch'));
        return;
      case 'dispatched': {
        // The server re-offers a silent worker's task itself; the desk steps in only if it stays stuck.
        const stuckS = Math.max(this.options.offerTimeoutS * 2, grace * 3, 60) + deskExtraS(this.random, 'dispatch', t.urgency) * this.delayScale;
        this.deskStep(t, 'dispatch', stuckS);
        return;
      }
      case 'resolved':
        this.deskStep(t, 'verify', extra('verify'));
        return;
      case 'verified':
        this.deskStep(t, 'close', extra('close'));
        return;
      default:
        // Accepted or in progress: the worker's turn.
        return;
    }
  }

  private deskStep(t: Tracked, step: DeskStep, afterS: number): void {
    this.schedule(t, this.clock.now() + afterS * 1000, async () => {
      const desk = this.deskFor(t);
      if (!desk) return;
      switch (step) {
        case 'register':
          if (this.random() < this.behaviour.cancel) {
            await this.transition(desk, t.id, { action: 'cancel', reason: this.pick(CANCEL_REASONS) });
          } else {
            await this.transition(desk, t.id, { action: 'register' });
          }
          return;
        case 'dispatch': {
          const res = await this.call<DispatchCandidate[]>(desk, 'GET', `/api/tickets/${t.id}/candidates?limit=1`);
          if (!res.ok) return;
          const top = res.data[0];
          if (!top) {
            // Nobody free just now: look again in a while (still planned for this version of the ticket).
            this.deskStep(t, 'dispatch', Math.max(60, this.options.deskGraceS));
            return;
          }
          await this.transition(desk, t.id, { action: 'dispatch', workerId: top.workerId });
          return;
        }
        case 'verify':
          if (this.random() < this.behaviour.rework) {
            await this.transition(desk, t.id, { action: 'return', reason: this.pick(REWORK_REASONS) });
          } else {
            await this.transition(desk, t.id, { action: 'verify', note: this.pick(VERIFY_NOTES) });
          }
          return;
        case 'close':
          await this.transition(desk, t.id, { action: 'close' });
          return;
      }
    });
  }

  /**
   * The desk that holds the ticket: the street's dispatcher while it sits at grid, community or
   * street level, the district centre above.
   */
  private deskFor(t: Tracked): UserRow | undefined {
    const [district = '', street = ''] = (this.gridPaths.get(t.gridCode) ?? '').split('/').filter(Boolean);
    const centre = this.desks.get(district) ?? this.centres[0];
    if (t.level === 'district' || t.level === 'department') return centre;
    return this.desks.get(street) ?? centre;
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private pick(list: readonly string[]): string {
    return list[Math.floor(this.random() * list.length)]!;
  }

  /** Plans a step for version `t.version` of a ticket; it is dropped if the ticket changes first. */
  private schedule(t: Tracked, at: number, run: () => Promise<void>): void {
    const version = t.version;
    this.pushJob({
      at,
      seq: this.seq++,
      run: async () => {
        if (this.tracked.get(t.id) !== t || t.version !== version) return;
        await run();
      },
    });
  }

  private async transition(user: UserRow, id: number, body: TransitionBody): Promise<void> {
    const res = await this.call<unknown>(user, 'POST', `/api/tickets/${id}/transitions`, body);
    if (res.ok) this.stats.actions[body.action] = (this.stats.actions[body.action] ?? 0) + 1;
  }

  private token(user: UserRow): string {
    const cached = this.tokens.get(user.id);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    const { token, expiresAt } = this.options.sign(user);
    // Renew well before expiry: a request in flight must not carry a token that lapses on the way.
    this.tokens.set(user.id, { token, renewAt: Date.now() + (expiresAt.getTime() - Date.now()) / 2 });
    return token;
  }

  private async call<T>(user: UserRow, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer<T>> {
    try {
      const res = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token(user)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data: unknown = await res.json().catch(() => undefined);
      if (res.ok) return { ok: true, data: data as T };
      const code = (data as { code?: string } | undefined)?.code;
      if (res.status === 404 || res.status === 409) this.stats.conflicts++;
      else {
        this.stats.failed++;
        this.warn(`${method} ${path} as ${user.username}: ${res.status} ${code ?? ''}`);
      }
      return { ok: false, status: res.status, code };
    } catch (error) {
      this.stats.failed++;
      this.warn(`${method} ${path} as ${user.username}: ${(error as Error).message}`);
      return { ok: false, status: 0, code: undefined };
    }
  }

  private warn(message: string): void {
    const now = Date.now();
    if (now - this.lastWarnAt < 60_000) return;
    this.lastWarnAt = now;
    this.options.warn?.(`ticket simulator: ${message}`);
  }

  /** Runs `fn` when a connection is free; resolves when it has finished. */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(async () => {
        try {
          await fn();
        } catch (error) {
          this.stats.failed++;
          this.warn((error as Error).message);
        } finally {
          resolve();
        }
      });
      this.pump();
    });
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 8;
    while (this.inFlight < limit && this.waiting.length > 0) {
      const fn = this.waiting.shift()!;
      this.inFlight++;
      void fn().finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  // A binary heap of planned steps by time (then by the order they were planned).

  private static before(a: Job, b: Job): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private pushJob(job: Job): void {
    const h = this.jobs;
    h.push(job);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!TicketSimulator.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private popJob(): Job {
    const h = this.jobs;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && TicketSimulator.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && TicketSimulator.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
