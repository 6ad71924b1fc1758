import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import ExcelJS from 'exceljs';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { NoticePublished, NoticeDetail } from '@shared/notices-api';
import type {
  CallUpState,
  DeclaredEmergency,
  EmergencyClosed,
  EmergencyDetail,
  EmergencyList,
  EmergencyMobilisationChange,
  EmergencyReport,
  EmergencySituation,
  EmergencySummary,
  ResourceList,
} from '@shared/emergencies-api';
import { WORKER_FLAGS } from '@shared/realtime';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };
type Point = { lon: number; lat: number };

let db: Db;
let app: App;
let base: string;
let as: Record<'admin' | 'leader' | 'operator' | 'dispatcher' | 'worker' | 'streetLeader' | 'otherDispatcher' | 'communityLeader' | 'party', Headers>;
const sockets: Client[] = [];
/** 柳巷 (the dispatcher's street) and another street. */
let street: { code: string; path: string };
let otherStreet: { code: string; path: string };
/** The demo worker (in 柳巷), a point inside their grid and one inside another grid. */
let me: { workerId: number; grid: string; inside: Point; elsewhere: Point };
/** A party member of 柳巷 with a phone account, and a point inside their grid. */
let party: { workerId: number; grid: string; inside: Point };

const PASSWORD = 'emergency-test-pass-1';

