/**
 * The notice side of the simulation: simulated grid workers' phones fetch a notice soon after it
 * is sent (delivered), most of their workers read it within minutes, some much later, a few never;
 * when the sender asked for a reply, those who read it reply a little later. Urgent notices are read
 * sooner; a worker off duty reads later. Everything goes through the same HTTP API a phone uses,
 * with the simulated accounts' tokens; the simulator learns of new notices from its district
 * desks' `notice.receipts` events.
 */
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import { createRandom } from '@shared/random';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import type { UserRow } from '../auth/repository';
import { pendingRecipients } from '../notices/repository';
import type { SimulatedWorker, Simulator } from './simulator';
import { ensureSimulatedAccounts } from './repository';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface NoticeSimulatorOptions {
  /** The server's own base URL. */
  baseUrl: string;
  /** Signs a token for one of the simulator's accounts (the app's own signer). */
  sign: (user: UserRow) => { token: string; expiresAt: Date };
  /** Scales every delay (tests: 0.01 → minutes become about a second). */
  delayScale?: number;
  /** Share of recipients who never open a notice. */
  neverReadShare?: number;
  seed?: string;
  /** Requests in flight at most. */
  concurrency?: number;
  warn?: (message: string) => void;
}

const REPLIES = ['收到，已落实。', '已排查，未发现隐患。', '收到，马上处理。', '已通知到户。', '收到，本网格已安排人员。', '已完成，情况正常。'];

interface Job {
  at: number;
  run: () => Promise<void>;
}

/** A binary min-heap of jobs by time: a district-wide notice plans thousands of steps at once. */
export class JobHeap {
  private readonly a: Job[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Job | undefined {
    return this.a[0];
  }
  push(job: Job): void {
    const a = this.a;
    a.push(job);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Job | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.a.length = 0;
  }
}

export class NoticeSimulator {
  private readonly random: () => number;
  private readonly delayScale: number;
  private readonly neverReadShare: number;
  private readonly workers = new Map<number, { sim: SimulatedWorker; user: UserRow }>();
  private readonly centres: UserRow[] = [];
  private readonly seen = new Set<number>();
  private readonly tokens = new Map<number, { token: string; renewAt: number }>();
  private readonly jobs = new JobHeap();
  private readonly waiting: (() => void)[] = [];
  private inFlight = 0;
  private sockets: Client[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastWarnAt = 0;
  readonly stats = { notices: 0, delivered: 0, read: 0, replied: 0, neverRead: 0, failed: 0 };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly patrol: Simulator,
    private readonly options: NoticeSimulatorOptions,
  ) {
    this.random = createRandom(options.seed ?? `notices:${Date.now()}`);
    this.delayScale = options.delayScale ?? 1;
    this.neverReadShare = options.neverReadShare ?? 0.06;
  }

  /** The simulated workers' and district desks' accounts (shared with the ticket simulator). Returns how many workers read. */
  async load(): Promise<number> {
    const roster = this.patrol.fieldWorkers;
    const districts = new Set(roster.map((w) => w.info.gridPath.split('/').filter(Boolean)[0] ?? ''));
    const streets = new Set(roster.map((w) => w.info.gridPath.split('/').filter(Boolean)[1] ?? ''));
    const accounts = await ensureSimulatedAccounts(this.db, roster.map((w) => w.info.id), [...districts, ...streets].filter(Boolean));
    const byWorker = new Map(accounts.filter((a) => a.workerId !== null).map((a) => [a.workerId!, a]));
    this.workers.clear();
    for (const w of roster) {
      const user = byWorker.get(w.info.id);
      // A worker with a person's account reads on their own phone.
      if (user) this.workers.set(w.info.id, { sim: w, user });
    }
    this.centres.length = 0;
    for (const a of accounts) if (a.workerId === null && a.regionLevel === 'district' && districts.has(a.regionCode)) this.centres.push(a);
    return this.workers.size;
  }

  describe(): string {
    return `Notice simulator: ${this.workers.size} simulated phones read notices (most within minutes, ${Math.round(this.neverReadShare * 100)}% never) and reply when asked.`;
  }

