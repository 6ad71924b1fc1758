/**
 * The worker's phone (/field) reports its own positions through POST /api/positions, with the
 * worker's token, into the same ingest as every device: only the signed-in worker's own position,
 * answered per fix once stored, a resend never stored twice, 503 with Retry-After when nothing
 * could be stored. And a report the phone queued offline keeps the time it was made (reportedAt).
 * Failures are real database failures raised by a trigger this file installs, never mocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { LiveState } from '../../server/modules/positions/live-state';
import type { AppFixesReply } from '@shared/field';
import type { TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };

const clock = new ManualClock(Date.now());
let db: Db;
let app: App;
let worker: Headers;
let me: { workerId: number; lon: number; lat: number };
let otherWorkerId: number;

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock });
  await app.ready();
  worker = await login(app, 'worker');
  const { rows: [mine] } = await db.query<{ workerId: number; lon: number; lat: number }>(sql`
    SELECT u.worker_id AS "workerId", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  me = mine!;
  otherWorkerId = (await db.query<{ id: number }>(sql`SELECT id FROM workers WHERE id <> ${me.workerId} ORDER BY id LIMIT 1`)).rows[0]!.id;
  // Failure injection: a fix recorded at one of these instants fails its INSERT with that SQLSTATE.
  await db.exec(`
    CREATE TABLE test_fail_times (recorded_at timestamptz PRIMARY KEY, errcode text NOT NULL);
    CREATE FUNCTION test_fail_times() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE code text;
    BEGIN
      SELECT errcode INTO code FROM test_fail_times WHERE recorded_at = NEW.recorded_at;
      IF code IS NOT NULL THEN RAISE EXCEPTION 'injected failure at %', NEW.recorded_at USING ERRCODE = code; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_fail_times BEFORE INSERT ON worker_positions FOR EACH ROW EXECUTE FUNCTION test_fail_times();`);
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

let seq = 0;
/** A distinct time, a little in the past (whole seconds plus a millisecond part the phone keeps). */
const nextTime = () => clock.now() - 3_600_000 + ++seq * 1_000 + 123;
const fix = (time: number, extra: Record<string, unknown> = {}) =>
  ({ time: new Date(time).toISOString(), lat: me.lat, lon: me.lon, accuracy: 8, ...extra });
const post = (payload: unknown, headers: Headers | Record<string, never> = worker) =>
  app.inject({ method: 'POST', url: '/api/positions', headers, payload: payload as object });
const rowsAt = async (workerId: number, time: number) =>
  Number((await db.query<{ n: number }>(sql`
    SELECT count(*) AS n FROM worker_positions WHERE worker_id = ${workerId} AND recorded_at = to_timestamp(${time / 1000})`)).rows[0]!.n);

