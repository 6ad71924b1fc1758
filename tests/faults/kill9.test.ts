/**
 * Hardening (issue 8): the server process dies by `kill -9` in the middle of ingest and filing.
 *
 * The real server runs as a child (`node --import tsx server/main.ts`) on a copy of the seeded
 * template, on the engine of the run: a database beside DATABASE_URL's, or an embedded PGlite data
 * directory when DATABASE_URL is unset. 2,000 phones send fixes over OsmAnd HTTP (~2,000/s) while
 * two apps file tickets with a clientId. After ~3 s (longer, up to 10 s, until 1,000 fixes are
 * acknowledged) the server is SIGKILLed and started again on the same database; the phones and apps
 * resend everything they got no answer for. On PGlite, a copy of the data directory as the killed
 * process left it is first opened on its own (tests/faults/pglite-crash-image.ts): PostgreSQL must
 * report a crash recovery (WAL replay) and hold every acknowledgement before any retry. Then:
 * - every fix acknowledged with 200 before the kill is a row of worker_positions (same worker, same
 *   time), and every ticket answered 201 exists;
 * - after the retries every fix is stored exactly once, worker_positions_latest holds each worker's
 *   newest fix, and no clientId has two tickets.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, ServerProcess, sleep } from '../support/server-process';
import { TEST_DEMO_PASSWORD } from '../support/template';
import { checkStored, copyTemplate, inspectCrashImage, prepareFixture, summarise, Traffic, type FaultDb, type Fixture } from './harness';

const template = inject('dbTemplate');
const engine = template.engine;
const log = (m: string) => console.error(`[faults:kill9:${engine}] ${m}`);

const DEVICES = 2_000;
const FIX_RATE = 2_000;
const LOAD_MS = 3_000;
/** Acknowledged fixes wanted before the kill (the load goes on past LOAD_MS until there are). */
const MIN_ACKED = 1_000;
/** Fixed, so tokens issued before the kill still verify after it. */
const JWT_SECRET = 'faults-kill9-secret-0123456789abcdef';

let db: FaultDb | undefined;
let fixture: Fixture;
let port: number;
const servers: ServerProcess[] = [];
let traffic: Traffic | undefined;

async function startServer(label: string): Promise<ServerProcess> {
  const server = await ServerProcess.start({ port, env: { ...db!.serverEnv, JWT_SECRET }, label, readyTimeoutMs: 180_000 });
  servers.push(server);
  log(`${label}: healthy after ${(server.readyMs / 1000).toFixed(1)} s (pid ${server.pid})`);
  return server;
}