  /** Listens for new notices on the district desks' sockets and acts on a one-second tick. */
  async start(): Promise<void> {
    await Promise.all(this.centres.map((centre) => new Promise<void>((resolve, reject) => {
      const socket: Client = connect(this.options.baseUrl, { auth: (cb) => cb({ token: this.token(centre) }), transports: ['websocket'] });
      this.sockets.push(socket);
      socket.on('notice.receipts', (c) => {
        if (!this.seen.has(c.id)) void this.plan(c.id).catch((e: unknown) => this.warn(`planning notice ${c.id}: ${(e as Error).message}`));
      });
      socket.on('connect', () => resolve());
      socket.on('connect_error', (error) => {
        if (!socket.active) reject(error);
      });
    })));
    this.timer ??= setInterval(() => void this.tick(), 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.sockets) s.disconnect();
    this.sockets = [];
    this.jobs.clear();
  }

  /** Steps planned and not yet done (due or not, waiting for a connection, or in flight). */
  get pending(): number {
    return this.jobs.size + this.inFlight + this.waiting.length;
  }

  /** Runs the steps due at the clock's time; resolves when their requests have been answered. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    const started: Promise<void>[] = [];
    while (this.jobs.size > 0 && this.jobs.peek()!.at <= now) started.push(this.enqueue(this.jobs.pop()!.run));
    await Promise.all(started);
  }

  /** A new notice: each simulated recipient's phone fetches it, then they read it (or not) and reply if asked. */
  async plan(noticeId: number): Promise<void> {
    if (this.seen.has(noticeId)) return;
    this.seen.add(noticeId);
    const notice = await pendingRecipients(this.db, noticeId);
    if (!notice) return;
    this.stats.notices++;
    const now = this.clock.now();
    const s = this.delayScale * 1000;
    for (const workerId of notice.workerIds) {
      const w = this.workers.get(workerId);
      if (!w) continue;
      const onDuty = w.sim.patrol.onDuty(now);
      // The phone is on (on duty) or wakes up later (off duty): then it fetches the notice.
      const deliverAt = now + s * (onDuty ? this.exp(15) : 60 + this.exp(20 * 60));
      this.jobs.push({ at: deliverAt, run: () => this.call(w.user, 'GET', `/api/notices/${noticeId}`, undefined, 'delivered') });
      if (this.random() < this.neverReadShare) {
        this.stats.neverRead++;
        continue;
      }
      // Most look within minutes; a share only when they next check their phone; urgent ones sooner.
      const quick = this.random() < 0.8;
      let readS = quick ? 20 + this.exp(150) : 600 + this.exp(40 * 60);
      if (notice.urgency === 'urgent') readS *= 0.4;
      if (!onDuty) readS *= 3;
      const readAt = deliverAt + s * readS;
      this.jobs.push({ at: readAt, run: () => this.call(w.user, 'POST', `/api/notices/${noticeId}/read`, undefined, 'read') });
      if (notice.receiptRequired) {
        const body = { body: REPLIES[Math.floor(this.random() * REPLIES.length)]! };
        this.jobs.push({ at: readAt + s * (30 + this.exp(240)), run: () => this.call(w.user, 'POST', `/api/notices/${noticeId}/reply`, body, 'replied') });
      }
    }
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

  private async call(user: UserRow, method: 'GET' | 'POST', path: string, body: unknown, stat: 'delivered' | 'read' | 'replied'): Promise<void> {
    try {
      const res = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token(user)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.arrayBuffer();
      if (res.ok) this.stats[stat]++;
      else if (res.status !== 404) {
        this.stats.failed++;
        this.warn(`${method} ${path} as ${user.username}: ${res.status}`);
      }
    } catch (error) {
      this.stats.failed++;
      this.warn(`${method} ${path} as ${user.username}: ${(error as Error).message}`);
    }
  }

  /** Runs `fn` when a connection is free. */
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
    this.options.warn?.(`notice simulator: ${message}`);
  }
}
