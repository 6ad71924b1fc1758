/**
 * GET /api/workers/online-history: field workers online per minute, from stored positions, inside
 * the caller's jurisdiction. Hand-made presence: four workers' fixes over the last hour, counted by
 * hand against the offline timeout (5 minutes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import type { OnlineHistory } from '@shared/workers-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

const T = Date.parse('2026-11-20T11:00:00+08:00');
const MIN = 60_000;
const clock = new ManualClock(T);

let db: Db;
let app: App;
let as: Record<'operator' | 'dispatcher' | 'worker', { authorization: string }>;
/** In the dispatcher's street: a full-time worker, a grid leader, a party member; and an auxiliary worker of another street. */
let inStreet: { fullTime: number; leader: number; party: number };
let elsewhere: number;

async function insertFixes(workerId: number, times: number[]): Promise<void> {
  await db.query(sql`
    INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom)
    SELECT ${workerId}, to_timestamp(u.t / 1000.0), to_timestamp(u.t / 1000.0), ST_SetSRID(ST_MakePoint(112.56, 37.86), 4326)
      FROM unnest(${times}::float8[]) AS u(t)`);
}

const every = (from: number, to: number, stepMs: number) => Array.from({ length: Math.floor((to - from) / stepMs) + 1 }, (_, i) => from + i * stepMs);

async function history(who: keyof typeof as, hours?: number): Promise<OnlineHistory> {
  const res = await app.inject({ method: 'GET', url: `/api/workers/online-history${hours ? `?hours=${hours}` : ''}`, headers: as[who] });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as OnlineHistory;
}
const at = (h: OnlineHistory, t: number) => h.online[h.t.indexOf(t)];

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock, config: { offlineAfterMs: 5 * MIN } });
  await app.ready();
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher'), worker: await login(app, 'worker') };
  const street = (await db.query<{ code: string }>(sql`
    SELECT r.code FROM users u JOIN regions r ON r.code = u.region_code WHERE u.username = 'dispatcher'`)).rows[0]!.code;
  const pick = async (role: string, inside: boolean) => Number((await db.query<{ id: number }>(sql`
    SELECT w.id::float8 AS id FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.role = ${role} AND (g.path LIKE ${'%/' + street + '/%'}) = ${inside} ORDER BY w.id LIMIT 1`)).rows[0]!.id);
  inStreet = { fullTime: await pick('full_time', true), leader: await pick('grid_leader', true), party: await pick('party_member', true) };
  elsewhere = await pick('auxiliary', false);
});

afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('GET /api/workers/online-history', () => {
  it('is zero everywhere without stored positions, one sample per minute over two hours', async () => {
    const h = await history('operator');
    expect(h.stepS).toBe(60);
    expect(h.offlineAfterMs).toBe(5 * MIN);
    expect(h.t.length).toBe(121);
    expect(h.t[0]).toBe(T - 120 * MIN);
    expect(h.t.at(-1)).toBe(T);
    expect(h.online.every((n) => n === 0)).toBe(true);
  });

  it('counts field workers online at each minute by the offline timeout, inside the jurisdiction only', async () => {
    // Full-time: every 30 s from 10:00 to 10:30. Grid leader: one fix at 10:40. Party member and
    // the other street's auxiliary: every minute for the whole two hours and before.
    await insertFixes(inStreet.fullTime, every(T - 60 * MIN, T - 30 * MIN, 30_000));
    await insertFixes(inStreet.leader, [T - 20 * MIN + 10_000]);
    await insertFixes(inStreet.party, every(T - 130 * MIN, T, MIN));
    await insertFixes(elsewhere, every(T - 130 * MIN, T, MIN));

    const desk = await history('dispatcher');
    expect(at(desk, T - 61 * MIN)).toBe(0);
    // Online from the end of the first fix's minute…
    expect(at(desk, T - 59 * MIN)).toBe(1);
    expect(at(desk, T - 45 * MIN)).toBe(1);
    // …until the timeout after the last fix (10:30): 10:35 still, 10:36 no more.
    expect(at(desk, T - 25 * MIN)).toBe(1);
    expect(at(desk, T - 24 * MIN)).toBe(0);
    // The grid leader's single fix at 10:40:10: online 10:41 to 10:45.
    expect(at(desk, T - 20 * MIN)).toBe(0);
    expect(at(desk, T - 19 * MIN)).toBe(1);
    expect(at(desk, T - 15 * MIN)).toBe(1);
    expect(at(desk, T - 14 * MIN)).toBe(0);
    expect(at(desk, T)).toBe(0);
    // Never more than one at a time here; the party member never counts.
    expect(Math.max(...desk.online)).toBe(1);

    // The district sees the other street's auxiliary worker too, at every minute.
    const district = await history('operator');
    for (let i = 0; i < district.t.length; i++) expect(district.online[i]).toBe(desk.online[i]! + 1);

    // Further back on request; the window is whole minutes ending now.
    const long = await history('operator', 6);
    expect(long.t.length).toBe(361);
    expect(at(long, T - 125 * MIN)).toBe(1);
    expect(at(long, T - 140 * MIN)).toBe(0);
  });

  it('is refused to grid workers and to the signed-out, and checks its input', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/workers/online-history', headers: as.worker })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/workers/online-history' })).statusCode).toBe(401);
    const bad = await app.inject({ method: 'GET', url: '/api/workers/online-history?hours=25', headers: as.operator });
    expect(bad.statusCode).toBe(400);
  });
});
