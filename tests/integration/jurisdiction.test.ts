import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

let db: Db;
let app: App;
let liuxiang: string;
let otherStreet: string;
beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
  const { rows } = await db.query<{ code: string; name: string }>(sql`SELECT code, name FROM regions WHERE level = 'street' ORDER BY code`);
  liuxiang = rows.find((r) => r.name.includes('柳巷'))!.code;
  otherStreet = rows.find((r) => r.code !== liuxiang)!.code;
});
afterAll(async () => {
  await app.close();
  await db.close();
});

type FC = { features: { properties: { code: string; parentCode: string; level: string } ; geometry: { type: string } }[] };

describe('jurisdiction', () => {
  it('the district operator sees all 853 grids as GeoJSON', async () => {
    const res = await app.inject({ url: '/api/regions?level=grid', headers: await login(app, 'operator') });
    expect(res.statusCode).toBe(200);
    const fc = res.json() as FC;
    expect(fc.features).toHaveLength(853);
    expect(fc.features[0]!.geometry.type).toBe('MultiPolygon');
    expect(fc.features[0]!.properties).toMatchObject({ level: 'grid', code: expect.stringMatching(/^\d{15}$/) });
  });

  it('the 柳巷 street dispatcher sees only that street’s grids and workers', async () => {
    const headers = await login(app, 'dispatcher');
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM regions WHERE level = 'grid' AND path LIKE ${`%/${liuxiang}/%`}`);
    const grids = (await app.inject({ url: '/api/regions?level=grid', headers })).json() as FC;
    expect(grids.features.length).toBe(rows[0]!.n);
    expect(grids.features.length).toBeGreaterThan(0);
    for (const f of grids.features) expect(f.properties.code.startsWith(liuxiang)).toBe(true);

    const streets = (await app.inject({ url: '/api/regions?level=street', headers })).json() as FC;
    expect(streets.features.map((f) => f.properties.code)).toEqual([liuxiang]);

    const workers = (await app.inject({ url: '/api/workers', headers })).json() as { streetCode: string; homeGrid: { code: string } }[];
    expect(workers.length).toBeGreaterThan(0);
    for (const w of workers) {
      expect(w.streetCode).toBe(liuxiang);
      expect(w.homeGrid.code.startsWith(liuxiang)).toBe(true);
    }
  });

  it('asking for another street’s children or workers returns nothing, not their data', async () => {
    const headers = await login(app, 'dispatcher');
    const { rows } = await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE parent_code = ${otherStreet} LIMIT 1`);
    const foreign = (await app.inject({ url: `/api/regions?level=community&parent=${otherStreet}`, headers })).json() as FC;
    expect(foreign.features).toEqual([]);
    const foreignGrids = (await app.inject({ url: `/api/regions?level=grid&parent=${rows[0]!.code}`, headers })).json() as FC;
    expect(foreignGrids.features).toEqual([]);
    const foreignWorkers = (await app.inject({ url: `/api/workers?region=${otherStreet}`, headers })).json() as unknown[];
    expect(foreignWorkers).toEqual([]);
  });

  it('a grid worker sees only their own grid', async () => {
    const headers = await login(app, 'worker');
    const me = (await app.inject({ url: '/api/auth/me', headers })).json() as { region: { code: string; level: string } };
    expect(me.region.level).toBe('grid');
    const grids = (await app.inject({ url: '/api/regions?level=grid', headers })).json() as FC;
    expect(grids.features.map((f) => f.properties.code)).toEqual([me.region.code]);
    const workers = (await app.inject({ url: '/api/workers', headers })).json() as { homeGrid: { code: string } }[];
    expect(new Set(workers.map((w) => w.homeGrid.code))).toEqual(new Set([me.region.code]));
  });

  it('filters by role and validates the query', async () => {
    const headers = await login(app, 'operator');
    const leaders = (await app.inject({ url: '/api/workers?role=grid_leader', headers })).json() as { role: string }[];
    expect(leaders).toHaveLength(112);
    const bad = await app.inject({ url: '/api/regions?level=planet', headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    const injection = await app.inject({ url: `/api/regions?level=grid&parent=${encodeURIComponent("1' OR '1'='1")}`, headers });
    expect(injection.statusCode).toBe(400);
  });
});
