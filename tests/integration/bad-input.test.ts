/**
 * The bad-input catalogue: what a careless or hostile caller sends at the edge, and the exact answer
 * it gets. None of it may reach the database or come back as a 500.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };

let db: Db;
let app: App;
let dataDir: string;
let as: Record<'admin' | 'operator' | 'dispatcher' | 'worker', Headers>;
/** A point inside the demo worker's grid, and that worker. */
let place: { lon: number; lat: number; workerId: number };
let ticket: TicketSummary;

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-bad-input-'));
  app = await buildTestApp(db, { config: { dataDir } });
  await app.ready();
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop();
  as = {
    admin: await login(app, 'admin'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
  };
  const { rows } = await db.query<{ lon: number; lat: number; workerId: number }>(sql`
    SELECT ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat, w.id AS "workerId"
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  place = rows[0]!;
  ticket = await file({}).then((r) => {
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as TicketSummary;
  });
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const file = (extra: Record<string, unknown>, headers = as.operator) =>
  app.inject({
    method: 'POST',
    url: '/api/tickets',
    headers,
    payload: { category: 'safety.fire', urgency: 'scheduled', lon: place.lon, lat: place.lat, description: '楼道堆放杂物', ...extra },
  });

const act = (id: number, payload: Record<string, unknown>, headers = as.dispatcher) =>
  app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });

/** The answer's status and code, for one exact comparison. */
const answer = (res: { statusCode: number; json: () => unknown }): [number, string | undefined] => {
  const body = res.json() as { code?: string };
  return [res.statusCode, body?.code];
};

async function ticketCount(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM tickets`);
  return rows[0]!.n;
}

describe('the path is the API in any spelling', () => {
  it('an encoded /api without a token is 401, not the app page or a 404', async () => {
    for (const url of ['/%61pi/config', '/api/config']) {
      const res = await app.inject({ url });
      expect(answer(res), url).toEqual([401, 'AUTH_REQUIRED']);
    }
  });
});

