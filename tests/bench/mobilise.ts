/**
 * Mobilisation benchmark (issue 12): a district leader declares an emergency over the whole of
 * Yingze, which calls up its 7,247 party members and 3,605 grid workers — one call-up row and one
 * notice receipt each, written in one transaction — and pushes the call-up notice to every called
 * person's phone. Then every party member acknowledges (收到) through the real API, each a
 * transaction on the call-up, the grid's running count and the notice receipt, and the district's
 * desk watches the counts rise over its socket.
 *
 * Target: mobilising 7,247 party members (notice fan-out and receipts) in ≤ 2 s. Measured twice:
 * with the acknowledgements over HTTP from this process (throughput and latency at N in flight),
 * and — a second emergency — with all 7,247 arriving at the service at once, as the route hands
 * them on, which is what the server itself needs to record them (they are gathered into
 * statements of up to 500).
 *
 * The real app from `build()` on a scratch database (DATABASE_URL's server, else the local one;
 * `--pglite` for the embedded engine), seeded with Yingze without ticket history, dropped at the end
 * (also on SIGTERM from `npm run bench`). Phones are socket.io clients in this process, so the
 * figures include their cost too.
 *
 *   node --import tsx tests/bench/mobilise.ts [--pglite] [--phones=N] [--concurrency=N]
 */
import { io as connect, type Socket } from 'socket.io-client';
import { sql } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { migrate } from '../../server/platform/db/migrate';
import { seedRegion } from '../../seeds/seed';
import { ensureSimulatedAccounts } from '../../server/modules/simulator/repository';
import { Scope } from '../../server/platform/auth/scope';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { DeclaredEmergency, EmergencyGridRow } from '@shared/emergencies-api';
import { BENCH_DEMO_PASSWORD, openScratchDb } from './lib/scratch-db';
import { fmt, machineInfo, printReport } from './lib/report';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const flags = process.argv.slice(2);
const ENGINE = flags.includes('--pglite') ? 'pglite' : 'postgres';
const PHONES = Number(flags.find((f) => f.startsWith('--phones='))?.split('=')[1] ?? 1000);
const CONCURRENCY = Number(flags.find((f) => f.startsWith('--concurrency='))?.split('=')[1] ?? 64);
const TARGET_MS = 2000;
const PARTY_MEMBERS = 7247;

const log = (m: string) => console.error(`[mobilise] ${m}`);

function pct(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const cleanups: (() => Promise<void> | void)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length > 0) await Promise.resolve(cleanups.pop()!()).catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
}

