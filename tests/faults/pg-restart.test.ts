/**
 * Hardening (issue 8): the PostgreSQL server restarts under the running Gridline server.
 *
 * Server engine only. The shared cluster is never touched: a private cluster `15/gridline_faults_<pid>`
 * is created (pg_createcluster, trust on loopback), the run's seeded template is copied into it
 * (pg_dump | pg_restore), and the real server runs as a child process on it. Under the same load as
 * the kill test (~2,000 fixes/s over OsmAnd HTTP, tickets with a clientId) the cluster is stopped
 * (`pg_ctlcluster -m fast … stop`), left down 5 s, and started again. The target behaviour:
 * - the server process stays up (same pid, no restart);
 * - while the database is down, ingest answers 503 with Retry-After, and no request hangs;
 * - it resumes by itself once the database is back;
 * - nothing acknowledged is lost, and the clients' retries store every fix and ticket exactly once.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, probe, ServerProcess, sleep } from '../support/server-process';
import { TEST_DEMO_PASSWORD, withDatabase } from '../support/template';
import { clusterUnavailable, PrivateCluster } from './cluster';
import { checkStored, prepareFixture, serverDb, summarise, Traffic, type Exchange, type FaultDb, type Fixture } from './harness';

const run = promisify(execFile);
const log = (m: string) => console.error(`[faults:pg-restart] ${m}`);

const DATABASE = 'gridline_faults_restart';
const FIX_RATE = 2_000;
const BEFORE_MS = 2_500;
const OUTAGE_MS = 5_000;
const AFTER_MS = 3_000;
/** Longer than this for one answer, while the database is down or coming back, counts as hanging. */
const HANG_MS = 10_000;
/** The server must be storing again within this long after the database is back. */
const RESUME_MS = 30_000;
const JWT_SECRET = 'faults-pg-restart-secret-0123456789abcdef';

const why = !process.env.DATABASE_URL
  ? 'DATABASE_URL is unset: the embedded engine lives inside the server process, there is no database server to restart'
  : clusterUnavailable();

