import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { seedRegion, SeedError, planWorkers, loadRegionData } from '../../seeds/seed';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';

let db: Db;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.close();
});

const fingerprint = async () =>
  (await db.query<{ r: string; w: string }>(sql`
    SELECT (SELECT md5(string_agg(code || name || ST_AsText(geom), ',' ORDER BY code)) FROM regions WHERE path LIKE '/140106/%') AS r,
           (SELECT md5(string_agg(w.code || w.name || w.phone || w.role || w.home_grid_code, ',' ORDER BY w.code))
              FROM workers w WHERE w.code LIKE '140106%') AS w`)).rows[0]!;

describe('seeding', () => {
  it('refuses a database that already holds regions', async () => {
    await expect(seedRegion(db, 'yingze')).rejects.toThrow(SeedError);
    await expect(seedRegion(db, 'yingze')).rejects.toThrow(/--force/);
  });

  it('names an unknown region and lists the ones it knows', async () => {
    await expect(seedRegion(db, 'atlantis', { force: true })).rejects.toThrow(/Unknown region "atlantis".*yingze/);
  });

  it('is deterministic: worker names and phones are the same every run', () => {
    const data = loadRegionData('yingze');
    const a = planWorkers(data).slice(0, 50);
    const b = planWorkers(data).slice(0, 50);
    expect(a).toEqual(b);
    expect(new Set(planWorkers(data).map((w) => w.phone)).size).toBe(planWorkers(data).length);
  });

  it('is idempotent: seeding again with force gives identical rows', async () => {
    const before = await fingerprint();
    const progress: string[] = [];
    // Like the template: no ticket history (its determinism is tested in tickets-history.test.ts).
    const summary = await seedRegion(db, 'yingze', {
      force: true, demo: true, demoPassword: TEST_DEMO_PASSWORD, history: false,
      progress: (done, total, label) => progress.push(`${label} ${done}/${total}`),
    });
    expect(summary.regions).toEqual({ district: 1, street: 7, community: 112, grid: 853, micro_grid: 2558 });
    expect(await fingerprint()).toEqual(before);
    expect(progress.at(-1)).toMatch(/^workers (\d+)\/\1$/); // progress reaches the end
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM users`);
    expect(rows[0]!.n).toBe(5);
  });

  it('seeds a second region by name (章丘区, 18 streets) beside the first', async () => {
    const summary = await seedRegion(db, 'zhangqiu', { force: true });
    expect(summary.regions.district).toBe(1);
    expect(summary.regions.street).toBe(18);
    expect(summary.users).toEqual([]); // demo accounts only in the demo seed
    const { rows } = await db.query<{ code: string; n: number }>(sql`
      SELECT split_part(path, '/', 2) AS code, count(*) AS n FROM regions WHERE level = 'street' GROUP BY 1 ORDER BY 1`);
    expect(rows).toEqual([{ code: '140106', n: 7 }, { code: '370114', n: 18 }]);
    const { rows: z } = await db.query<{ name: string }>(sql`SELECT name FROM regions WHERE code = '370114'`);
    expect(z[0]!.name).toBe('章丘区');
  });
});
