import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { CreatedNotice, NoticeCounts, NoticeDetail, NoticeList, NoticePublished, NoticeSummary } from '@shared/notices-api';
import { Simulator } from '../../server/modules/simulator/simulator';
import { NoticeSimulator } from '../../server/modules/simulator/notices';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };

let db: Db;
let app: App;
let base: string;
let as: Record<'admin' | 'leader' | 'operator' | 'dispatcher' | 'worker', Headers>;
const sockets: Client[] = [];
/** The dispatcher's street (柳巷), another street, the demo worker and their grid. */
let street: { code: string; path: string };
let otherStreet: { code: string; path: string };
let me: { workerId: number; grid: string; lon: number; lat: number };
let simulated: NoticeSimulator | undefined;

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  as = {
    admin: await login(app, 'admin'),
    leader: await login(app, 'leader'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
  };
  const { rows: [s] } = await db.query<{ code: string; path: string }>(sql`
    SELECT r.code, r.path FROM users u JOIN regions r ON r.code = u.region_code WHERE u.username = 'dispatcher'`);
  street = s!;
  const { rows: [o] } = await db.query<{ code: string; path: string }>(sql`
    SELECT code, path FROM regions WHERE level = 'street' AND code <> ${street.code} ORDER BY code LIMIT 1`);
  otherStreet = o!;
  const { rows: [w] } = await db.query<{ workerId: number; grid: string; lon: number; lat: number }>(sql`
    SELECT u.worker_id AS "workerId", g.code AS grid, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code WHERE u.username = 'worker'`);
  me = w!;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await simulated?.stop();
  await app.close();
  await db.close();
});

const send = (headers: Headers, payload: unknown) => app.inject({ method: 'POST', url: '/api/notices', headers, payload: payload as Record<string, unknown> });
const get = <T>(headers: Headers, url: string) => app.inject({ url, headers }).then((r) => {
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as T;
});
const post = (headers: Headers, url: string, payload?: Record<string, unknown>) => app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

async function notice(headers: Headers, payload: Record<string, unknown>): Promise<CreatedNotice> {
  const res = await send(headers, { title: '防汛通知', body: '今晚有强降雨，请各网格员检查辖区低洼地段。', urgency: 'normal', ...payload });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as CreatedNotice;
}

/** Active workers whose home grid lies under a path (what a notice to that region must reach). */
async function activeUnder(path: string, role?: string): Promise<number> {
  const { rows: [r] } = await db.query<{ n: number }>(sql`
    SELECT count(*) AS n FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active AND g.path LIKE ${path + '%'} AND (${role ?? null}::text IS NULL OR w.role = ${role ?? null})`);
  return r!.n;
}

/** A real socket.io client with every notice event it received. */
async function listen(headers: Headers): Promise<{ published: NoticePublished[]; receipts: NoticeCounts[] }> {
  const socket: Client = connect(base, { auth: { token: headers.authorization.slice('Bearer '.length) }, transports: ['websocket'] });
  sockets.push(socket);
  const l = { published: [] as NoticePublished[], receipts: [] as NoticeCounts[] };
  socket.on('notice.published', (n) => l.published.push(n));
  socket.on('notice.receipts', (c) => l.receipts.push(c));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return l;
}

