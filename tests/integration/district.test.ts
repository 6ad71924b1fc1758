/**
 * The seeded demo district, checked in SQL on the real engine: counts from the published figures,
 * official codes, and a topology where each level tiles its parent exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { createTestDb } from '../support/db';

let db: Db;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.close();
});

const one = async <T>(q: ReturnType<typeof sql>) => (await db.query<T>(q)).rows[0]!;

describe('Yingze district as seeded', () => {
  it('has the published counts of regions', async () => {
    const { rows } = await db.query<{ level: string; n: number }>(sql`SELECT level, count(*) AS n FROM regions GROUP BY level`);
    expect(Object.fromEntries(rows.map((r) => [r.level, r.n]))).toEqual({
      district: 1, street: 7, community: 112, grid: 853, micro_grid: 2558,
    });
  });

  it('has the official streets of 迎泽区 with their codes', async () => {
    const d = await one<{ code: string; name: string }>(sql`SELECT code, name FROM regions WHERE level = 'district'`);
    expect(d).toEqual({ code: '140106', name: '迎泽区' });
    const { rows } = await db.query<{ code: string; name: string }>(sql`SELECT code, name FROM regions WHERE level = 'street' ORDER BY code`);
    const names = rows.map((r) => r.name).join(',');
    for (const s of ['柳巷', '文庙', '庙前', '迎泽', '桥东', '老军营', '郝庄']) expect(names).toContain(s);
    for (const r of rows) expect(r.code).toMatch(/^140106\d{3}$/);
  });

  it('codes follow the hierarchy: community 12 digits, grid 15 = community + 3, micro-grid 18', async () => {
    const bad = await one<{ n: number }>(sql`
      SELECT count(*) AS n FROM regions c JOIN regions p ON p.code = c.parent_code
       WHERE NOT (left(c.code, length(p.code)) = p.code
         AND length(c.code) = CASE c.level WHEN 'street' THEN 9 WHEN 'community' THEN 12 WHEN 'grid' THEN 15 WHEN 'micro_grid' THEN 18 END)`);
    expect(bad.n).toBe(0);
    const g = await one<{ code: string; parent: string }>(sql`SELECT code, parent_code AS parent FROM regions WHERE level = 'grid' ORDER BY code LIMIT 1`);
    expect(g.code).toBe(`${g.parent}001`);
  });

  it('every geometry is a valid MultiPolygon in EPSG:4326', async () => {
    const r = await one<{ invalid: number; srid: number; types: string }>(sql`
      SELECT count(*) FILTER (WHERE NOT ST_IsValid(geom)) AS invalid, max(ST_SRID(geom)) AS srid,
             string_agg(DISTINCT GeometryType(geom), ',') AS types FROM regions`);
    expect(r).toEqual({ invalid: 0, srid: 4326, types: 'MULTIPOLYGON' });
  });

  it('each level tiles its parent: children are inside and their union is the parent', async () => {
    const r = await one<{ parents: number; maxGap: number; outside: number }>(sql`
      WITH u AS (
        SELECT p.code, p.geom, ST_Union(c.geom) AS children
          FROM regions p JOIN regions c ON c.parent_code = p.code GROUP BY p.code, p.geom)
      SELECT count(*) AS parents,
             max(ST_Area(ST_SymDifference(geom, children)::geography)) AS "maxGap",
             (SELECT count(*) FROM regions c JOIN regions p ON p.code = c.parent_code
               WHERE NOT ST_CoveredBy(c.geom, p.geom)) AS outside
        FROM u`);
    expect(r.parents).toBe(1 + 7 + 112 + 853);
    expect(r.outside).toBe(0);
    expect(r.maxGap).toBeLessThan(1e-3); // m²: exact up to floating point
  });

  it('no two regions of a level overlap (pairwise overlap area 0)', async () => {
    const r = await one<{ pairs: number; overlapping: number; area: number | null }>(sql`
      SELECT count(*) AS pairs,
             count(*) FILTER (WHERE ST_Relate(a.geom, b.geom, '2********')) AS overlapping,
             sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography))
               FILTER (WHERE ST_Relate(a.geom, b.geom, '2********')) AS area
        FROM regions a JOIN regions b ON a.level = b.level AND a.code < b.code AND a.geom && b.geom
       WHERE ST_Intersects(a.geom, b.geom)`);
    expect(r.pairs).toBeGreaterThan(5000); // neighbours touch along shared edges…
    expect(r.overlapping).toBe(0); // …but never share area
    expect(r.area ?? 0).toBe(0);
  });

  it('grids are denser in the old city than in the eastern mountains', async () => {
    const r = await one<{ west: number; east: number }>(sql`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Area(geom::geography)) FILTER (WHERE ST_X(ST_Centroid(geom)) < 112.58) AS west,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Area(geom::geography)) FILTER (WHERE ST_X(ST_Centroid(geom)) > 112.62) AS east
        FROM regions WHERE level = 'grid'`);
    expect(r.east).toBeGreaterThan(r.west * 3);
  });

  it('grids hold 300–500 households and the counts add up the tree', async () => {
    const r = await one<{ lo: number; hi: number; mismatched: number }>(sql`
      SELECT (SELECT min(households) FROM regions WHERE level = 'grid') AS lo,
             (SELECT max(households) FROM regions WHERE level = 'grid') AS hi,
             (SELECT count(*) FROM regions p WHERE p.level <> 'micro_grid'
                AND p.households <> (SELECT sum(c.households) FROM regions c WHERE c.parent_code = p.code)) AS mismatched`);
    expect(r.lo).toBeGreaterThanOrEqual(300);
    expect(r.hi).toBeLessThanOrEqual(500);
    expect(r.mismatched).toBe(0);
  });

  it('has the published work force, assigned to grids', async () => {
    const { rows } = await db.query<{ role: string; n: number; active: boolean }>(sql`
      SELECT role, count(*) AS n, bool_and(active) AS active FROM workers GROUP BY role`);
    const byRole = Object.fromEntries(rows.map((r) => [r.role, r.n]));
    expect(byRole).toEqual({ grid_leader: 112, full_time: expect.any(Number), part_time: expect.any(Number), auxiliary: 2640, party_member: 7247 });
    expect(byRole.full_time! + byRole.part_time!).toBe(853);
    expect(rows.find((r) => r.role === 'party_member')!.active).toBe(false); // the reserve
    const everyGrid = await one<{ n: number }>(sql`
      SELECT count(*) AS n FROM regions g WHERE g.level = 'grid'
         AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.home_grid_code = g.code AND w.role IN ('full_time', 'part_time'))`);
    expect(everyGrid.n).toBe(0);
    const phones = await one<{ bad: number; dup: number }>(sql`
      SELECT count(*) FILTER (WHERE phone !~ '^1[3-9][0-9]{9}$') AS bad, count(*) - count(DISTINCT phone) AS dup FROM workers`);
    expect(phones).toEqual({ bad: 0, dup: 0 });
  });
});