describe.skipIf(why !== undefined)(`PostgreSQL restart under load${why ? ` (skipped: ${why})` : ''}`, () => {
  let cluster: PrivateCluster | undefined;
  let db: FaultDb;
  let fixture: Fixture;
  let server: ServerProcess | undefined;
  let traffic: Traffic | undefined;

  beforeAll(async () => {
    const t0 = performance.now();
    cluster = await PrivateCluster.ensure(log);
    // The run's seeded template, copied from the shared cluster into the private one.
    const template = inject('dbTemplate');
    const dir = mkdtempSync(path.join(tmpdir(), 'gridline-faults-dump-'));
    try {
      const dump = path.join(dir, 'template.dump');
      await run('pg_dump', ['-Fc', '-f', dump, '-d', withDatabase(process.env.DATABASE_URL!, template.ref)]);
      await cluster.psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
      await cluster.psql(`CREATE DATABASE ${DATABASE}`);
      await run('pg_restore', ['--no-owner', '--exit-on-error', '-d', cluster.url(DATABASE), dump]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    db = serverDb(cluster.url(DATABASE), async () => {
      await cluster!.psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    });
    const session = await db.open();
    try {
      fixture = await prepareFixture(session, 2_000);
    } finally {
      await session.close();
    }
    log(`private cluster on port ${cluster.port} with ${DATABASE} (template copy, ${fixture.devices.length} devices) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const port = await freePort();
    server = await ServerProcess.start({ port, env: { ...db.serverEnv, JWT_SECRET }, label: 'on the private cluster' });
    log(`server healthy after ${(server.readyMs / 1000).toFixed(1)} s (pid ${server.pid})`);
  });

  afterAll(async () => {
    await traffic?.stop().catch(() => undefined);
    if (server) {
      log(`server output (last lines):\n${server.output(server.alive ? 15 : 60)}`);
      await server.kill('SIGKILL').catch(() => undefined);
    }
    // Drop the whole cluster, started or not: nothing of it is left behind.
    await PrivateCluster.drop().catch((e: unknown) => log(`pg_dropcluster: ${(e as Error).message}`));
  });

  it('keeps the server up, answers 503 with Retry-After while the database is down, resumes by itself, loses nothing', async () => {
    const srv = server!;
    traffic = new Traffic({
      baseUrl: srv.baseUrl,
      fixture,
      fixRate: FIX_RATE,
      fixConcurrency: 128,
      ticketConcurrency: 2,
      ticketGapMs: 50,
      username: 'worker',
      password: TEST_DEMO_PASSWORD,
      requestTimeoutMs: 20_000,
      runId: `pgrestart-${Date.now().toString(36)}`,
    });
    await traffic.login();
    traffic.start();
    traffic.generate(true);
    await sleep(BEFORE_MS);

    const stopIssued = performance.now();
    await cluster!.stop('fast');
    const down = performance.now();
    const healthDown = await probe(`${srv.baseUrl}/api/health`, HANG_MS);
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - down)));
    const startIssued = performance.now();
    await cluster!.start();
    const up = performance.now();
    log(`cluster stopped in ${((down - stopIssued) / 1000).toFixed(1)} s, down ${((startIssued - down) / 1000).toFixed(1)} s, started in ${((up - startIssued) / 1000).toFixed(1)} s; GET /api/health while down: ${healthDown || 'no answer'}`);

    // Resumed by itself: the first fix sent after the database is back and answered 200.
    let resumedAt = NaN;
    while (performance.now() - up < RESUME_MS && srv.alive) {
      const first = traffic.exchanges.find((e) => e.kind === 'fix' && e.start >= up && e.status === 200);
      if (first) {
        resumedAt = first.end;
        break;
      }
      await sleep(100);
    }
    if (srv.alive) await sleep(AFTER_MS);
    traffic.generate(false);
    const settled = await traffic.settle(90_000, () => !srv.alive);
    // Requests still in flight when settle gave up are answered by their own timeout.
    await traffic.stop();

    const inOutage = (e: Exchange) => e.start >= down && e.start < startIssued;
    const fixesDown = traffic.exchanges.filter((e) => e.kind === 'fix' && inOutage(e));
    const ticketsDown = traffic.exchanges.filter((e) => e.kind === 'ticket' && inOutage(e));
    const around = traffic.exchanges.filter((e) => e.start >= stopIssued && e.start < up);
    const slowest = around.reduce((m, e) => Math.max(m, e.end - e.start), 0);
    const hung = around.filter((e) => e.status === -1 || e.end - e.start > HANG_MS);
    const without503 = fixesDown.filter((e) => e.status !== 503);
    const noRetryAfter = fixesDown.filter((e) => e.status === 503 && !e.retryAfter);
    log(
      `while down: fixes ${JSON.stringify(traffic.statusCounts('fix', down, startIssued))} (Retry-After on ${fixesDown.filter((e) => e.retryAfter).length}), ` +
        `tickets ${JSON.stringify(traffic.statusCounts('ticket', down, startIssued))}; slowest answer from stop to start ${(slowest / 1000).toFixed(2)} s, ${hung.length} over ${HANG_MS / 1000} s; ` +
        `resumed ${Number.isNaN(resumedAt) ? 'NOT within ' + RESUME_MS / 1000 + ' s' : `${((resumedAt - up) / 1000).toFixed(2)} s after the cluster was up`}; ` +
        `settled: ${settled} (${traffic.unacknowledgedFixes} fixes, ${traffic.unansweredTickets} tickets unanswered)`,
    );
    log(`after the start: fixes ${JSON.stringify(traffic.statusCounts('fix', up))}, tickets ${JSON.stringify(traffic.statusCounts('ticket', up))}`);

    const session = await db.open();
    let check;
    try {
      check = await checkStored(session, traffic);
    } finally {
      await session.close();
    }
    log(summarise(check));

    const exit = srv.alive ? undefined : JSON.stringify(await srv.exited);
    expect.soft(srv.alive, `the server process stays up (pid ${srv.pid}; exited ${exit}); its output:\n${srv.output(60)}`).toBe(true);
    expect.soft(fixesDown.length, 'fixes sent while the database was down').toBeGreaterThan(0);
    expect.soft(
      traffic.statusCounts('fix', down, startIssued),
      `ingest answers 503 while the database is down (e.g. ${JSON.stringify(without503[0])})`,
    ).toEqual({ 503: fixesDown.length });
    expect.soft(noRetryAfter.length, '503s without a Retry-After header').toBe(0);
    expect.soft(hung.length, `requests unanswered for more than ${HANG_MS / 1000} s around the outage (slowest ${(slowest / 1000).toFixed(1)} s)`).toBe(0);
    expect.soft(ticketsDown.filter((e) => e.status > 0 && e.status < 500).length, 'tickets answered 2xx/4xx while the database was down').toBe(0);
    expect.soft(Number.isNaN(resumedAt), `ingest stores again within ${RESUME_MS / 1000} s of the database coming back, without a restart`).toBe(false);
    expect.soft(await probe(`${srv.baseUrl}/api/health`), 'GET /api/health after the outage').toBe(200);
    expect.soft(settled, 'every fix and ticket acknowledged in the end').toBe(true);
    expect.soft(check.acknowledgedMissing.length, 'acknowledged fixes not stored').toBe(0);
    expect.soft(check.missing.length, 'fixes never stored after the retries').toBe(0);
    expect.soft(check.duplicateRows, 'fixes stored more than once').toBe(0);
    expect.soft(check.extraRows, 'rows no device sent').toBe(0);
    expect.soft(check.latestWrong.slice(0, 3), 'workers whose latest position is not their newest fix').toEqual([]);
    expect.soft(check.fixesRejected.map((f) => f.rejected).slice(0, 3), 'fixes refused with a 4xx').toEqual([]);
    expect.soft(check.createdMissing.map((t) => t.clientId), 'tickets answered 201 but not stored').toEqual([]);
    expect.soft(check.duplicateTickets, 'clientIds with more than one ticket').toEqual([]);
    expect.soft(check.idMismatch.map((t) => t.clientId), 'clientIds answered with two different tickets').toEqual([]);
    expect.soft(check.ticketsMissing.map((t) => t.clientId), 'tickets never stored after the retries').toEqual([]);
    expect.soft(check.ticketsRejected.map((t) => t.rejected), 'tickets refused with a 4xx').toEqual([]);
  });
});