async function until<T>(probe: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sending a notice', () => {
  it('reaches every active worker of the target street in one statement, with one receipt each, audited', async () => {
    const expected = await activeUnder(street.path);
    expect(expected).toBeGreaterThan(10);
    const created = await notice(as.operator, { target: { regionCodes: [street.code] }, receiptRequired: true });
    expect(created.recipients).toBe(expected);
    const { rows: [r] } = await db.query<{ n: number; outside: number }>(sql`
      SELECT count(*) AS n, count(*) FILTER (WHERE g.path NOT LIKE ${street.path + '%'}) AS outside
        FROM notice_receipts rc JOIN regions g ON g.code = rc.grid_code WHERE rc.notice_id = ${created.id}`);
    expect(r).toEqual({ n: expected, outside: 0 });
    const { rows: [a] } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE action = 'notice.created' AND subject_id = ${String(created.id)}`);
    expect(a!.n).toBe(1);
  });

  it('filters by roles and by a drawn area', async () => {
    const leaders = await activeUnder(street.path, 'grid_leader');
    const byRole = await notice(as.dispatcher, { target: { regionCodes: [street.code], roles: ['grid_leader'] } });
    expect(byRole.recipients).toBe(leaders);
    // A small square around the demo worker's grid: their grid's people, and nobody of the other street.
    const d = 0.0005;
    const area = { type: 'Polygon', coordinates: [[[me.lon - d, me.lat - d], [me.lon + d, me.lat - d], [me.lon + d, me.lat + d], [me.lon - d, me.lat + d], [me.lon - d, me.lat - d]]] };
    const drawn = await notice(as.operator, { target: { area } });
    const { rows } = await db.query<{ workerId: string; grid: string }>(sql`
      SELECT worker_id AS "workerId", grid_code AS grid FROM notice_receipts WHERE notice_id = ${drawn.id}`);
    expect(rows.map((x) => Number(x.workerId))).toContain(me.workerId);
    expect(drawn.recipients).toBe(await activeUnder((await db.query<{ path: string }>(sql`SELECT path FROM regions WHERE code = ${me.grid}`)).rows[0]!.path));
  });

  it('counts the recipients of a target before sending (a dry run: same checks, nothing written)', async () => {
    const count = (headers: Headers, target: Record<string, unknown>) => post(headers, '/api/notices/recipients', { target });
    const before = (await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM notices`)).rows[0]!.n;
    const d = 0.0005;
    const area = { type: 'Polygon', coordinates: [[[me.lon - d, me.lat - d], [me.lon + d, me.lat - d], [me.lon + d, me.lat + d], [me.lon - d, me.lat + d], [me.lon - d, me.lat - d]]] };
    for (const [headers, target] of [
      [as.dispatcher, { regionCodes: [street.code], roles: ['grid_leader'] }],
      [as.operator, { area }],
      [as.operator, {}],
    ] as const) {
      const res = await count(headers, target);
      expect(res.statusCode, res.body).toBe(200);
      const counted = (res.json() as { recipients: number }).recipients;
      expect(counted).toBeGreaterThan(0);
      expect((await notice(headers, { target })).recipients).toBe(counted);
    }
    expect((await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM notices`)).rows[0]!.n).toBe(before + 3);
    // The same refusals as sending.
    expect((await count(as.dispatcher, { regionCodes: [otherStreet.code] })).json()).toMatchObject({ code: 'NOTICE_TARGET_OUT_OF_JURISDICTION' });
    expect((await count(as.operator, { regionCodes: ['999999999'] })).json()).toMatchObject({ code: 'NOTICE_TARGET_UNKNOWN' });
    expect((await count(as.worker, {})).statusCode).toBe(403);
    // Nobody inside: 0, not an error (the composer says so before sending).
    const far = { type: 'Polygon', coordinates: [[[0, 0], [0.001, 0], [0.001, 0.001], [0, 0.001], [0, 0]]] };
    expect((await count(as.operator, { area: far })).json()).toEqual({ recipients: 0 });
  });

  it('a whole-district notice reaches all 3,605 workers in one request, fast', async () => {
    const started = performance.now();
    const created = await notice(as.leader, { title: '全区通知', target: {} });
    const ms = performance.now() - started;
    console.log(`district notice to ${created.recipients} workers: ${ms.toFixed(0)} ms (one request, one INSERT … SELECT)`);
    expect(created.recipients).toBe(3605);
    const { rows: [r] } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM notice_receipts WHERE notice_id = ${created.id}`);
    expect(r!.n).toBe(3605);
    expect(ms).toBeLessThan(10_000);
  });

  it('refuses bad input with stable codes, never a 500', async () => {
    const good = { title: '通知', body: '内容', urgency: 'normal', target: { regionCodes: [street.code] } };
    const cases: [Headers, unknown, number, string][] = [
      [as.operator, { ...good, body: '' }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, body: '   \n ' }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, title: '' }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, title: '   ' }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, body: '长'.repeat(100 * 1024) }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, body: 'x'.repeat(5001) }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, urgency: 'panic' }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, target: { regionCodes: ['999999999'] } }, 400, 'NOTICE_TARGET_UNKNOWN'],
      [as.operator, { ...good, target: { regionCodes: [street.code, 'nope'] } }, 400, 'NOTICE_TARGET_UNKNOWN'],
      [as.operator, { ...good, target: { roles: ['party_member'] } }, 400, 'NOTICE_NO_RECIPIENTS'],
      [as.operator, { ...good, target: { roles: ['janitor'] } }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, target: { area: { type: 'Polygon', coordinates: [[[112, 37], [113, 37], [113, 38], [112.5, 38]]] } } }, 400, 'VALIDATION_FAILED'],
      [as.operator, { ...good, target: { area: { type: 'Polygon', coordinates: [[[500, 37], [113, 37], [113, 38], [500, 37]]] } } }, 400, 'VALIDATION_FAILED'],
      // The street dispatcher targets another street, or the district above them.
      [as.dispatcher, { ...good, target: { regionCodes: [otherStreet.code] } }, 403, 'NOTICE_TARGET_OUT_OF_JURISDICTION'],
      [as.dispatcher, { ...good, target: { regionCodes: [street.path.split('/')[1]!] } }, 403, 'NOTICE_TARGET_OUT_OF_JURISDICTION'],
      [as.worker, good, 403, 'FORBIDDEN'],
    ];
    const { rows: [before] } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM notices`);
    for (const [headers, payload, status, code] of cases) {
      const res = await send(headers, payload);
      expect(res.statusCode, `${JSON.stringify(payload).slice(0, 200)}: ${res.body.slice(0, 200)}`).toBe(status);
      expect(res.json()).toMatchObject({ code });
    }
    const { rows: [after] } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM notices`);
    expect(after!.n).toBe(before!.n);
  });
});

