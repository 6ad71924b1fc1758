/**
 * KPI benchmark: a year of ticket history for Yingze (seeded by seeds/tickets-history.ts at the
 * published rhythm: ≈ 260,000 tickets with their timelines; several minutes, hence opt-in:
 * `npm run bench -- kpis`), then the leader's query — 30 days at
 * street level (GET /api/stats/kpis?window=30d&level=street, through app.inject: auth, SQL,
 * serialisation) — timed many times; also the SQL alone, the other windows and levels, and the
 * month's grid assessment. Works in a scratch database on DATABASE_URL's server (else
 * postgres://postgres@127.0.0.1:5432/), dropped at the end; `--pglite` runs it embedded.
 *
 *   node --import tsx tests/bench/kpis.ts [--days=N] [--queries=N] [--quick] [--pglite]
 *
 *   --days=N     days of history (default 365; --quick 60)
 *   --queries=N  timed requests per figure (default 200; --quick 40)
 */
import { loadConfig } from '../../server/platform/config';
import { build } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { Scope } from '../../server/platform/auth/scope';
import { sql } from '../../server/platform/db';
import { seedTicketHistory } from '../../seeds/tickets-history';
import { refreshRollups } from '../../server/modules/stats/repository';
import { shanghaiDate } from '@shared/shanghai-time';
import { BENCH_DEMO_PASSWORD, openScratchDb, prepareWorkforce } from './lib/scratch-db';
import { Histogram } from './lib/histogram';
import { fmt, machineInfo, printReport, type Headline } from './lib/report';