async function createUser(admin: Headers, username: string, role: string, regionCode: string, workerId?: number): Promise<Headers> {
  const res = await app.inject({
    method: 'POST', url: '/api/users', headers: admin,
    payload: { username, displayName: username, password: PASSWORD, role, regionCode, ...(workerId ? { workerId } : {}) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return login(app, username, PASSWORD);
}

async function interior(grid: string): Promise<Point> {
  const { rows: [p] } = await db.query<Point>(sql`
    SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions WHERE code = ${grid}`);
  return p!;
}

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const admin = await login(app, 'admin');
  const { rows: [s] } = await db.query<{ code: string; path: string }>(sql`
    SELECT r.code, r.path FROM users u JOIN regions r ON r.code = u.region_code WHERE u.username = 'dispatcher'`);
  street = s!;
  const { rows: [o] } = await db.query<{ code: string; path: string }>(sql`
    SELECT code, path FROM regions WHERE level = 'street' AND code <> ${street.code} ORDER BY code LIMIT 1`);
  otherStreet = o!;
  const { rows: [c] } = await db.query<{ code: string }>(sql`
    SELECT code FROM regions WHERE level = 'community' AND path LIKE ${street.path + '%'} ORDER BY code LIMIT 1`);
  const { rows: [w] } = await db.query<{ workerId: number; grid: string }>(sql`
    SELECT u.worker_id AS "workerId", wk.home_grid_code AS grid FROM users u JOIN workers wk ON wk.id = u.worker_id WHERE u.username = 'worker'`);
  const { rows: [other] } = await db.query<{ code: string }>(sql`
    SELECT code FROM regions WHERE level = 'grid' AND path LIKE ${street.path + '%'} AND code <> ${w!.grid} ORDER BY code LIMIT 1`);
  me = { workerId: w!.workerId, grid: w!.grid, inside: await interior(w!.grid), elsewhere: await interior(other!.code) };
  const { rows: [pm] } = await db.query<{ id: number; grid: string }>(sql`
    SELECT w.id, w.home_grid_code AS grid FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.role = 'party_member' AND NOT w.active AND g.path LIKE ${street.path + '%'} ORDER BY w.id LIMIT 1`);
  party = { workerId: pm!.id, grid: pm!.grid, inside: await interior(pm!.grid) };
  as = {
    admin,
    leader: await login(app, 'leader'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
    streetLeader: await createUser(admin, 'street-leader', 'leader', street.code),
    otherDispatcher: await createUser(admin, 'other-dispatcher', 'dispatcher', otherStreet.code),
    communityLeader: await createUser(admin, 'community-leader', 'leader', c!.code),
    // A party member's own phone: an account linked to them (the reserve has none until one is made).
    party: await createUser(admin, 'party-member-phone', 'worker', party.grid, party.workerId),
  };
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
});

const post = (headers: Headers, url: string, payload?: unknown) =>
  app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
const get = <T>(headers: Headers, url: string) => app.inject({ url, headers }).then((r) => {
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as T;
});

interface Heard {
  declared: EmergencySummary[];
  mobilisation: EmergencyMobilisationChange[];
  closed: EmergencyClosed[];
  published: NoticePublished[];
}

async function listen(headers: Headers): Promise<Heard> {
  const socket: Client = connect(base, { auth: { token: headers.authorization.slice('Bearer '.length) }, transports: ['websocket'] });
  sockets.push(socket);
  const h: Heard = { declared: [], mobilisation: [], closed: [], published: [] };
  socket.on('emergency.declared', (e) => h.declared.push(e));
  socket.on('emergency.mobilisation', (m) => h.mobilisation.push(m));
  socket.on('emergency.closed', (c) => h.closed.push(c));
  socket.on('notice.published', (n) => h.published.push(n));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return h;
}

async function until<T>(probe: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Everyone on the roll under a path: the active work force and the party-member reserve. */
async function rollUnder(path: string): Promise<{ all: number; party: number }> {
  const { rows: [r] } = await db.query<{ all: number; party: number }>(sql`
    SELECT count(*)::int AS all, count(*) FILTER (WHERE w.role = 'party_member')::int AS party
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE g.path LIKE ${path + '%'} AND (w.active OR w.role = 'party_member')`);
  return r!;
}

const declare = (headers: Headers, area: unknown, extra: Record<string, unknown> = {}) =>
  post(headers, '/api/emergencies', { type: 'flood', level: 2, area, note: '汾河水位上涨，沿河社区转移群众。', ...extra });

describe('declaring', () => {
  it('needs a district or street leader, an area inside their jurisdiction, and known regions — stable codes', async () => {
    const area = { regionCodes: [street.code] };
    const cases: [Headers, unknown, number, string][] = [
      [as.operator, area, 403, 'FORBIDDEN'],
      [as.dispatcher, area, 403, 'FORBIDDEN'],
      [as.admin, area, 403, 'FORBIDDEN'],
      [as.worker, area, 403, 'FORBIDDEN'],
      [as.communityLeader, area, 403, 'EMERGENCY_LEADER_REQUIRED'],
      [as.streetLeader, { regionCodes: [otherStreet.code] }, 403, 'EMERGENCY_AREA_OUT_OF_JURISDICTION'],
      [as.streetLeader, { regionCodes: ['999999999'] }, 400, 'EMERGENCY_AREA_UNKNOWN'],
      [as.streetLeader, {}, 400, 'EMERGENCY_AREA_EMPTY'],
      // A square far away from the street: outside the jurisdiction.
      [as.streetLeader, { polygon: { type: 'Polygon', coordinates: [[[100, 30], [100.01, 30], [100.01, 30.01], [100, 30.01], [100, 30]]] } }, 403, 'EMERGENCY_AREA_OUT_OF_JURISDICTION'],
    ];
    for (const [headers, a, status, code] of cases) {
      const res = await declare(headers, a);
      expect(res.statusCode, `${code}: ${res.body}`).toBe(status);
      expect((res.json() as { code: string }).code).toBe(code);
    }
    const bad = await declare(as.streetLeader, area, { level: 5 });
    expect(bad.statusCode).toBe(400);
    const { rows: [n] } = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM emergencies`);
    expect(n!.n).toBe(0);
  });
});

describe('an emergency for one street', () => {
  let declared: DeclaredEmergency;
  let desk: Heard;
  let centre: Heard;
  let otherDesk: Heard;
  let workerPhone: Heard;

  it('calls up every worker and party member of the street with a notice, audited, and tells only the desks it meets', async () => {
    desk = await listen(as.dispatcher);
    centre = await listen(as.operator);
    otherDesk = await listen(as.otherDispatcher);
    workerPhone = await listen(as.worker);
    const roll = await rollUnder(street.path);
    expect(roll.party).toBeGreaterThan(100);
    const started = performance.now();
    const res = await declare(as.streetLeader, { regionCodes: [street.code] });
    const ms = performance.now() - started;
    expect(res.statusCode, res.body).toBe(201);
    declared = res.json() as DeclaredEmergency;
    console.log(`declared for ${street.code}: ${declared.mobilisation.called} called (${roll.party} party members) in ${ms.toFixed(0)} ms`);
    expect(declared.mobilisation).toEqual({ called: roll.all, acknowledged: 0, reportedIn: 0 });
    expect(declared.status).toBe('active');
    expect(declared.area.type).toBe('MultiPolygon');
    expect(declared.noticeId).not.toBeNull();
    // The call-up is a notice with one receipt per person called, party members included.
    const { rows: [r] } = await db.query<{ n: number; party: number }>(sql`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE w.role = 'party_member')::int AS party
        FROM notice_receipts rc JOIN workers w ON w.id = rc.worker_id WHERE rc.notice_id = ${declared.noticeId}`);
    expect(r).toEqual({ n: roll.all, party: roll.party });
    const { rows: [a] } = await db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM audit_log WHERE action = 'emergency.declared' AND subject_id = ${String(declared.id)}`);
    expect(a!.n).toBe(1);
    // Live: the street's desk, the district's centre and the worker's phone; not the other street.
    await until(() => desk.declared.length > 0 && centre.declared.length > 0 && workerPhone.declared.length > 0);
    expect(desk.declared[0]!.id).toBe(declared.id);
    await until(() => workerPhone.published.find((n) => n.id === declared.noticeId));
    await new Promise((r) => setTimeout(r, 300));
    expect(otherDesk.declared).toEqual([]);
  });

  it('is listed for desks whose jurisdiction meets it, with per-grid rows, and invisible to another street', async () => {
    const active = await get<EmergencyList>(as.dispatcher, '/api/emergencies?status=active');
    expect(active.items.map((e) => e.id)).toEqual([declared.id]);
    const detail = await get<EmergencyDetail>(as.dispatcher, `/api/emergencies/${declared.id}`);
    expect(detail.mobilisation.called).toBe(declared.mobilisation.called);
    expect(detail.grids.length).toBe(declared.grids);
    expect(detail.grids.reduce((s, g) => s + g.called, 0)).toBe(declared.mobilisation.called);
    const district = await get<EmergencyDetail>(as.leader, `/api/emergencies/${declared.id}`);
    expect(district.mobilisation).toEqual(detail.mobilisation);
    expect((await get<EmergencyList>(as.otherDispatcher, '/api/emergencies?status=active')).items).toEqual([]);
    expect((await app.inject({ url: `/api/emergencies/${declared.id}`, headers: as.otherDispatcher })).statusCode).toBe(404);
    expect((await app.inject({ url: `/api/emergencies/${declared.id}/situation`, headers: as.otherDispatcher })).statusCode).toBe(404);
    const situation = await get<EmergencySituation>(as.dispatcher, `/api/emergencies/${declared.id}/situation`);
    expect(situation.openTickets).toBeGreaterThanOrEqual(0);
    // The worker's phone: their own call-up.
    const mine = await get<EmergencyList>(as.worker, '/api/emergencies?status=active');
    expect(mine.items[0]!.me).toMatchObject({ gridCode: me.grid, acknowledgedAt: null, reportedInAt: null });
  });

  it('收到 then 报到: outside the grid is refused with a stable code; inside counts, live, and puts them on the map', async () => {
    const ack = await post(as.worker, `/api/emergencies/${declared.id}/acknowledge`);
    expect(ack.statusCode, ack.body).toBe(200);
    expect((ack.json() as CallUpState).acknowledgedAt).not.toBeNull();
    // Acknowledging again changes nothing.
    expect((await post(as.worker, `/api/emergencies/${declared.id}/acknowledge`)).statusCode).toBe(200);
    // The call-up notice is read.
    const notice = await get<NoticeDetail>(as.worker, `/api/notices/${declared.noticeId}`);
    expect(notice.receipt!.readAt).not.toBeNull();

    const outside = await post(as.worker, `/api/emergencies/${declared.id}/report-in`, me.elsewhere);
    expect(outside.statusCode, outside.body).toBe(422);
    expect((outside.json() as { code: string }).code).toBe('EMERGENCY_REPORT_IN_OUTSIDE_GRID');
    const still = await get<EmergencyList>(as.worker, '/api/emergencies');
    expect(still.items[0]!.me!.reportedInAt).toBeNull();

    const inside = await post(as.worker, `/api/emergencies/${declared.id}/report-in`, { ...me.inside, accuracy: 8 });
    expect(inside.statusCode, inside.body).toBe(200);
    expect((inside.json() as CallUpState).reportedInAt).not.toBeNull();

    // The party member, on their own phone: 报到 without 收到 first also acknowledges.
    const pm = await post(as.party, `/api/emergencies/${declared.id}/report-in`, party.inside);
    expect(pm.statusCode, pm.body).toBe(200);

    const detail = await get<EmergencyDetail>(as.dispatcher, `/api/emergencies/${declared.id}`);
    expect(detail.mobilisation).toEqual({ called: declared.mobilisation.called, acknowledged: 2, reportedIn: 2 });
    const myGrid = detail.grids.find((g) => g.code === me.grid)!;
    expect(myGrid).toMatchObject({ acknowledged: 1, reportedIn: 1 });
    expect(detail.grids.find((g) => g.code === party.grid)!.partyReportedIn).toBe(1);
    // The desk heard the grids change, coalesced, with only those grids.
    const heard = await until(() => {
      const rows = desk.mobilisation.filter((m) => m.id === declared.id).flatMap((m) => m.grids);
      const a = rows.filter((g) => g.code === me.grid).at(-1);
      const b = rows.filter((g) => g.code === party.grid).at(-1);
      return a?.reportedIn === 1 && b?.reportedIn === 1 ? rows : undefined;
    });
    expect(heard.length).toBeLessThan(detail.grids.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(otherDesk.mobilisation).toEqual([]);
    // On the map: the party member is online at the reported position.
    const live = app.ingest.state.workers.get(party.workerId)!;
    expect(live.hasFix).toBe(true);
    expect(live.flags & WORKER_FLAGS.ONLINE).toBeTruthy();
    expect(Math.abs(live.lon - party.inside.lon)).toBeLessThan(1e-5);
    // Audited.
    const { rows: [a] } = await db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM audit_log WHERE action = 'emergency.reported_in' AND subject_id = ${String(declared.id)}`);
    expect(a!.n).toBe(2);
  });

  it('a worker not called up gets 404', async () => {
    const admin = as.admin;
    const { rows: [o] } = await db.query<{ id: number; grid: string }>(sql`
      SELECT w.id, w.home_grid_code AS grid FROM workers w JOIN regions g ON g.code = w.home_grid_code
       WHERE w.active AND w.role = 'full_time' AND g.path LIKE ${otherStreet.path + '%'} ORDER BY w.id LIMIT 1`);
    const phone = await createUser(admin, 'other-street-worker', 'worker', o!.grid, o!.id);
    expect((await post(phone, `/api/emergencies/${declared.id}/acknowledge`)).statusCode).toBe(404);
    expect((await post(phone, `/api/emergencies/${declared.id}/report-in`, await interior(o!.grid))).statusCode).toBe(404);
  });

  it('closing: a leader over it only; gives the after-action report on screen and as a valid .xlsx', async () => {
    expect((await post(as.dispatcher, `/api/emergencies/${declared.id}/close`)).statusCode).toBe(403);
    const res = await post(as.streetLeader, `/api/emergencies/${declared.id}/close`);
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json() as EmergencyReport;
    expect(report.mobilisation).toEqual({ called: declared.mobilisation.called, acknowledged: 2, reportedIn: 2 });
    expect(report.timeline[0]!.kind).toBe('declared');
    expect(report.timeline.at(-1)!.kind).toBe('closed');
    expect(report.timeline.map((t) => t.kind)).toEqual(expect.arrayContaining(['first_acknowledged', 'first_reported_in']));
    expect(report.curve.at(-1)).toMatchObject({ acknowledged: 2, reportedIn: 2 });
    expect(report.responseTimes.reportInMedianS).not.toBeNull();
    expect(report.grids.length).toBe(declared.grids);
    await until(() => desk.closed.find((c) => c.id === declared.id));
    expect(otherDesk.closed).toEqual([]);

    const again = await post(as.streetLeader, `/api/emergencies/${declared.id}/close`);
    expect(again.statusCode).toBe(409);
    expect((again.json() as { code: string }).code).toBe('EMERGENCY_CLOSED');
    const late = await post(as.worker, `/api/emergencies/${declared.id}/acknowledge`);
    expect((late.json() as { code: string }).code).toBe('EMERGENCY_CLOSED');
    expect((await get<EmergencyList>(as.dispatcher, '/api/emergencies?status=active')).items).toEqual([]);

    const onScreen = await get<EmergencyReport>(as.leader, `/api/emergencies/${declared.id}/report`);
    expect(onScreen.mobilisation).toEqual(report.mobilisation);
    const xlsx = await app.inject({ url: `/api/emergencies/${declared.id}/report?format=xlsx`, headers: as.leader });
    expect(xlsx.statusCode).toBe(200);
    expect(xlsx.headers['content-type']).toContain('spreadsheetml');
    expect(xlsx.rawPayload.subarray(0, 2).toString()).toBe('PK');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['概况', '时间线', '动员曲线', '网格', '工单']);
    const summary = wb.getWorksheet('概况')!;
    const called = summary.getRows(1, summary.rowCount)!.find((r) => r.getCell(1).value === '动员人数')!;
    expect(called.getCell(2).value).toBe(declared.mobilisation.called);
    expect(wb.getWorksheet('网格')!.rowCount).toBe(declared.grids + 1);
    expect((await app.inject({ url: `/api/emergencies/${declared.id}/report`, headers: as.otherDispatcher })).statusCode).toBe(404);
  });
});

describe('resources', () => {
  it('nearest to a clicked point, by KNN, in metres, inside the jurisdiction only', async () => {
    const near = await get<ResourceList>(as.dispatcher, `/api/emergency-resources/nearest?lon=${me.inside.lon}&lat=${me.inside.lat}&limit=5`);
    expect(near.items.length).toBe(5);
    const d = near.items.map((r) => r.distanceM!);
    expect(d).toEqual([...d].sort((x, y) => x - y));
    // The true nearest by exact distance over every resource of the street agrees with the index's answer.
    const { rows: [best] } = await db.query<{ id: number }>(sql`
      SELECT id FROM emergency_resources WHERE path LIKE ${street.path + '%'}
       ORDER BY ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(${me.inside.lon}::float8, ${me.inside.lat}::float8), 4326)::geography) LIMIT 1`);
    expect(near.items[0]!.id).toBe(best!.id);
    const all = await get<ResourceList>(as.otherDispatcher, '/api/emergency-resources');
    expect(all.items.length).toBeGreaterThan(0);
    const theirs = await get<ResourceList>(as.otherDispatcher, `/api/emergency-resources/nearest?lon=${me.inside.lon}&lat=${me.inside.lat}&kind=shelter`);
    expect(theirs.items.every((r) => all.items.some((x) => x.id === r.id))).toBe(true);
    expect(theirs.items.some((r) => r.id === best!.id)).toBe(false);
  });

  it('are data an admin keeps (audited); others may not change them', async () => {
    const body = { kind: 'team', name: '测试突击队', lon: me.inside.lon, lat: me.inside.lat, headcount: 30, contact: '13800000000' };
    expect((await post(as.leader, '/api/emergency-resources', body)).statusCode).toBe(403);
    const res = await post(as.admin, '/api/emergency-resources', body);
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json() as { id: number; headcount: number };
    expect(created.headcount).toBe(30);
    const near = await get<ResourceList>(as.dispatcher, `/api/emergency-resources/nearest?lon=${me.inside.lon}&lat=${me.inside.lat}&limit=1`);
    expect(near.items[0]!.id).toBe(created.id);
    const patched = await app.inject({ method: 'PATCH', url: `/api/emergency-resources/${created.id}`, headers: as.admin, payload: { headcount: 45 } });
    expect((patched.json() as { headcount: number }).headcount).toBe(45);
    expect((await app.inject({ method: 'DELETE', url: `/api/emergency-resources/${created.id}`, headers: as.admin })).statusCode).toBe(204);
    const { rows: [a] } = await db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM audit_log WHERE subject_type = 'emergency_resource' AND subject_id = ${String(created.id)}`);
    expect(a!.n).toBe(3);
  });
});
