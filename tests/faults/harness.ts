/**
 * What the fault tests share: a seeded database the server child can open (a copy of the run's
 * template on either engine), devices registered for a few thousand workers, a traffic generator
 * playing phones (OsmAnd HTTP, one fix per request) and a reporting app (POST /api/tickets with a
 * clientId), which remembers every answer and retries everything unanswered, and the check of what
 * the database holds afterwards against what the clients were told.
 *
 * Nothing here imports server code: the database is reached with `pg` or PGlite directly, the server
 * over HTTP, so the tests hold whatever shape server/ takes.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { adminQuery, withDatabase, type TemplateInfo } from '../support/template';
import { REPO_ROOT, sleep } from '../support/server-process';

// ---------------------------------------------------------------------------------------------
// Databases

export interface SqlSession {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export interface FaultDb {
  engine: 'postgres' | 'pglite';
  /** PGlite: the data directory the server opens. */
  dataDir?: string;
  /** What the server child needs to open it: DATABASE_URL or DATA_DIR. */
  serverEnv: Record<string, string>;
  describe: string;
  /**
   * A connection for the test's own queries. On PGlite this opens the data directory in this
   * process: only while no server holds it (PGlite is single-process).
   */
  open(): Promise<SqlSession>;
  /** Drops the database or removes the directory. */
  dispose(): Promise<void>;
}

async function pgSession(url: string): Promise<SqlSession> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return {
    async query<R>(text: string, params: unknown[] = []) {
      return (await client.query(text, params)).rows as R[];
    },
    close: () => client.end(),
  };
}