const flags = process.argv.slice(2);
const arg = (name: string, fallback: number) => Number(flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const QUICK = flags.includes('--quick');
const ENGINE = flags.includes('--pglite') ? 'pglite' : 'postgres';
const DAYS = arg('days', QUICK ? 60 : 365);
const QUERIES = arg('queries', QUICK ? 40 : 200);
const log = (m: string) => console.log(`[kpis] ${m}`);

/** The history ends here: Friday 4 Dec 2026, 15:00 in Shanghai. */
const NOW = Date.parse('2026-12-04T07:00:00Z');

async function main(): Promise<void> {
  const scratch = await openScratchDb(ENGINE, log);
  const stop = async () => {
    await scratch.close().catch(() => undefined);
  };
  process.once('SIGTERM', () => void stop().then(() => process.exit(143)));
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  const { db } = scratch;
  try {
    await prepareWorkforce(db, 0, log);
    // The demo seed's 30 days give way to a whole year at the same rhythm.
    await db.exec('DELETE FROM tickets');
    const clock = new ManualClock(NOW);
    let t0 = performance.now();
    let last = 0;
    const summary = await seedTicketHistory(db, {
      clock,
      days: DAYS,
      progress: (done, total) => {
        if (done - last >= 50_000 || done === total) {
          last = done;
          log(`history ${fmt(done)} / ${fmt(total)} tickets`);
        }
      },
    });
    const seedS = (performance.now() - t0) / 1000;
    await db.exec('ANALYZE');
    const { rows: [counts] } = await db.query<{ tickets: number; events: number }>(sql`
      SELECT (SELECT count(*)::int FROM tickets) AS tickets, (SELECT count(*)::int FROM ticket_events) AS events`);
    log(`history: ${fmt(counts!.tickets)} tickets, ${fmt(counts!.events)} timeline entries over ${DAYS} days in ${fmt(seedS, 1)} s`);

    // The daily rollups of the whole year, built once (later reads refresh only the days tickets touched).
    t0 = performance.now();
    const days = await refreshRollups(db, shanghaiDate(NOW - DAYS * 86_400_000), shanghaiDate(NOW));
    const rollupS = (performance.now() - t0) / 1000;
    log(`rollups: ${days} days in ${fmt(rollupS, 1)} s`);

    const config = { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, jwtSecret: 'bench-jwt-secret-of-at-least-32-characters' };
    const app = await build({ db, config, clock, logger: { level: 'error' } });
    await app.ready();
    await app.ticketDeadlines.stop();
    await app.dispatchOffers.stop();
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'leader', password: BENCH_DEMO_PASSWORD } });
    const headers = { authorization: `Bearer ${(res.json() as { token: string }).token}` };

    const timeRoute = async (url: string, n = QUERIES) => {
      const h = new Histogram();
      let body: unknown;
      for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url, headers }); // warm
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        const r = await app.inject({ method: 'GET', url, headers });
        h.record(performance.now() - s);
        if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
        body = r.json();
      }
      return { s: h.summary(), body };
    };

    const street30 = await timeRoute('/api/stats/kpis?window=30d&level=street');
    const rows = street30.body as { name: string; values: { closedOnTimeRate: { num: number; den: number; rate: number } } }[];
    const den = rows.reduce((a, r) => a + r.values.closedOnTimeRate.den, 0);
    log(`30d × street: ${rows.length} streets, 应结案 ${fmt(den)}, p50 ${fmt(street30.s.p50)} ms, p99 ${fmt(street30.s.p99)} ms`);

    // The SQL alone (the service, no HTTP).
    const district = (await db.query<{ code: string; path: string }>(sql`SELECT code, path FROM regions WHERE level = 'district' LIMIT 1`)).rows[0]!;
    const scope = Scope.of(district.code, district.path);
    const sqlOnly = new Histogram();
    for (let i = 0; i < QUERIES; i++) {
      const s = performance.now();
      await app.stats.kpis(scope, { window: '30d', level: 'street' });
      sqlOnly.record(performance.now() - s);
    }
    const others: [string, string][] = [
      ['today × street', '/api/stats/kpis?window=today&level=street'],
      ['7d × district', '/api/stats/kpis?window=7d&level=district'],
      ['30d × grid (853 grids)', '/api/stats/kpis?window=30d&level=grid'],
      ['month × community', '/api/stats/kpis?window=month&level=community'],
      ['365 days × street', `/api/stats/kpis?from=${shanghaiDate(NOW - 364 * 86_400_000)}&to=${shanghaiDate(NOW)}&level=street`],
      ['30d × worker (whole district)', '/api/stats/kpis?window=30d&level=worker'],
      ['assessment of a month × grid', '/api/stats/assessment?month=2026-11'],
      ['overview (leader screen lists)', '/api/stats/overview'],
    ];
    const table: string[][] = [];
    for (const [name, url] of others) {
      try {
        const { s } = await timeRoute(url, Math.max(10, Math.round(QUERIES / 5)));
        table.push([name, fmt(s.p50), fmt(s.p99)]);
        log(`${name}: p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms`);
      } catch (error) {
        // A failure here is reported in the table (the app's log above says why), not a lost run.
        table.push([name, 'failed', (error as Error).message.slice(0, 120)]);
        log(`${name}: FAILED ${(error as Error).message}`);
      }
    }
    await app.close();

    const headlines: Headline[] = [
      {
        metric: `KPIs, 30 days × street (GET /api/stats/kpis), ${fmt(counts!.tickets)} tickets over ${DAYS} days`,
        value: `p99 ${fmt(street30.s.p99)} ms (p50 ${fmt(street30.s.p50)})`,
        target: '≤ 50 ms',
        pass: street30.s.p99 <= 50,
      },
      { metric: 'Same, the service alone (SQL, no HTTP)', value: `p99 ${fmt(sqlOnly.summary().p99)} ms (p50 ${fmt(sqlOnly.summary().p50)})` },
    ];
    printReport({
      bench: 'kpis',
      headlines,
      tables: [
        {
          title: 'Set-up',
          headers: ['Item', 'Value'],
          rows: [
            ['Engine', `${ENGINE} (PostgreSQL ${scratch.versions.postgres}, PostGIS ${scratch.versions.postgis})`],
            ['History', `${fmt(counts!.tickets)} tickets (${fmt(summary.closed)} closed, ${fmt(summary.open)} open), ${fmt(counts!.events)} timeline entries, ${DAYS} days`],
            ['Seeding time', `${fmt(seedS, 1)} s`],
            ['Daily rollups built (once, all days)', `${days} days in ${fmt(rollupS, 1)} s`],
            ['应结案 in the 30-day window (all streets)', fmt(den)],
            ['Requests per figure', String(QUERIES)],
          ],
        },
        { title: 'Other windows and levels (through the route)', headers: ['Query', 'p50 ms', 'p99 ms'], rows: table },
      ],
      machine: machineInfo(),
    });
  } finally {
    await stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
