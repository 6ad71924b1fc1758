import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { TicketList, TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login, token } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };
interface Place { code: string; lon: number; lat: number }

const clock = new ManualClock(Date.parse('2026-11-22T02:00:00Z'));
let db: Db;
let app: App;
let base: string;
let dataDir: string;
const sockets: Client[] = [];
let as: Record<'operator' | 'dispatcher' | 'worker', Headers>;
/** The demo worker's grid (柳巷), another 柳巷 grid, and a grid of another street. */
let home: Place & { workerId: number };
let neighbour: Place;
let away: Place & { workerId: number };
let liuxiang: string;

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-tickets-'));
  app = await buildTestApp(db, { clock, config: { dataDir } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop(); // its real 5 s timer must not race the ManualClock
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher'), worker: await login(app, 'worker') };
  liuxiang = (await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'street' AND name LIKE '%柳巷%'`)).rows[0]!.code;
  home = (await db.query<Place & { workerId: number }>(sql`
    SELECT u.worker_id AS "workerId", g.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`)).rows[0]!;
  neighbour = (await db.query<Place>(sql`
    SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions
     WHERE level = 'grid' AND path LIKE ${`%/${liuxiang}/%`} AND code <> ${home.code} ORDER BY code LIMIT 1`)).rows[0]!;
  away = (await db.query<Place & { workerId: number }>(sql`
    SELECT w.id AS "workerId", g.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE g.path NOT LIKE ${`%/${liuxiang}/%`} AND w.active ORDER BY w.id LIMIT 1`)).rows[0]!;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Seen { created: number[]; updated: number[] }

async function dashboard(username: string): Promise<Seen> {
  const socket: Client = connect(base, { auth: { token: await token(app, username) }, transports: ['websocket'] });
  sockets.push(socket);
  const seen: Seen = { created: [], updated: [] };
  socket.on('ticket.created', (t) => seen.created.push(t.id));
  socket.on('ticket.updated', (c) => seen.updated.push(c.ticket.id));
  socket.on('ticket.escalated', (n) => seen.updated.push(n.ticket.id));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return seen;
}

async function until(probe: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function file(at: Place, headers = as.operator): Promise<TicketSummary> {
  const res = await app.inject({ method: 'POST', url: '/api/tickets', headers,
    payload: { category: 'patrol.street_vending', urgency: 'scheduled', lon: at.lon, lat: at.lat, description: '占道经营' } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as TicketSummary;
}

const act = (headers: Headers, id: number, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });

describe('the 柳巷 street dispatcher never sees another street’s tickets', () => {
  let inside: TicketSummary;
  let outside: TicketSummary;

  it('over HTTP: not in the list, not by id, not to act on, not to file', async () => {
    inside = await file(neighbour);
    outside = await file(away);
    const list = (await app.inject({ url: '/api/tickets?limit=500', headers: as.dispatcher })).json() as TicketList;
    expect(list.items.map((t) => t.id)).toContain(inside.id);
    expect(list.items.map((t) => t.id)).not.toContain(outside.id);
    for (const t of list.items) expect(t.grid.code.startsWith(liuxiang)).toBe(true);
    // Filters narrow what the scope allows; they never widen it.
    for (const q of ['status=received', 'category=patrol', 'overdue=false', 'level=grid']) {
      const some = (await app.inject({ url: `/api/tickets?${q}&limit=500`, headers: as.dispatcher })).json() as TicketList;
      expect(some.items.map((t) => t.id), q).not.toContain(outside.id);
    }
    expect((await app.inject({ url: `/api/tickets/${outside.id}`, headers: as.dispatcher })).statusCode).toBe(404);
    const poke = await act(as.dispatcher, outside.id, { action: 'register' });
    expect([poke.statusCode, poke.json().code]).toEqual([404, 'NOT_FOUND']);
    const theirs = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.dispatcher,
      payload: { category: 'patrol.street_vending', urgency: 'scheduled', lon: away.lon, lat: away.lat, description: '越界' } });
    expect([theirs.statusCode, theirs.json().code]).toEqual([403, 'OUT_OF_JURISDICTION']);
    // The district operator sees both.
    const all = (await app.inject({ url: '/api/tickets?limit=500', headers: as.operator })).json() as TicketList;
    expect(all.items.map((t) => t.id)).toEqual(expect.arrayContaining([inside.id, outside.id]));
  });

  it('over socket.io: events of the other street never reach the street’s dashboard', async () => {
    const street = await dashboard('dispatcher');
    const district = await dashboard('operator');
    const b = await file(away);
    await act(as.operator, b.id, { action: 'register' });
    const a = await file(neighbour);
    await act(as.operator, a.id, { action: 'register' });
    // Events reach each socket in order: once the later 柳巷 update has arrived, the other street's would have too.
    await until(() => street.updated.includes(a.id) && district.updated.includes(a.id));
    expect(street.created).toContain(a.id);
    expect(street.created).not.toContain(b.id);
    expect(street.updated).not.toContain(b.id);
    expect(district.created).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(district.updated).toEqual(expect.arrayContaining([a.id, b.id]));
  });
});

describe('a grid worker', () => {
  it('sees their own grid’s tickets and those sent to them, live and over HTTP', async () => {
    const field = await dashboard('worker');
    const mine = await file(home);
    const next = await file(neighbour);
    await act(as.dispatcher, next.id, { action: 'register' });
    await until(() => field.created.includes(mine.id));
    expect(field.created).not.toContain(next.id);
    let list = (await app.inject({ url: '/api/tickets?limit=500', headers: as.worker })).json() as TicketList;
    expect(list.items.map((t) => t.id)).toContain(mine.id);
    expect(list.items.map((t) => t.id)).not.toContain(next.id);
    for (const t of list.items) expect(t.grid.code === home.code || t.assignedWorker?.id === home.workerId || t.reporter.workerId === home.workerId).toBe(true);

    // Sent to the neighbouring grid: now it is theirs to see and to accept.
    const sent = await act(as.dispatcher, next.id, { action: 'dispatch', workerId: home.workerId });
    expect(sent.statusCode).toBe(200);
    list = (await app.inject({ url: '/api/tickets?mine=true', headers: as.worker })).json() as TicketList;
    expect(list.items.map((t) => t.id)).toEqual([next.id]);
    expect((await act(as.worker, next.id, { action: 'accept' })).statusCode).toBe(200);
    // Declined or not, a ticket of another street is never theirs to see.
    expect((await app.inject({ url: `/api/tickets/${(await file(away)).id}`, headers: as.worker })).statusCode).toBe(404);
  });
});