export async function pgliteSession(dataDir: string, loadDataDir?: Blob): Promise<SqlSession> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { postgis } = await import('@electric-sql/pglite-postgis');
  const db = await PGlite.create({ dataDir, extensions: { postgis }, ...(loadDataDir ? { loadDataDir } : {}) });
  return {
    async query<R>(text: string, params: unknown[] = []) {
      return (await db.query<R>(text, params)).rows;
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}

/** A PostgreSQL database `url` as a FaultDb (created and dropped by the caller's `drop`). */
export function serverDb(url: string, drop: () => Promise<void>): FaultDb {
  return {
    engine: 'postgres',
    serverEnv: { DATABASE_URL: url },
    describe: url,
    open: () => pgSession(url),
    dispose: drop,
  };
}

/**
 * A private copy of the run's seeded template: a database beside it on the server
 * (CREATE DATABASE … TEMPLATE), or, on the embedded engine, the template tarball unpacked into
 * `<tmp>/pglite`, the directory a server started with DATA_DIR=<tmp> opens.
 */
export async function copyTemplate(template: TemplateInfo): Promise<FaultDb> {
  if (template.engine === 'postgres') {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('the template is on a server but DATABASE_URL is unset');
    const name = `${template.ref.replace(/_template_\d+$/, '')}_${randomBytes(4).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE "${name}" TEMPLATE "${template.ref}"`);
    return serverDb(withDatabase(url, name), () => adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }
  const root = mkdtempSync(path.join(tmpdir(), 'gridline-faults-'));
  const dataDir = path.join(root, 'pglite');
  // Unpacks the tarball into dataDir (PGlite does so when the directory holds no database yet).
  const first = await pgliteSession(dataDir, new Blob([readFileSync(template.ref)]));
  await first.close();
  return {
    engine: 'pglite',
    dataDir,
    serverEnv: { DATA_DIR: root },
    describe: dataDir,
    open: () => pgliteSession(dataDir),
    async dispose() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface CrashImage {
  /** PGlite's startup messages about the interrupted shutdown and the WAL replay. */
  recovery: string[];
  /** `${worker}:${ms}` of every position row of the run's workers. */
  positions: Set<string>;
  tickets: Map<string, number>;
  openMs: number;
}

/**
 * What a PGlite data directory holds right after the process that had it open was SIGKILLed:
 * a copy of it is opened in a separate process (tests/faults/pglite-crash-image.ts) with PostgreSQL's
 * startup messages on. The original is left untouched for the restarted server.
 */
export async function inspectCrashImage(dataDir: string, runId: string, workerIds: number[]): Promise<CrashImage> {
  const copy = mkdtempSync(path.join(tmpdir(), 'gridline-crash-image-'));
  const started = performance.now();
  try {
    cpSync(dataDir, path.join(copy, 'pglite'), { recursive: true });
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'tests/faults/pglite-crash-image.ts', path.join(copy, 'pglite'), runId, workerIds.join(',')],
        { cwd: REPO_ROOT, maxBuffer: 64 * 2 ** 20, timeout: 120_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr.slice(-2000)}`)) : resolve(`${stdout}\n${stderr}`)),
      );
    });
    const lines = out.split('\n');
    const result = lines.find((l) => l.startsWith('CRASH-IMAGE '));
    if (!result) throw new Error(`no result from the crash image:\n${out.slice(-2000)}`);
    const parsed = JSON.parse(result.slice('CRASH-IMAGE '.length)) as { positions: [number, number][]; tickets: [number, string][] };
    return {
      recovery: lines.filter((l) => /interrupted|not properly shut down|redo (starts|done)|invalid record length/.test(l)).map((l) => l.replace(/^.*?(LOG|DEBUG):\s*/, '')),
      positions: new Set(parsed.positions.map(([w, t]) => `${w}:${t}`)),
      tickets: new Map(parsed.tickets.map(([id, c]) => [c, id])),
      openMs: performance.now() - started,
    };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Fixture: devices and places

export interface Device {
  workerId: number;
  identifier: string;
  lon: number;
  lat: number;
}

export interface Fixture {
  devices: Device[];
  /** Points inside grids of the district, where tickets are filed. */
  ticketPoints: { lon: number; lat: number }[];
  category: string;
}

/**
 * Registers a device `fault-<worker id>` for `count` active workers (the template has none) and
 * reads a point inside each one's home grid. Must run before the server starts: it loads devices
 * at start.
 */
export async function prepareFixture(session: SqlSession, count: number): Promise<Fixture> {
  await session.query(
    `INSERT INTO devices (identifier, worker_id, kind)
     SELECT 'fault-' || id, id, 'phone' FROM (SELECT id FROM workers WHERE active ORDER BY id LIMIT $1) w
     ON CONFLICT (identifier) DO NOTHING`,
    [count],
  );
  const devices = await session.query<{ w: number; identifier: string; lon: number; lat: number }>(`
    SELECT d.worker_id::float8 AS w, d.identifier, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM devices d JOIN workers w ON w.id = d.worker_id JOIN regions g ON g.code = w.home_grid_code
     WHERE d.identifier LIKE 'fault-%' ORDER BY d.worker_id`);
  const points = await session.query<{ lon: number; lat: number }>(`
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions WHERE level = 'grid' ORDER BY code LIMIT 200) s`);
  const cat = await session.query<{ code: string }>(`
    SELECT code FROM ticket_categories WHERE active AND parent_code IS NOT NULL ORDER BY sort_order, code LIMIT 1`);
  if (devices.length < count) throw new Error(`only ${devices.length} devices registered, wanted ${count}`);
  return {
    devices: devices.map((d) => ({ workerId: Number(d.w), identifier: d.identifier, lon: Number(d.lon), lat: Number(d.lat) })),
    ticketPoints: points.map((p) => ({ lon: Number(p.lon), lat: Number(p.lat) })),
    category: cat[0]?.code ?? 'safety',
  };
}

// ---------------------------------------------------------------------------------------------
// Traffic

/** One answer (or non-answer) the clients saw. */
export interface Exchange {
  kind: 'fix' | 'ticket';
  /** performance.now() at send and at answer. */
  start: number;
  end: number;
  /** HTTP status; 0 = connection failed or reset, -1 = no answer within the client's timeout. */
  status: number;
  retryAfter: string | undefined;
  error: string | undefined;
}

export interface FixRecord {
  device: Device;
  /** ms since epoch, unique per device and increasing with each new fix. */
  t: number;
  lon: number;
  lat: number;
  attempts: number;
  /** performance.now() of the 200, NaN while unacknowledged. */
  ackedAt: number;
  /** A 4xx: the server refused the fix for good (not retried). */
  rejected: string | undefined;
  notBefore: number;
}

export interface TicketRecord {
  clientId: string;
  lon: number;
  lat: number;
  attempts: number;
  /** 201 (created) or 200 (the same clientId again): the ticket's id as answered. */
  created: { id: number; at: number } | undefined;
  repeated: { id: number; at: number }[];
  done: boolean;
  rejected: string | undefined;
  notBefore: number;
}

export interface TrafficOptions {
  baseUrl: string;
  fixture: Fixture;
  /** New fixes a second while generating. */
  fixRate: number;
  /** Requests in flight at most (phones). */
  fixConcurrency: number;
  /** Filing apps working at once; each files one ticket after another. */
  ticketConcurrency: number;
  /** Pause between one app's filings, ms. */
  ticketGapMs: number;
  username: string;
  password: string;
  /** Client-side request timeout: longer than this counts as "no answer" (-1), ms. */
  requestTimeoutMs?: number;
  /** Prefix of every clientId, to find this run's tickets. */
  runId: string;
}

interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
  error: string | undefined;
}

const RETRYABLE = (status: number) => status <= 0 || status >= 500;

/**
 * Phones and reporting apps. `generate(true)` starts new fixes at `fixRate` and new tickets; every
 * fix or ticket not yet acknowledged is resent (same fix, same clientId) until it is, backing off
 * 0.2–2 s, or as long as a 503's Retry-After asks. A 4xx is final and recorded as a rejection.
 */
export class Traffic {
  readonly fixes: FixRecord[] = [];
  readonly tickets: TicketRecord[] = [];
  readonly exchanges: Exchange[] = [];
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private generating = false;
  private genStart = 0;
  private generated = 0;
  private ticketSeq = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private token: string | undefined;
  private fixRetries: FixRecord[] = [];
  private readyFixes: FixRecord[] = [];
  private fixWaiters: ((f: FixRecord | undefined) => void)[] = [];
  private pumpTimer: NodeJS.Timeout | undefined;
  /** Scheduled fixes never made because the senders were all busy (more than 1 s behind). */
  heldBack = 0;
  private ticketRetries: TicketRecord[] = [];
  /** Per device, the time of its newest fix. */
  private readonly lastT = new Map<string, number>();
  private readonly baseT: number;

  constructor(readonly options: TrafficOptions) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.fixConcurrency + options.ticketConcurrency + 4 });
    this.timeoutMs = options.requestTimeoutMs ?? 15_000;
    // Fixes start a few minutes in the past, one second apart per device: recent, unique, increasing.
    this.baseT = Math.floor(Date.now() / 1000) * 1000 - 4 * 60_000;
  }

  async login(): Promise<void> {
    const { username, password } = this.options;
    for (let attempt = 0; attempt < 60; attempt++) {
      const a = await this.request('POST', '/api/auth/login', { username, password });
      if (a.status === 200) {
        this.token = (JSON.parse(a.body) as { token: string }).token;
        return;
      }
      if (!RETRYABLE(a.status)) throw new Error(`login ${username}: ${a.status} ${a.body}`);
      await sleep(500);
    }
    throw new Error(`login ${username}: the server never answered`);
  }

  /** Starts the sender loops (once). */
  start(): void {
    if (this.loops.length > 0) return;
    this.pumpTimer = setInterval(() => this.pump(), 5);
    for (let i = 0; i < this.options.fixConcurrency; i++) this.loops.push(this.fixLoop());
    for (let i = 0; i < this.options.ticketConcurrency; i++) this.loops.push(this.ticketLoop());
  }

  /** New fixes and tickets on (true) or off (false); retries go on either way. */
  generate(on: boolean): void {
    if (on && !this.generating) {
      this.genStart = performance.now();
      this.generated = 0;
    }
    this.generating = on;
  }

  get unacknowledgedFixes(): number {
    return this.fixes.filter((f) => Number.isNaN(f.ackedAt) && !f.rejected).length;
  }

  get unansweredTickets(): number {
    return this.tickets.filter((t) => !t.done && !t.rejected).length;
  }

  /**
   * Waits until every fix and ticket is acknowledged (or rejected), or the deadline passes, or
   * `hopeless()` says waiting longer is pointless (the server died).
   */
  async settle(timeoutMs: number, hopeless: () => boolean = () => false): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && !hopeless()) {
      if (this.unacknowledgedFixes === 0 && this.unansweredTickets === 0) return true;
      await sleep(100);
    }
    return false;
  }

  async stop(): Promise<void> {
    this.generating = false;
    this.stopped = true;
    clearInterval(this.pumpTimer);
    for (const w of this.fixWaiters.splice(0)) w(undefined);
    await Promise.all(this.loops);
    this.agent.destroy();
  }

  private nextFix(): FixRecord {
    const { devices } = this.options.fixture;
    const device = devices[this.fixes.length % devices.length]!;
    const t = (this.lastT.get(device.identifier) ?? this.baseT) + 1000;
    this.lastT.set(device.identifier, t);
    // A few metres around the grid point: the fix stays in the district and looks like walking.
    const jitter = () => (Math.random() - 0.5) * 2e-4;
    const rec: FixRecord = {
      device,
      t,
      lon: Math.round((device.lon + jitter()) * 1e6) / 1e6,
      lat: Math.round((device.lat + jitter()) * 1e6) / 1e6,
      attempts: 0,
      ackedAt: NaN,
      rejected: undefined,
      notBefore: 0,
    };
    this.fixes.push(rec);
    return rec;
  }

  private takeDue<T extends { notBefore: number }>(queue: T[], now: number): T | undefined {
    for (let i = 0; i < queue.length; i++) {
      if (queue[i]!.notBefore <= now) return queue.splice(i, 1)[0];
    }
    return undefined;
  }

  private backoff(attempts: number, retryAfter: string | undefined): number {
    const ra = Number(retryAfter);
    if (retryAfter !== undefined && Number.isFinite(ra) && ra >= 0) return Math.min(5_000, Math.max(200, ra * 1000));
    return Math.min(2_000, 200 * attempts);
  }

  /** Every 5 ms: due retries and newly scheduled fixes join the ready queue; idle senders wake. */
  private pump(): void {
    const now = performance.now();
    if (this.fixRetries.length > 0) {
      const waiting: FixRecord[] = [];
      for (const f of this.fixRetries) (f.notBefore <= now ? this.readyFixes : waiting).push(f);
      this.fixRetries = waiting;
    }
    if (this.generating) {
      const due = ((now - this.genStart) * this.options.fixRate) / 1000;
      // A phone that cannot send keeps its fixes; the schedule does not pile up more than 1 s behind.
      if (due - this.generated > this.options.fixRate) {
        this.heldBack += Math.floor(due - this.generated - this.options.fixRate);
        this.generated = Math.floor(due - this.options.fixRate);
      }
      while (this.generated < due && this.readyFixes.length < 2 * this.options.fixConcurrency) {
        this.generated++;
        this.readyFixes.push(this.nextFix());
      }
    }
    while (this.fixWaiters.length > 0 && this.readyFixes.length > 0) this.fixWaiters.shift()!(this.readyFixes.shift());
  }

  private nextReadyFix(): Promise<FixRecord | undefined> | FixRecord | undefined {
    if (this.stopped) return undefined;
    const f = this.readyFixes.shift();
    if (f) return f;
    return new Promise((resolve) => this.fixWaiters.push(resolve));
  }

  private async fixLoop(): Promise<void> {
    while (!this.stopped) {
      const fix = await this.nextReadyFix();
      if (!fix) continue;
      fix.attempts++;
      const path = `/api/osmand?id=${encodeURIComponent(fix.device.identifier)}&lat=${fix.lat}&lon=${fix.lon}&timestamp=${fix.t}`;
      const a = await this.request('POST', path, undefined, 'fix');
      if (a.status === 200) {
        fix.ackedAt = performance.now();
      } else if (RETRYABLE(a.status)) {
        fix.notBefore = performance.now() + this.backoff(fix.attempts, a.retryAfter);
        this.fixRetries.push(fix);
        if (a.status <= 0) await sleep(500);
      } else {
        fix.rejected = `${a.status} ${a.body.slice(0, 200)}`;
      }
    }
  }

  private async ticketLoop(): Promise<void> {
    const { fixture, runId } = this.options;
    while (!this.stopped) {
      const now = performance.now();
      let ticket = this.takeDue(this.ticketRetries, now);
      if (!ticket && this.generating) {
        const n = this.ticketSeq++;
        const p = fixture.ticketPoints[n % fixture.ticketPoints.length]!;
        ticket = { clientId: `${runId}-${n}`, lon: p.lon, lat: p.lat, attempts: 0, created: undefined, repeated: [], done: false, rejected: undefined, notBefore: 0 };
        this.tickets.push(ticket);
      }
      if (!ticket) {
        await sleep(20);
        continue;
      }
      ticket.attempts++;
      const body = { category: fixture.category, urgency: 'scheduled', lon: ticket.lon, lat: ticket.lat, description: `故障测试 ${ticket.clientId}`, clientId: ticket.clientId };
      const a = await this.request('POST', '/api/tickets', body, 'ticket');
      if (a.status === 201 || a.status === 200) {
        const id = (JSON.parse(a.body) as { id: number }).id;
        if (a.status === 201 && !ticket.created) ticket.created = { id, at: performance.now() };
        else ticket.repeated.push({ id, at: performance.now() });
        ticket.done = true;
      } else if (a.status === 401) {
        await this.login().catch(() => undefined);
        ticket.notBefore = performance.now() + 200;
        this.ticketRetries.push(ticket);
      } else if (RETRYABLE(a.status)) {
        ticket.notBefore = performance.now() + this.backoff(ticket.attempts, a.retryAfter);
        this.ticketRetries.push(ticket);
        if (a.status <= 0) await sleep(500);
      } else {
        ticket.rejected = `${a.status} ${a.body.slice(0, 200)}`;
      }
      if (this.generating) await sleep(this.options.ticketGapMs);
    }
  }

  private request(method: string, path: string, json: unknown, kind?: Exchange['kind']): Promise<Answer> {
    const url = new URL(this.options.baseUrl);
    const start = performance.now();
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const done = (a: Answer) => {
        if (settled) return;
        settled = true;
        if (kind) this.exchanges.push({ kind, start, end: performance.now(), status: a.status, retryAfter: a.retryAfter, error: a.error });
        resolve(a);
      };
      const payload = json === undefined ? undefined : JSON.stringify(json);
      const headers: Record<string, string> = {};
      if (payload !== undefined) headers['content-type'] = 'application/json';
      if (this.token && kind === 'ticket') headers.authorization = `Bearer ${this.token}`;
      const req = http.request({ host: url.hostname, port: url.port, path, method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ra = res.headers['retry-after'];
          done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), retryAfter: Array.isArray(ra) ? ra[0] : ra, error: undefined });
        });
        res.on('error', (e) => done({ status: 0, body: '', retryAfter: undefined, error: e.message }));
      });
      const timer = setTimeout(() => {
        done({ status: -1, body: '', retryAfter: undefined, error: `no answer within ${this.timeoutMs} ms` });
        req.destroy();
      }, this.timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (e) => done({ status: 0, body: '', retryAfter: undefined, error: (e as NodeJS.ErrnoException).code ?? e.message }));
      req.end(payload);
    });
  }

  /** Status counts of the exchanges in [from, to) (by send time), e.g. { '200': 5000, '0': 12 }. */
  statusCounts(kind: Exchange['kind'], from = -Infinity, to = Infinity): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.exchanges) {
      if (e.kind !== kind || e.start < from || e.start >= to) continue;
      const key = e.status === 0 ? `conn:${e.error}` : String(e.status);
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// What the database holds

export interface StoredCheck {
  fixesSent: number;
  /** Fixes acknowledged with 200 (at any time). */
  fixesAcknowledged: number;
  /** Acknowledged, yet no row: the durability promise broken. */
  acknowledgedMissing: FixRecord[];
  /** Sent (acknowledged or not) and no row. */
  missing: FixRecord[];
  /** Rows of these workers no client sent. */
  extraRows: number;
  /** Rows beyond one per (worker, time). */
  duplicateRows: number;
  /** Workers whose worker_positions_latest is not their newest fix. */
  latestWrong: { workerId: number; stored: number | undefined; newest: number }[];
  fixesRejected: FixRecord[];
  ticketsFiled: number;
  /** Tickets answered 201. */
  ticketsCreated: number;
  /** 201 answered, yet no ticket with that id and clientId. */
  createdMissing: TicketRecord[];
  /** Rows per clientId above one. */
  duplicateTickets: { clientId: string; rows: number }[];
  /** A clientId answered with different ticket ids. */
  idMismatch: TicketRecord[];
  /** Filed and never stored at all. */
  ticketsMissing: TicketRecord[];
  ticketsRejected: TicketRecord[];
}

export async function checkStored(session: SqlSession, traffic: Traffic): Promise<StoredCheck> {
  const workerIds = [...new Set(traffic.options.fixture.devices.map((d) => d.workerId))];
  const rows = await session.query<{ w: number; t: number; n: number }>(
    `SELECT worker_id::float8 AS w, (extract(epoch FROM recorded_at) * 1000)::float8 AS t, count(*)::float8 AS n
       FROM worker_positions WHERE worker_id = ANY($1::bigint[]) GROUP BY 1, 2`,
    [workerIds],
  );
  const latestRows = await session.query<{ w: number; t: number }>(
    `SELECT worker_id::float8 AS w, (extract(epoch FROM recorded_at) * 1000)::float8 AS t
       FROM worker_positions_latest WHERE worker_id = ANY($1::bigint[])`,
    [workerIds],
  );
  const key = (w: number, t: number) => `${Math.round(w)}:${Math.round(t)}`;
  const stored = new Map<string, number>();
  let duplicateRows = 0;
  for (const r of rows) {
    stored.set(key(Number(r.w), Number(r.t)), Number(r.n));
    duplicateRows += Number(r.n) - 1;
  }
  const sentKeys = new Set<string>();
  const newest = new Map<number, number>();
  for (const f of traffic.fixes) {
    sentKeys.add(key(f.device.workerId, f.t));
    if (!f.rejected) newest.set(f.device.workerId, Math.max(newest.get(f.device.workerId) ?? 0, f.t));
  }
  const latest = new Map(latestRows.map((r) => [Math.round(Number(r.w)), Math.round(Number(r.t))]));
  const tickets = await session.query<{ id: number; client_id: string }>(
    `SELECT id::float8 AS id, client_id FROM tickets WHERE client_id LIKE $1`,
    [`${traffic.options.runId}-%`],
  );
  const byClient = new Map<string, number[]>();
  for (const t of tickets) byClient.set(t.client_id, [...(byClient.get(t.client_id) ?? []), Number(t.id)]);

  return {
    fixesSent: traffic.fixes.length,
    fixesAcknowledged: traffic.fixes.filter((f) => !Number.isNaN(f.ackedAt)).length,
    acknowledgedMissing: traffic.fixes.filter((f) => !Number.isNaN(f.ackedAt) && !stored.has(key(f.device.workerId, f.t))),
    missing: traffic.fixes.filter((f) => !f.rejected && !stored.has(key(f.device.workerId, f.t))),
    extraRows: [...stored.keys()].filter((k) => !sentKeys.has(k)).length,
    duplicateRows,
    latestWrong: [...newest].filter(([w, t]) => latest.get(w) !== t).map(([w, t]) => ({ workerId: w, stored: latest.get(w), newest: t })),
    fixesRejected: traffic.fixes.filter((f) => f.rejected),
    ticketsFiled: traffic.tickets.length,
    ticketsCreated: traffic.tickets.filter((t) => t.created).length,
    createdMissing: traffic.tickets.filter((t) => t.created && !(byClient.get(t.clientId) ?? []).includes(t.created.id)),
    duplicateTickets: [...byClient].filter(([, ids]) => ids.length > 1).map(([clientId, ids]) => ({ clientId, rows: ids.length })),
    idMismatch: traffic.tickets.filter((t) => {
      const ids = new Set([...(t.created ? [t.created.id] : []), ...t.repeated.map((r) => r.id)]);
      return ids.size > 1;
    }),
    ticketsMissing: traffic.tickets.filter((t) => !t.rejected && !byClient.has(t.clientId)),
    ticketsRejected: traffic.tickets.filter((t) => t.rejected),
  };
}

/** A short account of a check for the test log. */
export function summarise(c: StoredCheck): string {
  return [
    `fixes: ${c.fixesSent} sent, ${c.fixesAcknowledged} acknowledged, ${c.acknowledgedMissing.length} acknowledged but missing, ` +
      `${c.missing.length} missing, ${c.extraRows} extra rows, ${c.duplicateRows} duplicate rows, ${c.latestWrong.length} workers with a wrong latest, ${c.fixesRejected.length} rejected` +
      (c.fixesRejected[0] ? ` (${c.fixesRejected[0].rejected})` : ''),
    `tickets: ${c.ticketsFiled} filed, ${c.ticketsCreated} answered 201, ${c.createdMissing.length} answered 201 but missing, ` +
      `${c.duplicateTickets.length} clientIds duplicated, ${c.idMismatch.length} answered with two ids, ${c.ticketsMissing.length} never stored, ${c.ticketsRejected.length} rejected` +
      (c.ticketsRejected[0] ? ` (${c.ticketsRejected[0].rejected})` : ''),
  ].join('\n');
}