beforeAll(async () => {
  const t0 = performance.now();
  db = await copyTemplate(template);
  const session = await db.open();
  try {
    fixture = await prepareFixture(session, DEVICES);
  } finally {
    await session.close();
  }
  port = await freePort();
  log(`database ${db.describe} ready with ${fixture.devices.length} devices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await traffic?.stop().catch(() => undefined);
  for (const s of servers) await s.kill('SIGKILL').catch(() => undefined);
  await db?.dispose().catch((e: unknown) => log(`dispose: ${(e as Error).message}`));
});

describe(`kill -9 of the server under load (${engine})`, () => {
  it('loses no acknowledged fix or ticket, and the retries store everything exactly once', async () => {
    const first = await startServer('first start');
    traffic = new Traffic({
      baseUrl: first.baseUrl,
      fixture,
      fixRate: FIX_RATE,
      fixConcurrency: 128,
      ticketConcurrency: 2,
      ticketGapMs: 50,
      username: 'worker',
      password: TEST_DEMO_PASSWORD,
      runId: `kill9-${Date.now().toString(36)}`,
    });
    await traffic.login();
    traffic.start();
    traffic.generate(true);
    const loadStart = performance.now();
    await sleep(LOAD_MS);
    // On a busy machine (PGlite, shared cores) 3 s may acknowledge little: go on until there is
    // something worth losing, 10 s at most.
    const acked = () => traffic!.fixes.filter((f) => !Number.isNaN(f.ackedAt)).length;
    const created = () => traffic!.tickets.filter((t) => t.created).length;
    while ((acked() < MIN_ACKED || created() < 5) && performance.now() - loadStart < 10_000) await sleep(100);

    // The kill: no drain, no close. Whatever was in flight is lost to the clients.
    const killedAt = performance.now();
    const { signal } = await first.kill('SIGKILL');
    traffic.generate(false);
    expect(signal).toBe('SIGKILL');
    const ackedBeforeKill = traffic.fixes.filter((f) => f.ackedAt <= killedAt);
    const createdBeforeKill = traffic.tickets.filter((t) => t.created && t.created.at <= killedAt);
    const loadS = (killedAt - loadStart) / 1000;
    log(
      `killed after ${loadS.toFixed(1)} s of load: ${traffic.fixes.length} fixes sent (${(traffic.fixes.length / loadS).toFixed(0)}/s), ` +
        `${ackedBeforeKill.length} acknowledged (${(ackedBeforeKill.length / loadS).toFixed(0)}/s); ${traffic.tickets.length} tickets filed, ${createdBeforeKill.length} answered 201; ` +
        `answers so far: ${JSON.stringify(traffic.statusCounts('fix'))}`,
    );
    expect(ackedBeforeKill.length, 'fixes acknowledged before the kill').toBeGreaterThan(100);
    expect(createdBeforeKill.length, 'tickets answered 201 before the kill').toBeGreaterThan(0);

    // PGlite: is the directory a SIGKILLed process leaves crash-safe? Open a copy of it as it is
    // now, before any retry, and look for every acknowledgement in it.
    if (db!.engine === 'pglite') {
      const image = await inspectCrashImage(db!.dataDir!, traffic.options.runId, fixture.devices.map((d) => d.workerId));
      const notInImage = ackedBeforeKill.filter((f) => !image.positions.has(`${f.device.workerId}:${f.t}`));
      const ticketsNotInImage = createdBeforeKill.filter((t) => image.tickets.get(t.clientId) !== t.created!.id);
      log(
        `crash image (a copy of the data directory as the killed process left it, opened in ${(image.openMs / 1000).toFixed(1)} s): ` +
          `${image.positions.size} position rows, ${image.tickets.size} tickets; ${notInImage.length} of ${ackedBeforeKill.length} acknowledged fixes and ` +
          `${ticketsNotInImage.length} of ${createdBeforeKill.length} created tickets missing; PostgreSQL said: ${image.recovery.join(' | ') || '(nothing about recovery)'}`,
      );
      expect.soft(image.recovery.some((l) => /not properly shut down/.test(l)), 'PGlite replayed its WAL after the kill').toBe(true);
      expect.soft(notInImage.length, 'acknowledged fixes missing from the crash image').toBe(0);
      expect.soft(ticketsNotInImage.map((t) => t.clientId), 'tickets answered 201 missing from the crash image').toEqual([]);
    }

    // Same database, same port: the phones keep the address they had.
    const restartStarted = performance.now();
    const second = await startServer('restart after kill -9');
    const settled = await traffic.settle(120_000, () => !second.alive);
    log(
      `after the restart (${((performance.now() - restartStarted) / 1000).toFixed(1)} s to settle): ${traffic.unacknowledgedFixes} fixes and ${traffic.unansweredTickets} tickets unanswered; ` +
        `answers after the kill: fixes ${JSON.stringify(traffic.statusCounts('fix', killedAt))}, tickets ${JSON.stringify(traffic.statusCounts('ticket', killedAt))}`,
    );
    await traffic.stop();
    expect(settled, 'every fix and ticket acknowledged after the restart').toBe(true);

    // PGlite is one process: stop the server (cleanly this time) before reading its directory.
    let session;
    if (db!.engine === 'pglite') {
      await servers.at(-1)!.stop();
      session = await db!.open();
    } else {
      session = await db!.open();
    }
    try {
      const check = await checkStored(session, traffic);
      log(summarise(check));
      const lostBeforeKill = check.acknowledgedMissing.filter((f) => f.ackedAt <= killedAt);
      expect.soft(lostBeforeKill.length, `fixes acknowledged before the kill but not stored (e.g. ${JSON.stringify(lostBeforeKill[0] && { worker: lostBeforeKill[0].device.workerId, t: lostBeforeKill[0].t })})`).toBe(0);
      expect.soft(check.acknowledgedMissing.length, 'acknowledged fixes not stored').toBe(0);
      expect.soft(check.missing.length, 'fixes never stored after the retries').toBe(0);
      expect.soft(check.duplicateRows, 'fixes stored more than once').toBe(0);
      expect.soft(check.extraRows, 'rows no device sent').toBe(0);
      expect.soft(check.latestWrong.slice(0, 3), 'workers whose latest position is not their newest fix').toEqual([]);
      expect.soft(check.fixesRejected.length, 'fixes refused with a 4xx').toBe(0);
      expect.soft(check.createdMissing.map((t) => t.clientId), 'tickets answered 201 but not stored').toEqual([]);
      expect.soft(check.duplicateTickets, 'clientIds with more than one ticket').toEqual([]);
      expect.soft(check.idMismatch.map((t) => t.clientId), 'clientIds answered with two different tickets').toEqual([]);
      expect.soft(check.ticketsMissing.map((t) => t.clientId), 'tickets never stored after the retries').toEqual([]);
      expect.soft(check.ticketsRejected.map((t) => t.rejected), 'tickets refused with a 4xx').toEqual([]);
    } finally {
      await session.close();
    }
  });
});