async function main(): Promise<void> {
  const started = Date.now();
  const scratch = await openScratchDb(ENGINE, log);
  cleanups.push(() => scratch.close());
  const watchdog = setTimeout(() => {
    log('watchdog: out of time');
    void cleanup().finally(() => process.exit(2));
  }, 9 * 60_000);
  try {
    await migrate(scratch.db);
    await seedRegion(scratch.db, 'yingze', { demo: true, demoPassword: BENCH_DEMO_PASSWORD, history: false });
    await scratch.db.exec('ANALYZE');
    const config = { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, simulate: false, serveClient: false, osmandPort: 0 };
    const app: App = await build({ db: scratch.db, config });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const login = async (username: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: BENCH_DEMO_PASSWORD } });
      if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode}`);
      return (res.json() as { token: string }).token;
    };
    const leader = await login('leader');
    const operator = await login('operator');
    const { rows: [district] } = await scratch.db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'district'`);
    // Every party member and worker gets a phone account (the simulator's kind: only the server's signer acts as them).
    const { rows: party } = await scratch.db.query<{ id: number }>(sql`SELECT id FROM workers WHERE role = 'party_member' ORDER BY id`);
    const { rows: force } = await scratch.db.query<{ id: number }>(sql`SELECT id FROM workers WHERE active ORDER BY id`);
    const accounts = await ensureSimulatedAccounts(scratch.db, [...party, ...force].map((r) => r.id), []);
    const partyIds = new Set(party.map((r) => r.id));
    const partyAccounts = accounts.filter((a) => a.workerId !== null && partyIds.has(a.workerId));
    log(`${party.length} party members, ${force.length} workers; ${partyAccounts.length} party phone accounts`);

    // The district desk and PHONES party members' phones listening.
    const sockets: Client[] = [];
    cleanups.push(() => sockets.forEach((s) => s.disconnect()));
    const open = (token: string) => new Promise<Client>((resolve, reject) => {
      const s: Client = connect(baseUrl, { auth: { token }, transports: ['websocket'], forceNew: true });
      sockets.push(s);
      s.once('session.ready', () => resolve(s));
      s.once('connect_error', reject);
    });
    const desk = await open(operator);
    const grids = new Map<string, EmergencyGridRow>();
    let declaredAt = 0;
    let deskDeclaredMs = NaN;
    desk.once('emergency.declared', () => (deskDeclaredMs = performance.now() - declaredAt));
    desk.on('emergency.mobilisation', (m) => m.grids.forEach((g) => grids.set(g.code, g)));
    const phoneAccounts = partyAccounts.slice(0, PHONES);
    const phones = await Promise.all(phoneAccounts.map((a) => open(app.issueToken(a).token)));
    const phoneGot: number[] = [];
    for (const p of phones) p.once('notice.published', () => phoneGot.push(performance.now() - declaredAt));
    log(`${phones.length} phones and 1 desk connected`);

    // 1. Declare: the fan-out.
    declaredAt = performance.now();
    const res = await fetch(`${baseUrl}/api/emergencies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${leader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'flood', level: 1, area: { regionCodes: [district!.code] }, note: '全区防汛 I 级应急响应（压测）' }),
    });
    const declareMs = performance.now() - declaredAt;
    if (res.status !== 201) throw new Error(`declare: ${res.status} ${await res.text()}`);
    const e = (await res.json()) as DeclaredEmergency;
    const deadline = Date.now() + 30_000;
    while (phoneGot.length < phones.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const phonesMs = Math.max(...phoneGot);
    const { rows: [written] } = await scratch.db.query<{ callups: number; receipts: number; party: number }>(sql`
      SELECT (SELECT count(*)::int FROM emergency_callups WHERE emergency_id = ${e.id}) AS callups,
             (SELECT count(*)::int FROM notice_receipts WHERE notice_id = ${e.noticeId}) AS receipts,
             (SELECT count(*)::int FROM emergency_callups WHERE emergency_id = ${e.id} AND party) AS party`);
    log(`declared: ${e.mobilisation.called} called (${written!.party} party members) in ${fmt(declareMs)} ms; ` +
      `desk heard it at ${fmt(deskDeclaredMs)} ms; ${phoneGot.length}/${phones.length} phones had the notice by ${fmt(phonesMs)} ms`);

    // 2. Receipts: every party member acknowledges through the API.
    const tokens = new Map(partyAccounts.map((a) => [a.id, app.issueToken(a).token]));
    const latencies: number[] = [];
    let failures = 0;
    let next = 0;
    const ackStarted = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < partyAccounts.length) {
        const a = partyAccounts[next++]!;
        const t = performance.now();
        const r = await fetch(`${baseUrl}/api/emergencies/${e.id}/acknowledge`, { method: 'POST', headers: { authorization: `Bearer ${tokens.get(a.id)!}` } });
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
        if (r.status !== 200) failures++;
      }
    }));
    const ackMs = performance.now() - ackStarted;
    const sum = () => [...grids.values()].reduce((s, g) => s + g.acknowledged, 0);
    const until = Date.now() + 10_000;
    while (sum() < partyAccounts.length && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    const deskCountsMs = performance.now() - ackStarted;
    latencies.sort((a, b) => a - b);
    const { rows: [read] } = await scratch.db.query<{ read: number }>(sql`SELECT read_count AS read FROM notices WHERE id = ${e.noticeId}`);
    log(`${partyAccounts.length} acknowledgements in ${fmt(ackMs)} ms (${fmt(partyAccounts.length / (ackMs / 1000))}/s at ${CONCURRENCY} in flight; ` +
      `p50 ${fmt(pct(latencies, 0.5))} ms, p99 ${fmt(pct(latencies, 0.99))} ms, ${failures} failed); the desk's counts showed all at ${fmt(deskCountsMs)} ms; notice read ${read!.read}`);

    // 3. The same again, with the acknowledgements arriving all at once at the service (as the route
    // hands them on, without HTTP in this process): what the server needs to record 7,247 receipts.
    const closed = await fetch(`${baseUrl}/api/emergencies/${e.id}/close`, { method: 'POST', headers: { authorization: `Bearer ${leader}` } });
    if (closed.status !== 200) throw new Error(`close: ${closed.status}`);
    const t2 = performance.now();
    const res2 = await fetch(`${baseUrl}/api/emergencies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${leader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'flood', level: 1, area: { regionCodes: [district!.code] }, note: '第二轮（压测）' }),
    });
    const declare2Ms = performance.now() - t2;
    if (res2.status !== 201) throw new Error(`declare again: ${res2.status}`);
    const e2 = (await res2.json()) as DeclaredEmergency;
    const t3 = performance.now();
    const burst = await Promise.allSettled(partyAccounts.map((a) => app.emergencies.acknowledge(
      { userId: a.id, username: a.username, role: 'worker', workerId: a.workerId, scope: Scope.of(a.regionCode, a.regionPath) }, e2.id)));
    const burstMs = performance.now() - t3;
    const burstFailed = burst.filter((b) => b.status === 'rejected').length;
    const firstFailure = burst.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (firstFailure) log(`an acknowledgement failed: ${(firstFailure.reason as Error).message}`);
    const { rows: [acked2] } = await scratch.db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM emergency_callups WHERE emergency_id = ${e2.id} AND acknowledged_at IS NOT NULL`);
    log(`second round: declared in ${fmt(declare2Ms)} ms; ${fmt(acked2!.n)} acknowledgements arriving at once recorded in ${fmt(burstMs)} ms (${burstFailed} failed)`);

    const mobiliseMs = declare2Ms + burstMs;
    printReport({
      bench: `Mobilising Yingze's ${fmt(PARTY_MEMBERS)} party members (${ENGINE})`,
      machine: machineInfo(),
      headlines: [
        { metric: `declare → ${fmt(e.mobilisation.called)} call-ups + notice receipts written (fan-out, one transaction)`, value: `${fmt(declareMs)} ms`, target: `≤ ${fmt(TARGET_MS)} ms`, pass: declareMs <= TARGET_MS },
        { metric: `declare → call-up notice on the last of ${phones.length} phones`, value: `${fmt(phonesMs)} ms`, target: `≤ ${fmt(TARGET_MS)} ms`, pass: phonesMs <= TARGET_MS },
        { metric: `${fmt(partyAccounts.length)} acknowledgements (收到) through the API`, value: `${fmt(ackMs)} ms (${fmt(partyAccounts.length / (ackMs / 1000))}/s)` },
        { metric: `declare + ${fmt(PARTY_MEMBERS)} acknowledgements arriving at once, all recorded (fan-out and receipts, server side)`, value: `${fmt(mobiliseMs)} ms`, target: `≤ ${fmt(TARGET_MS)} ms`, pass: mobiliseMs <= TARGET_MS },
      ],
      tables: [{
        title: 'Figures',
        headers: ['measure', 'value'],
        rows: [
          ['called / of them party members', `${fmt(e.mobilisation.called)} / ${fmt(written!.party)}`],
          ['call-up rows / notice receipts written', `${fmt(written!.callups)} / ${fmt(written!.receipts)}`],
          ['POST /api/emergencies (district-wide)', `${fmt(declareMs)} ms`],
          ['emergency.declared on the district desk', `${fmt(deskDeclaredMs)} ms`],
          [`notice.published on ${phones.length} phones (last)`, `${fmt(phonesMs)} ms`],
          [`acknowledge p50 / p99 (${CONCURRENCY} in flight)`, `${fmt(pct(latencies, 0.5))} / ${fmt(pct(latencies, 0.99))} ms`],
          ['all acknowledgements', `${fmt(ackMs)} ms, ${failures} failed`],
          ['desk counts complete (coalesced emergency.mobilisation)', `${fmt(deskCountsMs)} ms after the first acknowledgement`],
          ['call-up notice read count', fmt(read!.read)],
          ['second round: declare / 7,247 acknowledgements at once (batched statements)', `${fmt(declare2Ms)} / ${fmt(burstMs)} ms`],
        ],
        note: `${new Date().toISOString().slice(0, 10)}; ${machineInfo().cpu}; ${machineInfo().cores} cores; PostgreSQL ${scratch.versions.postgres}; the run took ${fmt((Date.now() - started) / 1000)} s`,
      }],
    });
    if (failures > 0 || burstFailed > 0 || acked2!.n !== PARTY_MEMBERS || written!.party !== PARTY_MEMBERS || written!.receipts !== e.mobilisation.called || sum() !== partyAccounts.length) process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));
void main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error);
    void cleanup().finally(() => process.exit(1));
  },
);