describe('control characters are refused at the edge', () => {
  it('a NUL in a ticket’s description, a transition’s reason or a login’s username is 400 VALIDATION_FAILED, not a 500', async () => {
    const before = await ticketCount();
    expect(answer(await file({ description: '楼道\u0000堆放杂物' }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(answer(await file({ description: 'bell\u0007' }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(answer(await file({ description: 'escape \u001b[31m red' }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(answer(await file({ description: 'delete\u007f' }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(await ticketCount()).toBe(before);

    expect(answer(await act(ticket.id, { action: 'cancel', reason: '重复\u0000工单' }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(answer(await act(ticket.id, { action: 'register', note: 'ok\u0000' }))).toEqual([400, 'VALIDATION_FAILED']);
    const unchanged = await app.inject({ url: `/api/tickets/${ticket.id}`, headers: as.operator });
    expect(unchanged.json()).toMatchObject({ status: 'received' });

    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin\u0000', password: 'whatever-it-is' } });
    expect(answer(login)).toEqual([400, 'VALIDATION_FAILED']);
    // In a key as well as in a value.
    const key = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { 'user\u0000name': 'admin', password: 'x' } });
    expect(answer(key)).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('line breaks and tabs are text in a description, but not in a single-line field, a query or a path', async () => {
    const multi = await file({ description: '一楼：\n\t消防通道堵塞\r\n二楼：正常' });
    expect(multi.statusCode, multi.body).toBe(201);
    expect((multi.json() as TicketSummary).description).toBe('一楼：\n\t消防通道堵塞\r\n二楼：正常');

    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin\n', password: 'whatever-it-is' } });
    expect(answer(login)).toEqual([400, 'VALIDATION_FAILED']);
    const query = await app.inject({ url: '/api/tickets?category=safety%0A', headers: as.operator });
    expect(answer(query)).toEqual([400, 'VALIDATION_FAILED']);
    const nulQuery = await app.inject({ url: '/api/regions?level=district&parent=%00', headers: as.operator });
    expect(answer(nulQuery)).toEqual([400, 'VALIDATION_FAILED']);
    const param = await app.inject({ method: 'PUT', url: '/api/ticket-categories/safety%00', headers: as.admin, payload: { name: '安全' } });
    expect(answer(param)).toEqual([400, 'VALIDATION_FAILED']);
  });
});

describe('numbers are finite and bounded', () => {
  it('"Infinity", "1e400", NaN or a fraction in a tile path is 400 VALIDATION_FAILED', async () => {
    const urls = [
      '/api/tiles/Infinity/0/0.pbf',
      '/api/tiles/1e400/0/0.pbf',
      '/api/tiles/12/Infinity/0.pbf',
      '/api/tiles/12/0/-Infinity.pbf',
      '/api/tiles/12/1e400/0.pbf',
      '/api/tiles/NaN/0/0.pbf',
      '/api/tiles/1.5/0/0.pbf',
      '/api/tiles/-1/0/0.pbf',
      '/api/tiles/21/0/0.pbf',
      '/api/tiles/2/4/0.pbf',
      '/api/tiles/2/0/4.pbf',
      '/api/tiles/0/1/0.pbf',
    ];
    for (const url of urls) {
      const res = await app.inject({ url, headers: as.operator });
      expect(answer(res), url).toEqual([400, 'VALIDATION_FAILED']);
    }
    // The bounds themselves are fine: the last tile of zoom 2, and zoom 0.
    for (const url of ['/api/tiles/2/3/3.pbf', '/api/tiles/0/0/0.pbf']) {
      expect([200, 204], url).toContain((await app.inject({ url, headers: as.operator })).statusCode);
    }
  });

  it('"Infinity" or "1e400" in a query is 400 VALIDATION_FAILED', async () => {
    for (const q of ['limit=Infinity', 'limit=1e400', 'offset=Infinity', 'offset=1e400', 'offset=1e20', 'limit=-Infinity', 'limit=NaN', 'limit=2.5']) {
      const res = await app.inject({ url: `/api/tickets?${q}`, headers: as.operator });
      expect(answer(res), q).toEqual([400, 'VALIDATION_FAILED']);
    }
    const candidates = await app.inject({ url: `/api/tickets/${ticket.id}/candidates?limit=Infinity`, headers: as.dispatcher });
    expect(answer(candidates)).toEqual([400, 'VALIDATION_FAILED']);
    for (const id of ['Infinity', '1e400', '99999999999999999999', '1.5', '0']) {
      const res = await app.inject({ url: `/api/tickets/${id}`, headers: as.operator });
      expect(answer(res), id).toEqual([400, 'VALIDATION_FAILED']);
    }
    // Plain numbers still read as numbers in a query.
    const ok = await app.inject({ url: '/api/tickets?limit=5&offset=0', headers: as.operator });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('a body’s numbers are JSON numbers: "Infinity", 1e400 or "45" for a latitude is 400 VALIDATION_FAILED and files nothing', async () => {
    const before = await ticketCount();
    const cases: Record<string, unknown>[] = [
      { lat: 'Infinity' },
      { lat: '1e400' },
      { lon: '-Infinity' },
      { lat: String(place.lat) },
      { lat: 91 },
      { lon: null },
    ];
    for (const extra of cases) {
      expect(answer(await file(extra)), JSON.stringify(extra)).toEqual([400, 'VALIDATION_FAILED']);
    }
    // 1e400 written as a JSON number parses to Infinity: still refused.
    const raw = await app.inject({
      method: 'POST',
      url: '/api/tickets',
      headers: { ...as.operator, 'content-type': 'application/json' },
      payload: `{"category":"safety.fire","urgency":"scheduled","lon":${place.lon},"lat":1e400,"description":"楼道堆放杂物"}`,
    });
    expect(answer(raw)).toEqual([400, 'VALIDATION_FAILED']);
    const worker = await act(ticket.id, { action: 'dispatch', workerId: '1e400' });
    expect(answer(worker)).toEqual([400, 'VALIDATION_FAILED']);
    expect(await ticketCount()).toBe(before);
  });
});

describe('required text has something in it', () => {
  it('a description, reason or note of only spaces is 400 VALIDATION_FAILED', async () => {
    const before = await ticketCount();
    for (const description of ['   ', '\n\t ', '\u3000\u3000', '']) {
      expect(answer(await file({ description })), JSON.stringify(description)).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(await ticketCount()).toBe(before);
    expect(answer(await act(ticket.id, { action: 'cancel', reason: '   ' }))).toEqual([400, 'VALIDATION_FAILED']);
    expect(answer(await act(ticket.id, { action: 'register', note: '  ' }))).toEqual([400, 'VALIDATION_FAILED']);
    const category = await app.inject({ method: 'PUT', url: '/api/ticket-categories/safety.blank', headers: as.admin, payload: { name: '   ', parentCode: 'safety' } });
    expect(answer(category)).toEqual([400, 'VALIDATION_FAILED']);
    const reply = await app.inject({
      method: 'POST',
      url: `/api/tickets/${ticket.id}/department-replies`,
      headers: as.operator,
      payload: { acceptedAt: '2026-11-22T02:00:00Z', contacted: '  ', actions: '已清理', dueBy: '2026-11-23T02:00:00Z' },
    });
    expect(answer(reply)).toEqual([400, 'VALIDATION_FAILED']);
    // A reason with words around spaces is fine, and no reason where none is needed is fine.
    expect((await act(ticket.id, { action: 'register', note: ' 已核实 ' })).statusCode).toBe(200);
  });
});

describe('nothing internal reaches the caller', () => {
  it('none of the catalogue is a 500, and no answer carries a database message', async () => {
    const probes = [
      app.inject({ url: '/api/tiles/Infinity/0/0.pbf', headers: as.operator }),
      app.inject({ url: '/api/tickets?limit=Infinity', headers: as.operator }),
      app.inject({ url: '/api/tickets?offset=1e400', headers: as.operator }),
      file({ lat: 'Infinity' }),
      file({ description: '\u0000' }),
      file({ description: '   ' }),
      app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: '\u0000', password: '\u0000' } }),
      app.inject({ method: 'POST', url: '/api/tickets', headers: { ...as.operator, 'content-type': 'application/json' }, payload: '{"description": "x' }),
      app.inject({ method: 'POST', url: '/api/tickets', headers: { ...as.operator, 'content-type': 'application/json' }, payload: '['.repeat(100_000) }),
      app.inject({
        method: 'POST',
        url: '/api/tickets',
        headers: { ...as.operator, 'content-type': 'application/json' },
        payload: `${'['.repeat(100_000)}"\u0000"${']'.repeat(100_000)}`,
      }),
    ];
    for (const res of await Promise.all(probes)) {
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, res.body).toBeLessThan(500);
      expect(res.body).not.toMatch(/invalid input|syntax|out of range|SQLSTATE|relation|column|pg_|stack/i);
    }
  });

  it('a value the database refuses (a year 0 the schema’s date-time format lets through) is 400 VALIDATION_FAILED in our words', async () => {
    const filed = await file({});
    const t = filed.json() as TicketSummary;
    expect((await act(t.id, { action: 'register' })).statusCode).toBe(200);
    const escalated = await act(t.id, { action: 'escalate', departmentCode: 'public_security' }, as.operator);
    expect(escalated.json()).toMatchObject({ status: 'escalated', level: 'department' });
    const reply = await app.inject({
      method: 'POST',
      url: `/api/tickets/${t.id}/department-replies`,
      headers: as.operator,
      payload: { acceptedAt: '0000-01-01T00:00:00Z', contacted: '居民', actions: '已清理', dueBy: '2026-11-23T02:00:00Z' },
    });
    expect(answer(reply)).toEqual([400, 'VALIDATION_FAILED']);
    expect(reply.json()).toEqual({ code: 'VALIDATION_FAILED', message: 'A value in the request is out of range or malformed.' });
    const after = await app.inject({ url: `/api/tickets/${t.id}`, headers: as.operator });
    expect(after.json()).toMatchObject({ status: 'escalated', departmentReplies: [] });
  });
});