describe('receipts', () => {
  it('the worker’s phone gets it live; delivered, read and replied come back live to the sender and count once', async () => {
    const phone = await listen(as.worker);
    const desk = await listen(as.operator);
    const street2 = await listen(as.dispatcher);
    const created = await notice(as.operator, { title: '紧急：排查燃气隐患', urgency: 'urgent', target: { regionCodes: [street.code] }, receiptRequired: true });
    const live = await until(() => phone.published.find((n) => n.id === created.id));
    expect(live).toMatchObject({ title: '紧急：排查燃气隐患', urgency: 'urgent', receiptRequired: true, reminder: false, recipients: created.recipients });
    expect(live.sender.name).toBe('指挥中心值班员');
    await until(() => desk.receipts.find((c) => c.id === created.id));

    // Delivered: the phone fetches its inbox.
    const inbox = await get<NoticeList>(as.worker, '/api/notices');
    const mine = inbox.items.find((n) => n.id === created.id)!;
    expect(mine.receipt!.deliveredAt).not.toBeNull();
    expect(mine.receipt!.readAt).toBeNull();
    await until(() => desk.receipts.find((c) => c.id === created.id && c.delivered === 1));

    // Read, twice: counted once.
    for (let i = 0; i < 2; i++) {
      const res = await post(as.worker, `/api/notices/${created.id}/read`);
      expect(res.statusCode, res.body).toBe(200);
      expect((res.json() as NoticeSummary).receipt!.readAt).not.toBeNull();
    }
    const read = await until(() => desk.receipts.find((c) => c.id === created.id && c.read === 1));
    expect(read).toEqual({ id: created.id, recipients: created.recipients, delivered: 1, read: 1, replied: 0 });

    // Reply.
    const replied = await post(as.worker, `/api/notices/${created.id}/reply`, { body: '已排查，无隐患。' });
    expect(replied.statusCode, replied.body).toBe(200);
    await post(as.worker, `/api/notices/${created.id}/reply`, { body: '已排查，无隐患。' });
    await until(() => desk.receipts.find((c) => c.id === created.id && c.replied === 1));
    // The district's notice is not the street desk's to follow.
    expect(street2.receipts.some((c) => c.id === created.id)).toBe(false);

    const detail = await get<NoticeDetail>(as.operator, `/api/notices/${created.id}`);
    expect(detail).toMatchObject({ recipients: created.recipients, delivered: 1, read: 1, replied: 1 });
    expect(detail.unread).toHaveLength(created.recipients - 1);
    expect(detail.unread!.some((u) => u.workerId === me.workerId)).toBe(false);
    expect(detail.unread![0]).toMatchObject({ name: expect.any(String), phone: expect.stringMatching(/^1\d{10}$/), grid: { code: expect.any(String), name: expect.any(String) } });
    expect(detail.replies).toEqual([expect.objectContaining({ workerId: me.workerId, body: '已排查，无隐患。' })]);
    const { rows: audits } = await db.query<{ action: string; n: number }>(sql`
      SELECT action, count(*) AS n FROM audit_log WHERE subject_type = 'notice' AND subject_id = ${String(created.id)} GROUP BY action ORDER BY action`);
    expect(audits).toEqual([{ action: 'notice.created', n: 1 }, { action: 'notice.read', n: 1 }, { action: 'notice.replied', n: 1 }]);

    // Remind: the unread are sent it again; the demo worker, who has read, is not.
    const reminded = await post(as.operator, `/api/notices/${created.id}/remind`);
    expect(reminded.statusCode, reminded.body).toBe(200);
    expect(reminded.json()).toEqual({ id: created.id, reminded: created.recipients - 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(phone.published.filter((n) => n.id === created.id)).toHaveLength(1);
  });

  it('a worker sees only their own notices; desks only those inside their jurisdiction', async () => {
    const district = await notice(as.operator, { target: { regionCodes: [otherStreet.code] } });
    const ours = await notice(as.dispatcher, { target: { regionCodes: [street.code] } });
    // The demo worker is not in the other street.
    expect((await app.inject({ url: `/api/notices/${district.id}`, headers: as.worker })).statusCode).toBe(404);
    expect((await post(as.worker, `/api/notices/${district.id}/read`)).statusCode).toBe(404);
    expect((await post(as.worker, `/api/notices/${district.id}/reply`, { body: '收到' })).statusCode).toBe(404);
    // The street's desk never sees the district's notice; the district sees the street's.
    const res = await app.inject({ url: `/api/notices/${district.id}`, headers: as.dispatcher });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await post(as.dispatcher, `/api/notices/${district.id}/remind`)).statusCode).toBe(404);
    const streetList = await get<NoticeList>(as.dispatcher, '/api/notices');
    expect(streetList.items.map((n) => n.id)).toContain(ours.id);
    expect(streetList.items.map((n) => n.id)).not.toContain(district.id);
    const districtList = await get<NoticeList>(as.leader, '/api/notices');
    expect(districtList.items.map((n) => n.id).slice(0, 2)).toEqual([ours.id, district.id]);
    expect((await get<NoticeDetail>(as.leader, `/api/notices/${ours.id}`)).unread).not.toBeNull();
    // Desks do not read or reply; a worker does not remind.
    expect((await post(as.operator, `/api/notices/${ours.id}/read`)).statusCode).toBe(403);
    expect((await post(as.worker, `/api/notices/${ours.id}/remind`)).statusCode).toBe(403);
    const inbox = await get<NoticeList>(as.worker, '/api/notices');
    expect(inbox.items.map((n) => n.id)).toContain(ours.id);
    expect(inbox.items.map((n) => n.id)).not.toContain(district.id);
    expect(inbox.items.every((n) => n.receipt !== null)).toBe(true);
    expect((await app.inject({ url: '/api/notices/99999999', headers: as.operator })).statusCode).toBe(404);
    expect((await post(as.worker, '/api/notices/1/reply', { body: '' })).statusCode).toBe(400);
  });

  it('receipts for more than 10,000 recipients stay fast', async () => {
    // The party-member reserve called up: 3,605 + 7,247 recipients.
    await db.query(sql`UPDATE workers SET active = true WHERE role = 'party_member'`);
    try {
      let t = performance.now();
      const created = await notice(as.leader, { title: '应急动员', urgency: 'urgent', target: {}, receiptRequired: true });
      const sendMs = performance.now() - t;
      expect(created.recipients).toBeGreaterThanOrEqual(10_000);
      t = performance.now();
      const detail = await get<NoticeDetail>(as.leader, `/api/notices/${created.id}`);
      const detailMs = performance.now() - t;
      expect(detail.unread).toHaveLength(1000);
      t = performance.now();
      await get<NoticeList>(as.worker, '/api/notices');
      expect((await post(as.worker, `/api/notices/${created.id}/read`)).statusCode).toBe(200);
      const readMs = performance.now() - t;
      t = performance.now();
      const list = await get<NoticeList>(as.leader, '/api/notices');
      const listMs = performance.now() - t;
      expect(list.items[0]).toMatchObject({ id: created.id, recipients: created.recipients, delivered: 1, read: 1 });
      console.log(`notice to ${created.recipients} workers: send ${sendMs.toFixed(0)} ms, detail ${detailMs.toFixed(0)} ms, fetch + read ${readMs.toFixed(0)} ms, desk list ${listMs.toFixed(0)} ms`);
      expect(sendMs).toBeLessThan(15_000);
      expect(detailMs).toBeLessThan(3_000);
      expect(readMs).toBeLessThan(3_000);
      expect(listMs).toBeLessThan(3_000);
    } finally {
      await db.query(sql`UPDATE workers SET active = false WHERE role = 'party_member'`);
    }
  });
});