describe('POST /api/positions: the signed-in worker’s own position', () => {
  it('stores the fixes as the worker’s, answers per fix after they are stored, and the worker is online at once', async () => {
    clock.set(Date.now());
    const t1 = clock.now() - 20_000;
    const t2 = clock.now() - 10_000;
    const res = await post({ fixes: [fix(t1, { clientId: 'fix-1', speed: 1.2, heading: 90 }), fix(t2, { clientId: 'fix-2' })] });
    expect(res.statusCode).toBe(200);
    const body = res.json() as AppFixesReply;
    expect(body).toEqual({
      results: [{ index: 0, clientId: 'fix-1', status: 'stored' }, { index: 1, clientId: 'fix-2', status: 'stored' }],
      stored: 2, duplicate: 0, rejected: 0,
    });
    // Acknowledged only once committed: the rows are there when the answer arrives.
    expect(await rowsAt(me.workerId, t1)).toBe(1);
    expect(await rowsAt(me.workerId, t2)).toBe(1);
    const live = app.ingest.state.workers.get(me.workerId)!;
    expect(live.time).toBe(t2);
    expect(LiveState.isOnline(live)).toBe(true);
    const { rows: [latest] } = await db.query<{ t: number; device: number | null }>(sql`
      SELECT extract(epoch FROM recorded_at) * 1000 AS t, device_id AS device FROM worker_positions_latest WHERE worker_id = ${me.workerId}`);
    expect(Number(latest!.t)).toBe(t2);
    expect(latest!.device).toBeNull();
  });

  it('a resend (the phone retrying after a lost answer) is a duplicate, never stored twice', async () => {
    const t = nextTime();
    expect((await post({ fixes: [fix(t)] })).json()).toMatchObject({ stored: 1, duplicate: 0 });
    const again = await post({ fixes: [fix(t), fix(t)] });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ stored: 0, duplicate: 2, rejected: 0 });
    expect(await rowsAt(me.workerId, t)).toBe(1);
  });

  it('a phone that also runs Traccar Client is one worker: both tracks land on the same worker', async () => {
    await app.ingest.registerDevice('field-test-traccar', me.workerId, 'phone');
    const viaTraccar = nextTime();
    const viaApp = nextTime();
    const osmand = await app.inject({
      method: 'POST',
      url: `/api/osmand?id=field-test-traccar&lat=${me.lat}&lon=${me.lon}&timestamp=${Math.floor(viaTraccar / 1000)}`,
    });
    expect(osmand.statusCode).toBe(200);
    expect((await post({ fixes: [fix(viaApp)] })).json()).toMatchObject({ stored: 1 });
    const { rows } = await db.query<{ w: number }>(sql`
      SELECT DISTINCT worker_id AS w FROM worker_positions
       WHERE recorded_at IN (to_timestamp(${Math.floor(viaTraccar / 1000)}), to_timestamp(${viaApp / 1000}))`);
    expect(rows.map((r) => Number(r.w))).toEqual([me.workerId]);
  });

  it('only a worker account linked to a worker may report, and only for itself', async () => {
    for (const role of ['admin', 'dispatcher', 'operator', 'leader']) {
      const res = await post({ fixes: [fix(nextTime())] }, await login(app, role));
      expect(res.statusCode, role).toBe(403);
      expect(res.json().code, role).toBe('FORBIDDEN');
    }
    const anonymous = await post({ fixes: [fix(nextTime())] }, {});
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe('AUTH_REQUIRED');
    // No way to name another worker: the body has no such field.
    const other = await post({ workerId: otherWorkerId, fixes: [fix(nextTime())] });
    expect(other.statusCode).toBe(400);
    expect(other.json().code).toBe('VALIDATION_FAILED');
    const smuggled = await post({ fixes: [fix(nextTime(), { workerId: otherWorkerId })] });
    expect(smuggled.statusCode).toBe(400);
    expect(smuggled.json().code).toBe('VALIDATION_FAILED');
    // A worker account with no worker behind it has no position to share.
    await db.query(sql`
      INSERT INTO users (username, display_name, password_hash, role, region_code)
      SELECT 'field-unlinked', '未绑定', password_hash, 'worker', region_code FROM users WHERE username = 'worker'`);
    const unlinked = await post({ fixes: [fix(nextTime())] }, await login(app, 'field-unlinked'));
    expect(unlinked.statusCode).toBe(403);
    expect(unlinked.json().code).toBe('FORBIDDEN');
  });

  it('bad input: stable codes, per fix where the batch itself is well formed', async () => {
    for (const payload of [
      {},
      { fixes: [] },
      { fixes: Array.from({ length: 201 }, () => fix(nextTime())) },
      { fixes: [fix(nextTime(), { lat: 91 })] },
      { fixes: [fix(nextTime(), { lon: 'east' })] },
      { fixes: [{ ...fix(nextTime()), time: 'yesterday' }] },
      { fixes: [fix(nextTime(), { accuracy: -1 })] },
      { fixes: [fix(nextTime(), { clientId: 'has space' })] },
    ]) {
      const res = await post(payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    const now = clock.now();
    const res = await post({ fixes: [
      fix(nextTime(), { accuracy: 150 }),
      fix(now + 10 * 60_000),
      fix(now - 8 * 86_400_000),
      fix(nextTime(), { lat: 10, lon: 10 }),
      fix(nextTime(), { accuracy: 100 }),
    ] });
    expect(res.statusCode).toBe(200);
    const body = res.json() as AppFixesReply;
    expect(body.results.map((r) => [r.status, r.code])).toEqual([
      ['rejected', 'POSITION_INVALID'],
      ['rejected', 'POSITION_IN_FUTURE'],
      ['rejected', 'POSITION_TOO_OLD'],
      ['rejected', 'POSITION_OUT_OF_AREA'],
      ['stored', undefined],
    ]);
    expect(body).toMatchObject({ stored: 1, rejected: 4 });
    expect(body.retryAfterS).toBeUndefined();
  });
});

