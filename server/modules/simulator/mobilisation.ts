/**
 * The emergency side of the simulation (平战结合 drills): when an emergency is declared, the
 * simulated people called up answer on their phones — most party members acknowledge (收到) within
 * minutes, some only much later, a share never; then they walk from home to their grid at walking
 * pace and report in (报到) from a point inside it; a few acknowledge but never come. Grid workers on
 * patrol answer sooner and are closer. Party members who reported in keep sharing their position
 * while the emergency lasts, so they stay on the map. Everything goes through the same HTTP API a
 * phone uses, with simulated accounts (`sim-<worker code>`, which nobody can sign in to; a person
 * with a real account for that worker is left to their own phone). The simulator learns of
 * emergencies from its district desks' `emergency.declared` events.
 */
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import { createRandom } from '@shared/random';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import type { UserRow } from '../auth/repository';
import { pendingCallUps } from '../emergencies/repository';
import { JobHeap } from './notices';
import type { Simulator } from './simulator';
import { ensureSimulatedAccounts } from './repository';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface MobilisationSimulatorOptions {
  /** The server's own base URL. */
  baseUrl: string;
  /** Signs a token for one of the simulator's accounts (the app's own signer). */
  sign: (user: UserRow) => { token: string; expiresAt: Date };
  /** Scales every delay (tests: 0.01 → minutes become about a second). */
  delayScale?: number;
  /** Share of party members who never answer; grid workers answer far more often. */
  partyNeverShare?: number;
  seed?: string;
  /** Requests in flight at most. */
  concurrency?: number;
  /** Seconds between the position reports of a party member who reported in (kept unscaled: it keeps them online). */
  presenceIntervalS?: number;
  warn?: (message: string) => void;
}

interface Called {
  user: UserRow;
  party: boolean;
  lon: number;
  lat: number;
}

