/**
 * Devices: who may bind, list and remove them (administrators, inside their jurisdiction), and
 * simulated phones whose identifiers nobody can guess.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { Simulator } from '../../server/modules/simulator/simulator';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

let db: Db;
let app: App;
const clock = new ManualClock(Date.now());
interface Placed { id: number; code: string; lon: number; lat: number }
let inside: Placed;
let inside2: Placed;
let outside: Placed;
let district: { authorization: string };
let street: { authorization: string };

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock });
  const pick = async (inStreet: boolean, offset: number): Promise<Placed> => {
    const { rows } = await db.query<Placed>(sql`
      SELECT w.id, w.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM workers w JOIN regions g ON g.code = w.home_grid_code
        JOIN regions s ON s.level = 'street' AND g.path LIKE '%/' || s.code || '/%'
       WHERE w.role = 'full_time' AND (s.name LIKE '%柳巷%') = ${inStreet} ORDER BY w.id OFFSET ${offset} LIMIT 1`);
    return rows[0]!;
  };
  inside = await pick(true, 0);
  inside2 = await pick(true, 1);
  outside = await pick(false, 0);
  await db.query(sql`
    INSERT INTO users (username, display_name, password_hash, role, region_code)
    SELECT 'street-admin', '柳巷街道管理员', password_hash, 'admin', region_code FROM users WHERE username = 'dispatcher'`);
  district = await login(app, 'admin');
  street = await login(app, 'street-admin');
});
afterAll(async () => {
  await app.close();
  await db.close();
});

const bind = (headers: { authorization: string }, identifier: string, workerId: number) =>
  app.inject({ method: 'POST', url: '/api/devices', headers, payload: { identifier, workerId } });
const report = (identifier: string, p: Placed) =>
  app.inject({ method: 'POST', url: `/api/osmand?id=${encodeURIComponent(identifier)}&lat=${p.lat}&lon=${p.lon}` });
const ownerOf = async (identifier: string) =>
  (await db.query<{ w: number | null }>(sql`SELECT worker_id AS w FROM devices WHERE identifier = ${identifier}`)).rows[0]?.w;

describe('binding a device', () => {
  it('a street admin cannot take over a device bound to a worker of another street (403 OUT_OF_JURISDICTION)', async () => {
    expect((await bind(district, 'phone-far-1', outside.id)).statusCode).toBe(201);
    const takeover = await bind(street, 'phone-far-1', inside.id);
    expect(takeover.statusCode).toBe(403);
    expect(takeover.json().code).toBe('OUT_OF_JURISDICTION');
    expect(await ownerOf('phone-far-1')).toBe(outside.id);
    // Its fixes still move the worker it belongs to.
    expect((await report('phone-far-1', outside)).statusCode).toBe(200);
    expect(app.ingest.state.workers.get(outside.id)!.hasFix).toBe(true);
  });

  it('moves a device between workers of its own jurisdiction; the district admin may move any', async () => {
    expect((await bind(street, 'phone-st-1', inside.id)).statusCode).toBe(201);
    expect((await bind(street, 'phone-st-1', inside2.id)).statusCode).toBe(201);
    expect(await ownerOf('phone-st-1')).toBe(inside2.id);
    expect((await bind(district, 'phone-far-1', inside.id)).statusCode).toBe(201);
    expect(await ownerOf('phone-far-1')).toBe(inside.id);
    expect((await bind(district, 'phone-far-1', outside.id)).statusCode).toBe(201);
  });

  it('is for admins only (403 FORBIDDEN), and for workers in their jurisdiction (404 NOT_FOUND)', async () => {
    const op = await bind(await login(app, 'operator'), 'phone-x-1', inside.id);
    expect(op.statusCode).toBe(403);
    expect(op.json().code).toBe('FORBIDDEN');
    const foreign = await bind(street, 'phone-x-1', outside.id);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('NOT_FOUND');
  });
});

describe('listing and removing devices', () => {
  it('lists the devices of workers in the caller’s jurisdiction only', async () => {
    const streetList = await app.inject({ url: '/api/devices', headers: street });
    expect(streetList.statusCode).toBe(200);
    const ids = (streetList.json() as { identifier: string; workerId: number }[]).map((d) => d.identifier);
    expect(ids).toContain('phone-st-1');
    expect(ids).not.toContain('phone-far-1');
    const all = (await app.inject({ url: '/api/devices', headers: district })).json() as { identifier: string; workerId: number; workerName: string }[];
    expect(all.map((d) => d.identifier)).toEqual(expect.arrayContaining(['phone-st-1', 'phone-far-1']));
    const one = (await app.inject({ url: `/api/devices?workerId=${inside2.id}`, headers: district })).json() as { identifier: string; workerId: number }[];
    expect(one.length).toBeGreaterThan(0);
    expect(one.every((d) => d.workerId === inside2.id)).toBe(true);
    const op = await app.inject({ url: '/api/devices', headers: await login(app, 'operator') });
    expect(op.statusCode).toBe(403);
    expect(op.json().code).toBe('FORBIDDEN');
  });

  it('removes a device (audited); its next fix is refused at once; another street’s device is not found', async () => {
    expect((await report('phone-st-1', inside2)).statusCode).toBe(200); // cached as known now
    const foreign = await app.inject({ method: 'DELETE', url: '/api/devices/phone-far-1', headers: street });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('NOT_FOUND');
    expect(await ownerOf('phone-far-1')).toBe(outside.id);

    const del = await app.inject({ method: 'DELETE', url: '/api/devices/phone-st-1', headers: street });
    expect(del.statusCode).toBe(204);
    const after = await report('phone-st-1', inside2);
    expect(after.statusCode).toBe(400);
    expect(after.json().code).toBe('DEVICE_UNKNOWN');
    const { rows } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE action = 'device.deleted' AND subject_id = 'phone-st-1'`);
    expect(rows[0]!.n).toBe(1);
    expect((await app.inject({ method: 'DELETE', url: '/api/devices/phone-st-1', headers: street })).statusCode).toBe(404);
    const nul = await app.inject({ method: 'DELETE', url: '/api/devices/a%00b', headers: street });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().code).toBe('VALIDATION_FAILED');
  });
});

describe('simulated phones', () => {
  it('get unguessable identifiers, kept in the devices table; the old sim-<code> form stops working', async () => {
    // A database from before: the worker's simulated phone was `sim-<worker code>`.
    const { rows: [first] } = await db.query<{ id: number; code: string }>(sql`
      SELECT w.id, w.code FROM workers w WHERE w.active AND w.role <> 'party_member' ORDER BY w.id LIMIT 1`);
    await app.ingest.registerDevice(`sim-${first!.code}`, first!.id, 'simulated');
    const options = { baseUrl: 'http://127.0.0.1:9', intervalS: 10, limit: 20 };
    const sim = new Simulator(db, app.ingest, clock, options);
    expect(await sim.load()).toBe(20);
    const devices = sim.fieldWorkers.map((w) => w.patrol.device);
    for (const d of devices) expect(d).toMatch(/^sim-[0-9a-f]{32}$/);
    expect(new Set(devices).size).toBe(20);
    const old = await report(`sim-${first!.code}`, inside);
    expect(old.statusCode).toBe(400);
    expect(old.json().code).toBe('DEVICE_UNKNOWN');
    // The next start reads the same identifiers back.
    const again = new Simulator(db, app.ingest, clock, options);
    await again.load();
    expect(again.fieldWorkers.map((w) => w.patrol.device)).toEqual(devices);
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM devices WHERE kind = 'simulated'`);
    expect(rows[0]!.n).toBe(20);
  });
});