describe('under pressure', () => {
  /** 57P03 (the server cannot accept connections) fails the whole batch; 22023 (a data error) only that row. */
  const failAt = (time: number, errcode = '57P03') => db.query(sql`INSERT INTO test_fail_times VALUES (to_timestamp(${time / 1000}), ${errcode})`);
  const heal = () => db.query(sql`DELETE FROM test_fail_times`);

  it('nothing stored: 503 SERVICE_UNAVAILABLE with Retry-After and no database text; the resend is stored', async () => {
    const t = nextTime();
    const before = app.ingest.state.workers.get(me.workerId)!.time;
    await failAt(t);
    const res = await post({ fixes: [fix(t)] });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json().code).toBe('SERVICE_UNAVAILABLE');
    expect(res.body).not.toMatch(/injected|worker_positions/);
    expect(await rowsAt(me.workerId, t)).toBe(0);
    expect(app.ingest.state.workers.get(me.workerId)!.time).toBe(before);
    await heal();
    const resent = await post({ fixes: [fix(t)] });
    expect(resent.statusCode).toBe(200);
    expect(resent.json()).toMatchObject({ stored: 1 });
    expect(await rowsAt(me.workerId, t)).toBe(1);
  });

  it('some stored: 200 with the failed fix rejected SERVICE_UNAVAILABLE (send it again) and Retry-After', async () => {
    const good = nextTime();
    const bad = nextTime();
    await failAt(bad, '22023');
    const res = await post({ fixes: [fix(good, { clientId: 'good' }), fix(bad, { clientId: 'bad' })] });
    await heal();
    expect(res.statusCode).toBe(200);
    expect(res.headers['retry-after']).toBe('5');
    const body = res.json() as AppFixesReply;
    expect(body.results.map((r) => [r.clientId, r.status, r.code])).toEqual([['good', 'stored', undefined], ['bad', 'rejected', 'SERVICE_UNAVAILABLE']]);
    expect(body).toMatchObject({ stored: 1, rejected: 1, retryAfterS: 5 });
    expect([await rowsAt(me.workerId, good), await rowsAt(me.workerId, bad)]).toEqual([1, 0]);
  });
});

describe('a report queued offline keeps the time it was made', () => {
  const report = (extra: Record<string, unknown>) => app.inject({
    method: 'POST',
    url: '/api/tickets',
    headers: worker,
    payload: { category: 'sanitation', urgency: 'scheduled', description: '路边垃圾堆放', lon: me.lon, lat: me.lat, ...extra },
  });

  it('reportedAt becomes the ticket’s receivedAt; the resend returns the same ticket', async () => {
    const category = (await db.query<{ code: string }>(sql`SELECT code FROM ticket_categories WHERE active ORDER BY code LIMIT 1`)).rows[0]!.code;
    const reportedAt = new Date(clock.now() - 25 * 60_000).toISOString();
    const first = await report({ category, reportedAt, clientId: 'offline-report-1' });
    expect(first.statusCode).toBe(201);
    const ticket = first.json() as TicketSummary;
    expect(ticket.receivedAt).toBe(reportedAt);
    const again = await report({ category, reportedAt, clientId: 'offline-report-1' });
    expect(again.statusCode).toBe(200);
    expect((again.json() as TicketSummary).id).toBe(ticket.id);
    expect(Number((await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM tickets WHERE client_id = 'offline-report-1'`)).rows[0]!.n)).toBe(1);
    // Without it: now.
    const live = await report({ category, clientId: 'online-report-1' });
    expect(live.statusCode).toBe(201);
    expect(Date.parse((live.json() as TicketSummary).receivedAt)).toBe(clock.now());
  });

  it('a reportedAt in the future or older than 7 days is refused with TICKET_REPORTED_AT_INVALID (422)', async () => {
    const category = (await db.query<{ code: string }>(sql`SELECT code FROM ticket_categories WHERE active ORDER BY code LIMIT 1`)).rows[0]!.code;
    for (const at of [clock.now() + 5 * 60_000, clock.now() - 8 * 86_400_000]) {
      const res = await report({ category, reportedAt: new Date(at).toISOString(), clientId: `bad-time-${at}` });
      expect(res.statusCode).toBe(422);
      expect(res.json().code).toBe('TICKET_REPORTED_AT_INVALID');
    }
    const malformed = await report({ category, reportedAt: 'last tuesday' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBe('VALIDATION_FAILED');
  });
});