export class MobilisationSimulator {
  private readonly random: () => number;
  private readonly delayScale: number;
  private readonly partyNeverShare: number;
  private readonly centres: UserRow[] = [];
  private readonly seen = new Set<number>();
  private readonly tokens = new Map<number, { token: string; renewAt: number }>();
  private readonly jobs = new JobHeap();
  private readonly waiting: (() => void)[] = [];
  /** Per active emergency, the party members on the spot (their positions keep them on the map). */
  private readonly present = new Map<number, Called[]>();
  private inFlight = 0;
  private sockets: Client[] = [];
  private timer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private lastWarnAt = 0;
  readonly stats = { emergencies: 0, planned: 0, acknowledged: 0, reportedIn: 0, neverAnswer: 0, failed: 0 };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly patrol: Simulator,
    private readonly options: MobilisationSimulatorOptions,
  ) {
    this.random = createRandom(options.seed ?? `mobilisation:${Date.now()}`);
    this.delayScale = options.delayScale ?? 1;
    this.partyNeverShare = options.partyNeverShare ?? 0.12;
  }

  /** The district desks' accounts, whose sockets hear of new emergencies. */
  async load(): Promise<void> {
    const districts = new Set(this.patrol.fieldWorkers.map((w) => w.info.gridPath.split('/').filter(Boolean)[0] ?? ''));
    const accounts = await ensureSimulatedAccounts(this.db, [], [...districts].filter(Boolean));
    this.centres.length = 0;
    for (const a of accounts) if (a.workerId === null && a.regionLevel === 'district' && districts.has(a.regionCode)) this.centres.push(a);
  }

  describe(): string {
    return `Mobilisation simulator: in an emergency, simulated party members and grid workers answer the call-up (${Math.round(this.partyNeverShare * 100)}% of party members never), walk to their grid and report in.`;
  }

  async start(): Promise<void> {
    await Promise.all(this.centres.map((centre) => new Promise<void>((resolve, reject) => {
      const socket: Client = connect(this.options.baseUrl, { auth: (cb) => cb({ token: this.token(centre) }), transports: ['websocket'] });
      this.sockets.push(socket);
      socket.on('emergency.declared', (e) => {
        if (!this.seen.has(e.id)) void this.plan(e.id).catch((error: unknown) => this.warn(`planning emergency ${e.id}: ${(error as Error).message}`));
      });
      socket.on('emergency.closed', (c) => this.present.delete(c.id));
      socket.on('connect', () => resolve());
      socket.on('connect_error', (error) => {
        if (!socket.active) reject(error);
      });
    })));
    this.timer ??= setInterval(() => void this.tick(), 250);
    const presenceMs = (this.options.presenceIntervalS ?? 60) * 1000;
    this.presenceTimer ??= setInterval(() => void this.keepPresent(), presenceMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.timer = undefined;
    this.presenceTimer = undefined;
    for (const s of this.sockets) s.disconnect();
    this.sockets = [];
    this.jobs.clear();
    this.present.clear();
  }

  /** Steps planned and not yet done. */
  get pending(): number {
    return this.jobs.size + this.inFlight + this.waiting.length;
  }

  async tick(): Promise<void> {
    const now = this.clock.now();
    const started: Promise<void>[] = [];
    while (this.jobs.size > 0 && this.jobs.peek()!.at <= now) started.push(this.enqueue(this.jobs.pop()!.run));
    await Promise.all(started);
  }

  /** A new emergency: everyone called who has a simulated phone answers (or not), walks and reports in. */
  async plan(id: number): Promise<void> {
    if (this.seen.has(id)) return;
    this.seen.add(id);
    const callUps = await pendingCallUps(this.db, id);
    if (callUps.length === 0) return;
    this.stats.emergencies++;
    // Party members get their simulated phone accounts now (the work force has its own already).
    const accounts = await ensureSimulatedAccounts(this.db, callUps.map((c) => c.workerId), []);
    const byWorker = new Map(accounts.filter((a) => a.workerId !== null).map((a) => [a.workerId!, a]));
    const onDuty = new Set(this.patrol.fieldWorkers.filter((w) => w.patrol.onDuty(this.clock.now())).map((w) => w.info.id));
    const now = this.clock.now();
    const s = this.delayScale * 1000;
    this.present.set(id, []);
    for (const c of callUps) {
      const user = byWorker.get(c.workerId);
      if (!user) continue;
      const called: Called = { user, party: c.party, lon: c.lon, lat: c.lat };
      const working = !c.party && onDuty.has(c.workerId);
      if (this.random() < (c.party ? this.partyNeverShare : 0.02)) {
        this.stats.neverAnswer++;
        continue;
      }
      this.stats.planned++;
      // 收到: most within a few minutes; a share only when they next look at their phone.
      let ackS = working ? 10 + this.exp(45) : 20 + this.exp(120);
      if (this.random() < (working ? 0.05 : 0.2)) ackS += this.exp(20 * 60);
      const ackAt = now + s * ackS;
      if (!c.acknowledged) {
        this.jobs.push({ at: ackAt, run: async () => void (await this.call(user, `/api/emergencies/${id}/acknowledge`, undefined, 'acknowledged')) });
      }
      // Some acknowledge and never come.
      if (this.random() < (c.party ? 0.06 : 0.01)) continue;
      // Getting ready, then walking from wherever they are to their grid at 1.1–1.6 m/s.
      const readyS = working ? 0 : 60 + this.exp(4 * 60);
      const distanceM = working ? this.exp(250) : 300 + this.exp(1200);
      const walkS = distanceM / (1.1 + 0.5 * this.random());
      this.jobs.push({
        at: ackAt + s * (readyS + walkS),
        run: async () => {
          const ok = await this.call(user, `/api/emergencies/${id}/report-in`, { lon: called.lon, lat: called.lat, accuracy: 5 + 15 * this.random() }, 'reportedIn');
          if (ok && called.party) this.present.get(id)?.push(called);
        },
      });
    }
  }

  /** Party members on the spot share their position now and then (a few metres around where they reported in). */
  private async keepPresent(): Promise<void> {
    const t = new Date(this.clock.now()).toISOString();
    const all = [...this.present.values()].flat();
    await Promise.all(all.map((c) => this.enqueue(async () => {
      const jitter = () => (this.random() - 0.5) * 0.00008;
      await this.send(c.user, '/api/positions', { fixes: [{ time: t, lon: c.lon + jitter(), lat: c.lat + jitter(), accuracy: 10 }] });
    })));
  }

  /** An exponential delay with this mean, in seconds. */
  private exp(meanS: number): number {
    return -Math.log(1 - this.random()) * meanS;
  }

  private token(user: UserRow): string {
    const cached = this.tokens.get(user.id);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    const { token, expiresAt } = this.options.sign(user);
    this.tokens.set(user.id, { token, renewAt: Date.now() + (expiresAt.getTime() - Date.now()) / 2 });
    return token;
  }

  private async call(user: UserRow, path: string, body: unknown, stat: 'acknowledged' | 'reportedIn'): Promise<boolean> {
    const status = await this.send(user, path, body);
    if (status >= 200 && status < 300) this.stats[stat]++;
    // 409: the emergency ended before they got there.
    else if (status !== 409) {
      this.stats.failed++;
      this.warn(`POST ${path} as ${user.username}: ${status}`);
    }
    return status >= 200 && status < 300;
  }

  private async send(user: UserRow, path: string, body: unknown): Promise<number> {
    try {
      const res = await fetch(`${this.options.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token(user)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      this.warn(`POST ${path} as ${user.username}: ${(error as Error).message}`);
      return 0;
    }
  }

  private async enqueue(fn: () => Promise<void>): Promise<void> {
    const limit = this.options.concurrency ?? 16;
    if (this.inFlight >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      await fn();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private warn(message: string): void {
    const now = Date.now();
    if (now - this.lastWarnAt < 60_000) return;
    this.lastWarnAt = now;
    this.options.warn?.(`mobilisation simulator: ${message}`);
  }
}