describe('simulated phones', () => {
  it('read a notice after a delay, some never, and reply when asked, all through the API', async () => {
    // The first 120 field workers (the district's grid leaders first); the demo worker answers on their own phone.
    const patrol = new Simulator(db, app.ingest, app.clock, { baseUrl: base, intervalS: 10, limit: 120 });
    await patrol.load();
    // Minutes become a fraction of a second.
    simulated = new NoticeSimulator(db, app.clock, patrol, { baseUrl: base, sign: (user) => app.issueToken(user), delayScale: 0.0002, neverReadShare: 0.1, seed: 'notices-test' });
    const phones = await simulated.load();
    expect(phones).toBe(119);
    await simulated.start();
    const created = await notice(as.operator, { title: '模拟回执', target: {}, receiptRequired: true });
    await until(() => (simulated!.pending > 0 ? true : undefined), 5000);
    const { rows: [sim] } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM notice_receipts rc JOIN users u ON u.worker_id = rc.worker_id AND u.username LIKE 'sim-%' AND u.active
       WHERE rc.notice_id = ${created.id}`);
    const mine = sim!.n;
    expect(mine).toBe(119);
    const end = Date.now() + 60_000;
    while (simulated.pending > 0 && Date.now() < end) {
      await simulated.tick();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(simulated.pending).toBe(0);
    const never = simulated.stats.neverRead;
    expect(never).toBeGreaterThan(0);
    const detail = await get<NoticeDetail>(as.operator, `/api/notices/${created.id}`);
    expect(detail).toMatchObject({ delivered: mine, read: mine - never, replied: mine - never });
    expect(simulated.stats.failed).toBe(0);
    const { rows: [a] } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE action = 'notice.replied' AND subject_id = ${String(created.id)}`);
    expect(a!.n).toBe(mine - never);
  });
});
