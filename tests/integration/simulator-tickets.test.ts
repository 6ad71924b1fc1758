import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { Simulator } from '../../server/modules/simulator/simulator';
import { TicketSimulator } from '../../server/modules/simulator/tickets';
import { SIMULATED_ACCOUNT_HASH } from '../../server/modules/simulator/repository';
import { meanTicketsPerHour } from '../../server/modules/simulator/ticket-model';
import type { DispatchCandidate, TicketDetail, TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };

const S = 1000;
const GRACE_S = 30;
// 10:00 in Shanghai on a Monday: the day shift is out, filing is near its morning peak.
const clock = new ManualClock(Date.parse('2026-11-23T02:00:00Z'));
let db: Db;
let app: App;
let dataDir: string;
let patrol: Simulator;
let sim: TicketSimulator;
let as: Record<'operator' | 'dispatcher', Headers>;

/** The first 120 field workers: a few communities of 柳巷街道, the demo worker among them. */
const LIMIT = 120;

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-simtickets-'));
  app = await buildTestApp(db, { clock, config: { dataDir, tickMs: 50 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  // The test moves the clock and runs the server's sweeps itself at each step, as their timers would.
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop();
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  patrol = new Simulator(db, app.ingest, clock, { baseUrl, intervalS: 1, limit: LIMIT });
  await patrol.load();
  sim = new TicketSimulator(db, clock, patrol, {
    baseUrl,
    sign: (user) => app.issueToken(user),
    rate: 0,
    deskGraceS: GRACE_S,
    offerTimeoutS: app.config.dispatchOfferTimeoutS,
    // People's delays shrink twentyfold (an hour's work in three minutes); the desk's grace does not.
    delayScale: 0.05,
    // Server deadlines do not shrink: a planned overrun would wait days of test time.
    behaviour: { overrun: 0 },
    seed: 'simulator-tickets-test',
  });
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher') };
}, 180_000);

afterAll(async () => {
  await sim?.stop();
  patrol?.stop();
  await app?.close();
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Moves the clock, lets every on-duty worker report (fresh positions), runs the server's offer and
 * deadline sweeps, then the ticket simulation.
 */
async function step(ms: number): Promise<void> {
  clock.advance(ms);
  patrol.tick();
  for (let i = 0; i < 400 && patrol.backlog > 0; i++) await new Promise((r) => setTimeout(r, 10));
  await app.dispatchOffers.sweep();
  await app.ticketDeadlines.sweep();
  await sim.tick();
  await sim.settle(120);
}

interface OwnTicket {
  id: number;
  status: string;
  source: string;
  gridCode: string;
  clientId: string | null;
  category: string;
  cls: string;
  reporter: string;
  reporterWorker: number | null;
  homeGrid: string | null;
  assigned: number | null;
}

async function ownTickets(): Promise<OwnTicket[]> {
  const { rows } = await db.query<OwnTicket>(sql`
    SELECT t.id, t.status, t.source, t.grid_code AS "gridCode", t.client_id AS "clientId", t.category_code AS category,
           coalesce(c.parent_code, c.code) AS cls, u.username AS reporter, u.worker_id AS "reporterWorker",
           w.home_grid_code AS "homeGrid", t.assigned_worker_id AS assigned
      FROM tickets t JOIN users u ON u.id = t.reporter_user_id
      JOIN ticket_categories c ON c.code = t.category_code
      LEFT JOIN workers w ON w.id = u.worker_id
     WHERE u.password_hash = ${SIMULATED_ACCOUNT_HASH}
     ORDER BY t.id`);
  return rows;
}

interface TimelineEntry {
  ticketId: number;
  kind: string;
  at: Date;
  username: string | null;
  role: string | null;
  actorWorker: number | null;
  detail: { worker?: { id: number } } | null;
}

async function timelines(ids: number[]): Promise<Map<number, TimelineEntry[]>> {
  const { rows } = await db.query<TimelineEntry>(sql`
    SELECT e.ticket_id AS "ticketId", e.kind, e.at, u.username, u.role, u.worker_id AS "actorWorker", e.detail
      FROM ticket_events e LEFT JOIN users u ON u.id = e.actor_user_id
     WHERE e.ticket_id IN (SELECT (json_array_elements_text(${JSON.stringify(ids)}::json))::bigint)
     ORDER BY e.ticket_id, e.id`);
  const out = new Map<number, TimelineEntry[]>();
  for (const r of rows) out.set(r.ticketId, [...(out.get(r.ticketId) ?? []), r]);
  return out;
}

const status = async (id: number): Promise<string> =>
  ((await app.inject({ url: `/api/tickets/${id}`, headers: as.operator })).json() as TicketDetail).status;

const post = async (headers: Headers, url: string, payload: Record<string, unknown>) => {
  const res = await app.inject({ method: 'POST', url, headers, payload });
  expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
  return res.json() as TicketDetail;
};

describe('simulated tickets', () => {
  let humanFiled: TicketSummary;
  let humanDispatched: TicketSummary;
  let dispatchedTo: DispatchCandidate;

  it('gives simulated workers and desks accounts nobody can sign in to, scoped like real ones', async () => {
    const n = await sim.load();
    // The demo worker is among the first 120 but has a person's account: the simulator only walks them.
    expect(n).toBe(LIMIT - 1);
    const { rows } = await db.query<{ username: string; role: string; region: string; level: string; workerId: number | null; home: string | null }>(sql`
      SELECT u.username, u.role, u.region_code AS region, r.level, u.worker_id AS "workerId", w.home_grid_code AS home
        FROM users u JOIN regions r ON r.code = u.region_code LEFT JOIN workers w ON w.id = u.worker_id
       WHERE u.password_hash = ${SIMULATED_ACCOUNT_HASH} AND u.active`);
    const workers = rows.filter((r) => r.workerId !== null);
    expect(workers).toHaveLength(LIMIT - 1);
    for (const w of workers) {
      expect(w.role).toBe('worker');
      expect(w.region).toBe(w.home); // a simulated worker's jurisdiction is their own grid
    }
    const { rows: demo } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM users s JOIN users d ON d.worker_id = s.worker_id
       WHERE d.username = 'worker' AND s.password_hash = ${SIMULATED_ACCOUNT_HASH} AND s.active`);
    expect(Number(demo[0]!.n)).toBe(0);
    const desks = rows.filter((r) => r.workerId === null);
    // A dispatcher desk for each street the simulated workers patrol, an operator at the district centre.
    const streets = new Set(patrol.fieldWorkers.map((w) => w.info.gridPath.split('/')[2]));
    expect(desks.filter((d) => d.role === 'dispatcher' && d.level === 'street').map((d) => d.region).sort()).toEqual([...streets].sort());
    expect(desks.filter((d) => d.role !== 'dispatcher').map((d) => `${d.role}@${d.level}`)).toEqual(['operator@district']);

    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: workers[0]!.username, password: SIMULATED_ACCOUNT_HASH } });
    expect(login.statusCode).toBe(401);

    await sim.connect();
    await step(S); // positions, and the first tick sets the filing clock
  });

  it('files tickets at the scaled rhythm through the API, where the simulated workers patrol', async () => {
    const grids = new Set(patrol.fieldWorkers.map((w) => w.info.gridCode));
    // About 20 tickets in 10 minutes of the 10 o'clock peak (the mix over a large sample is a unit test's).
    const perHourAtOne = meanTicketsPerHour(grids.size) * 2.44;
    sim.setRate(120 / perHourAtOne);
    for (let i = 0; i < 10; i++) await step(60 * S);
    sim.setRate(0);

    const own = await ownTickets();
    expect(own.length).toBeGreaterThan(8);
    expect(own.length).toBeLessThan(40);
    expect(sim.stats.filed).toBe(own.length);
    expect(new Set(own.map((t) => t.clientId)).size).toBe(own.length);
    expect(own.every((t) => t.clientId?.startsWith('sim-'))).toBe(true);
    for (const t of own) {
      expect(grids, `ticket ${t.id} lies in a simulated grid`).toContain(t.gridCode);
      if (t.source === 'patrol') {
        expect(t.reporterWorker).not.toBeNull();
        expect(t.gridCode, `patrol report ${t.id} is in the reporter's own grid`).toBe(t.homeGrid);
      } else {
        expect(['hotline', 'resident']).toContain(t.source);
        expect(t.reporter).toMatch(/^sim-desk-/);
      }
    }
    expect(own.filter((t) => t.source === 'patrol').length).toBeGreaterThan(own.length / 3);
    expect(new Set(own.map((t) => t.cls)).size).toBeGreaterThanOrEqual(2);
    expect(own.some((t) => t.cls === 'convenience' || t.cls === 'safety')).toBe(true);
    expect(own.every((t) => t.category.includes('.'))).toBe(true); // a sub-category, not just the class
  });

  it('leaves tickets filed by people to people, while simulated workers answer a person’s dispatch', async () => {
    const worker = patrol.fieldWorkers.find((w) => w.patrol.onDuty(clock.now()))!;
    const file = async (description: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.operator,
        payload: { category: 'convenience.municipal', urgency: 'scheduled', lon: worker.patrol.lon, lat: worker.patrol.lat, description } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as TicketSummary;
    };
    humanFiled = await file('居民来电：路灯不亮（人工受理）');
    humanDispatched = await file('居民来电：井盖松动（人工派单）');
    await post(as.dispatcher, `/api/tickets/${humanDispatched.id}/transitions`, { action: 'register' });
    const res = await app.inject({ url: `/api/tickets/${humanDispatched.id}/candidates?limit=10`, headers: as.dispatcher });
    const list = res.json() as DispatchCandidate[];
    const simulated = new Set(patrol.fieldWorkers.map((w) => w.info.id));
    const { rows: demo } = await db.query<{ workerId: number }>(sql`SELECT worker_id AS "workerId" FROM users WHERE username = 'worker'`);
    dispatchedTo = list.find((c) => simulated.has(c.workerId) && c.workerId !== demo[0]!.workerId)!;
    expect(dispatchedTo).toBeDefined();
    await post(as.dispatcher, `/api/tickets/${humanDispatched.id}/transitions`, { action: 'dispatch', workerId: dispatchedTo.workerId });
    await sim.settle(120);
  });

  it('moves its own tickets through the whole workflow: desks after their grace, workers on their offers', async () => {
    for (let i = 0; i < 45; i++) {
      await step(60 * S);
      const all = await ownTickets();
      const open = all.filter((t) => !['closed', 'cancelled'].includes(t.status)).length;
      // Long-term work can take a while even twentyfold faster; most of it is enough.
      if (open === 0 || (open <= all.length * 0.1 && (await status(humanDispatched.id)) === 'resolved')) break;
    }
    const own = await ownTickets();
    const finished = own.filter((t) => t.status === 'closed' || t.status === 'cancelled');
    expect(finished.length / own.length).toBeGreaterThan(0.8);
    expect(own.filter((t) => t.status === 'closed').length).toBeGreaterThan(own.length / 2);
    expect(sim.stats.failed).toBe(0);

    const lines = await timelines(own.map((t) => t.id));
    const byId = new Map(own.map((t) => [t.id, t]));
    for (const [id, line] of lines) {
      const t = byId.get(id)!;
      const at = (kind: string) => line.find((e) => e.kind === kind)?.at.getTime();
      const created = at('created')!;
      if (t.status === 'closed') {
        const kinds = line.map((e) => e.kind);
        for (const k of ['registered', 'dispatched', 'accepted', 'started', 'resolved', 'verified', 'closed']) expect(kinds, `ticket ${id}`).toContain(k);
        // The desk waited its grace before each of its steps, so a person could act first.
        expect(at('registered')! - created).toBeGreaterThanOrEqual(GRACE_S * S);
        expect(at('dispatched')! - at('registered')!).toBeGreaterThanOrEqual(GRACE_S * S);
        expect(at('verified')! - at('resolved')!).toBeGreaterThanOrEqual(GRACE_S * S);
        for (const e of line) {
          if (['registered', 'dispatched', 'verified', 'closed', 'rework', 'cancelled', 'not_registered'].includes(e.kind)) {
            expect(e.username, `${e.kind} of ${id} by a simulated desk`).toMatch(/^sim-desk-/);
          }
          if (['accepted', 'started', 'resolved'].includes(e.kind)) {
            // The worker who holds it acts with their own account.
            expect(e.role).toBe('worker');
            expect(e.username).toMatch(/^sim-/);
            expect(e.actorWorker).toBe(t.assigned);
          }
          if (e.kind === 'declined') expect(e.role).toBe('worker');
        }
      }
    }
    const actions = sim.stats.actions;
    expect(actions.register! + (actions.cancel ?? 0)).toBe(own.length);
    expect(actions.accept).toBeGreaterThan(0);
    expect(actions.start).toBeGreaterThan(0);
    expect(actions.resolve).toBeGreaterThan(0);
    expect(actions.close).toBeGreaterThan(0);
  });

  it('never touched the tickets people filed, and the simulated worker did their part of a person’s dispatch', async () => {
    const lines = await timelines([humanFiled.id, humanDispatched.id]);
    expect(lines.get(humanFiled.id)!.map((e) => e.kind)).toEqual(['created']);
    const line = lines.get(humanDispatched.id)!;
    const kinds = line.map((e) => e.kind);
    expect(kinds.slice(0, 3)).toEqual(['created', 'registered', 'dispatched']);
    expect(line[2]!.detail?.worker?.id).toBe(dispatchedTo.workerId);
    // The worker offered it may have declined or let it time out; whoever took it did the work.
    expect(kinds.slice(-3)).toEqual(['accepted', 'started', 'resolved']);
    const res = await app.inject({ url: `/api/tickets/${humanDispatched.id}`, headers: as.operator });
    const detail = res.json() as TicketDetail;
    for (const e of line.slice(-3)) expect(e.actorWorker).toBe(detail.assignedWorker!.id);
    expect(kinds.filter((k) => !['created', 'registered', 'dispatched', 'reassigned', 'declined', 'accepted', 'started', 'resolved'].includes(k))).toEqual([]);
    // Verifying and closing a person's ticket is left to people.
    expect(detail.status).toBe('resolved');
  });
});
