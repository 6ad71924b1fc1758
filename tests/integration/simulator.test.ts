import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { Simulator } from '../../server/modules/simulator/simulator';
import { LiveState } from '../../server/modules/positions/live-state';
import { createTestDb } from '../support/db';
import { buildTestApp } from '../support/app';

let db: Db;
let app: App;
// 10:00 in Shanghai, when the day shift is out.
const clock = new ManualClock(Date.parse('2026-11-23T02:00:00Z'));
let simulator: Simulator;

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock });
  await app.listen({ port: 0, host: '127.0.0.1' });
  simulator = new Simulator(db, app.ingest, clock, {
    baseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    intervalS: 1, // one tick steps everyone
  });
});
afterAll(async () => {
  simulator.stop();
  await app.close();
  await db.close();
});

describe('simulated work force', () => {
  it('registers a simulated phone per field worker and reports through the OsmAnd endpoint', async () => {
    const n = await simulator.load();
    expect(n).toBe(3605); // 112 + 853 + 2,640; the party-member reserve stays home
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM devices WHERE kind = 'simulated'`);
    expect(rows[0]!.n).toBe(3605);
    const onDuty = simulator.onDuty();
    expect(onDuty).toBeGreaterThan(3605 * 0.6);

    simulator.tick(); // ~3,000 fixes at once: queued and paced, not dropped
    for (let i = 0; i < 1200 && simulator.backlog > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(simulator.backlog).toBe(0);
    // Every on-duty worker has reported once, none dropped, all stored in PostGIS.
    expect(simulator.stats.dropped).toBe(0);
    expect(simulator.stats.failed).toBe(0);
    const online = [...app.ingest.state.workers.values()].filter((w) => LiveState.isOnline(w)).length;
    expect(online).toBeGreaterThanOrEqual(onDuty - 10); // a few may sit in a dead zone
    const stored = await db.query<{ n: number }>(sql`SELECT count(DISTINCT worker_id) AS n FROM worker_positions`);
    expect(stored.rows[0]!.n).toBe(online);
  });

  it('keeps every worker inside their own grid', async () => {
    const { rows } = await db.query<{ outside: number }>(sql`
      SELECT count(*) AS outside FROM worker_positions_latest p
        JOIN workers w ON w.id = p.worker_id JOIN regions g ON g.code = w.home_grid_code
       WHERE NOT ST_DWithin(p.geom::geography, g.geom::geography, 15)`); // GPS noise ≤ 10 m
    expect(rows[0]!.outside).toBe(0);
  });
});
