/**
 * Tracks and patrol benchmark: one worker's day (8,640 fixes) as a simplified track through the real
 * route (GET /api/workers/:id/track?tolerance=5, app.inject: auth, SQL, segmentation, Douglas–Peucker,
 * serialisation) with as many history rows beside it as asked; patrol coverage computed for whole hours
 * of every seeded worker walking, then served for all 853 grids; storage bytes per fix measured with
 * pg_total_relation_size over the day partitions.
 *
 * Works in a scratch database on DATABASE_URL's server (else postgres://postgres@127.0.0.1:5432/),
 * dropped at the end.
 *
 *   node --import tsx tests/bench/track.ts [--rows=N] [--days=N] [--coverage-hours=N] [--quick]
 *
 *   --rows=N            history rows to generate (default 10,000,000), spread over --days day partitions
 *   --days=N            days of history (default 7)
 *   --day-workers=N     workers sending a fix every 10 s all through the day measured, written time-ordered
 *                       as ingest writes them (default: the 3,605 seeded workers on duty, ≈ 31 M rows)
 *   --coverage-hours=N  hours of that day computed as patrol coverage (default 8: a shift)
 *   --no-baseline       skip the statement used before 6 December 2026 (by default every hour is computed
 *                       by both, in alternating order, and their results compared row for row)
 *   --db=NAME           keep the database NAME on the server instead of a dropped scratch one; a later run
 *                       with the same NAME reuses its work force and its history (generated only while the
 *                       history holds fewer than --rows), so 100 M rows are written once and measured again
 *   --no-coverage       measure the track route only (no coverage hours, no coverage served)
 */
import { sql } from '../../server/platform/db';
import { migrate } from '../../server/platform/db/migrate';
import { loadConfig } from '../../server/platform/config';
import { build } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { maintainPartitions } from '../../server/modules/tracks/partition-job';
import { partitionName, positionStorage } from '../../server/modules/tracks/partitions-repository';
import os from 'node:os';
import { computePatrolHour } from '../../server/modules/patrol/repository';
import { fixesQuery, loadFixColumns } from '../../server/modules/tracks/repository';
import { shanghaiDate } from '@shared/shanghai-time';
import { BENCH_DEMO_PASSWORD, openScratchDb, prepareWorkforce } from './lib/scratch-db';
import { computePatrolHourBaseline } from './lib/patrol-baseline';
import { Histogram } from './lib/histogram';
import { bytes, fmt, machineInfo, printReport, type Headline } from './lib/report';

const flags = process.argv.slice(2);
const arg = (name: string, fallback: number) => Number(flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const QUICK = flags.includes('--quick');
const ROWS = arg('rows', QUICK ? 500_000 : 10_000_000);
const DAYS = arg('days', QUICK ? 2 : 7);
const COVERAGE_HOURS = flags.includes('--no-coverage') ? 0 : arg('coverage-hours', QUICK ? 1 : 8);
const QUERIES = QUICK ? 30 : 200;
const BASELINE = !flags.includes('--no-baseline');
const COVERAGE = COVERAGE_HOURS > 0;
const KEEP = flags.find((f) => f.startsWith('--db='))?.slice('--db='.length);
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const log = (m: string) => console.log(`[track] ${m}`);

/** The day measured: its midnight in Shanghai. History fills the days before it. */
const DAY = Date.parse('2026-11-20T00:00:00+08:00');

async function main(): Promise<void> {
  const scratch = await openScratchDb('postgres', log, { keep: KEEP });
  const stop = async () => {
    await scratch.close().catch(() => undefined);
  };
  process.once('SIGTERM', () => void stop().then(() => process.exit(143)));
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  const { db } = scratch;
  try {
    // A kept database gets the migrations written since its last run (a rebuilt key included).
    if (scratch.reused) {
      const m0 = performance.now();
      await migrate(db);
      log(`kept database migrated (${fmt((performance.now() - m0) / 1000, 1)} s)`);
    }
    const force = scratch.reused
      ? { seeded: Number((await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM workers`)).rows[0]!.n) }
      : await prepareWorkforce(db, 0, log);
    for (let d = DAYS; d >= -1; d -= 2) await maintainPartitions(db, DAY - d * DAY_MS, 3650);
    const workers = (await db.query<{ id: number }>(sql`SELECT id::int AS id FROM workers ORDER BY id`)).rows.map((r) => Number(r.id));

    // History: ROWS fixes over DAYS days before the day measured, one fix per 10 s per worker.
    const perWorker = Math.ceil(ROWS / 8640 / DAYS);
    const historyWorkers = workers.slice(1, 1 + perWorker);
    const t0 = performance.now();
    let written = 0;
    // A kept database's history is completed where an earlier run stopped (each statement is whole).
    const kept = async (start: number) => Number((await db.query<{ n: string }>(sql`
      SELECT count(*)::text AS n FROM worker_positions
       WHERE recorded_at >= to_timestamp(${start / 1000}) AND recorded_at < to_timestamp(${(start + DAY_MS) / 1000})`)).rows[0]!.n);
    for (let d = DAYS; d >= 1 && written < ROWS; d--) {
      const start = DAY - d * DAY_MS;
      const already = scratch.reused ? await kept(start) : 0;
      written += already;
      if (already > 0) log(`history of day -${d} kept from an earlier run: ${fmt(already)} rows`);
      // 10 workers a statement (86,400 rows): 25 ran past the pool's 30 s statement timeout at load ≈ 20.
      for (let i = Math.floor(already / 8640); i < historyWorkers.length && written < ROWS; i += 10) {
        const ids = historyWorkers.slice(i, i + 10);
        const fixes = Math.min(8640, Math.ceil((ROWS - written) / ids.length));
        const res = await db.query(sql`
          INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
          SELECT w, to_timestamp(${start / 1000} + s * 10), to_timestamp(${start / 1000} + s * 10 + 1),
                 ST_SetSRID(ST_MakePoint(112.52 + (w % 97) * 0.002 + s * 0.000002, 37.82 + (w % 89) * 0.001 + sin(s / 300.0) * 0.003), 4326),
                 1.2, 90, 8, 0.8, 0
            FROM unnest(${ids}::bigint[]) AS w, generate_series(0, ${fixes - 1}) AS s
          ON CONFLICT (worker_id, recorded_at) DO NOTHING`);
        written += res.rowCount;
      }
      log(`history: ${fmt(written)} rows (${fmt(written / ((performance.now() - t0) / 1000))}/s)`);
    }
    const historyS = (performance.now() - t0) / 1000;

    // The day measured, written the way live ingest writes it: every worker on duty (the seeded field
    // force; party members are a reserve, off patrol) sends a fix every 10 s, so one tick of all of
    // them lands after another and a worker's day is spread over the whole partition's heap — not
    // contiguous, as a worker-by-worker insert would make it (which flattered the track figures before
    // 7 December 2026). The worker measured walks a meander with 3 m of jitter; the others walk around
    // a point of their home grid (what coverage is computed from).
    const seeded = (await db.query<{ id: number }>(sql`
      SELECT id::int AS id FROM workers WHERE active AND id = ANY(${workers.slice(0, force.seeded)}::bigint[]) ORDER BY id`)).rows.map((r) => Number(r.id));
    const dayWorkers = seeded.slice(0, arg('day-workers', QUICK ? 300 : seeded.length));
    const target = dayWorkers[0]!;
    const dayRows = dayWorkers.length * 8640;
    const dayWhere = sql`recorded_at >= to_timestamp(${DAY / 1000}) AND recorded_at < to_timestamp(${(DAY + DAY_MS) / 1000})`;
    const dayHas = Number((await db.query<{ n: string }>(sql`SELECT count(*)::text AS n FROM worker_positions WHERE ${dayWhere}`)).rows[0]!.n);
    const d0 = performance.now();
    if (dayHas !== dayRows) {
      if (dayHas > 0) await db.query(sql`DELETE FROM worker_positions WHERE ${dayWhere}`);
      // 7.5 minutes of ticks a statement (162,225 rows for 3,605 workers; 30 s statement timeout under load).
      for (let tick = 0; tick < 8640; tick += 45) {
        await db.query(sql`
          WITH g AS (SELECT w.id, ST_PointOnSurface(r.geom) AS p FROM workers w JOIN regions r ON r.code = w.home_grid_code WHERE w.id = ANY(${dayWorkers}::bigint[]))
          INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
          SELECT g.id, to_timestamp(${DAY / 1000} + s * 10), to_timestamp(${DAY / 1000} + s * 10 + 1),
                 CASE WHEN g.id = ${target}
                   THEN ST_SetSRID(ST_MakePoint(112.55 + sin(s / 700.0) * 0.01 + (random() - 0.5) * 0.00006,
                                                37.86 + cos(s / 450.0) * 0.008 + (random() - 0.5) * 0.00006), 4326)
                   ELSE ST_SetSRID(ST_MakePoint(ST_X(g.p) + sin(s / 40.0 + g.id) * 0.0015, ST_Y(g.p) + cos(s / 55.0 + g.id) * 0.0012), 4326)
                 END,
                 1.2, 90, 8, 0.8, 0
            FROM generate_series(${tick}::int, ${Math.min(8640, tick + 45) - 1}::int) AS s, g
           ORDER BY s, g.id`);
        if (tick % 1080 === 0) log(`day measured: ${fmt((tick + 45) * dayWorkers.length)} of ${fmt(dayRows)} rows, time-ordered (${fmt(((tick + 45) * dayWorkers.length) / ((performance.now() - d0) / 1000))}/s)`);
      }
    } else log(`day measured kept from an earlier run: ${fmt(dayRows)} rows`);
    const dayS = (performance.now() - d0) / 1000;
    await db.exec('ANALYZE worker_positions');
    // The partition job's hourly pass, as the server runs it (it vacuums yesterday's and today's
    // partitions: the first pass over a whole unvacuumed day reads all of it, later ones an hour's pages).
    const v0 = performance.now();
    const pass = await maintainPartitions(db, DAY + DAY_MS - 60_000, 3650);
    const vacuumS = (performance.now() - v0) / 1000;
    log(`partition job pass: vacuumed ${pass.vacuumed.join(', ')} in ${fmt(vacuumS, 1)} s`);
    const storage = await positionStorage(db);
    // The day as ingest writes it (a tick of everyone at a time) against the history (worker by worker).
    const dayBytes = Number((await db.query<{ b: string }>(sql`SELECT pg_total_relation_size(${partitionName(shanghaiDate(DAY))}::regclass)::text AS b`)).rows[0]!.b);
    const dayIndexBytes = Number((await db.query<{ b: string }>(sql`SELECT pg_indexes_size(${partitionName(shanghaiDate(DAY))}::regclass)::text AS b`)).rows[0]!.b);
    log(`rows in worker_positions: ${fmt(storage.rows)}, ${bytes(storage.bytes)}`);

    const clock = new ManualClock(DAY + DAY_MS - 60_000);
    const app = await build({ db, clock, config: { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, jwtSecret: 'bench-jwt-secret-of-at-least-32-characters', simulate: false, simulateTickets: false } });
    await app.ready();
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'operator', password: BENCH_DEMO_PASSWORD } });
    const headers = { authorization: `Bearer ${(login.json() as { token: string }).token}` };
    const url = `/api/workers/${target}/track?from=${new Date(DAY).toISOString()}&to=${new Date(DAY + DAY_MS).toISOString()}&tolerance=5`;
    const first = await app.inject({ url, headers });
    const body = first.json() as { properties: { fixes: number; vertices: number } };
    const track = new Histogram();
    for (let i = 0; i < QUERIES; i++) {
      const s = performance.now();
      const res = await app.inject({ url, headers });
      track.record(performance.now() - s);
      if (res.statusCode !== 200) throw new Error(`track ${res.statusCode}`);
    }
    const t = track.summary();
    // The same through the route for QUERIES different workers' days (their index pages not just read).
    const many = new Histogram();
    for (let i = 0; i < QUERIES; i++) {
      const w = dayWorkers[1 + ((i * 17) % (dayWorkers.length - 1))] ?? target;
      const s = performance.now();
      const res = await app.inject({ url: url.replace(`/workers/${target}/`, `/workers/${w}/`), headers });
      many.record(performance.now() - s);
      if (res.statusCode !== 200) throw new Error(`track ${res.statusCode}`);
    }
    log(`track: ${body.properties.fixes} fixes → ${body.properties.vertices} vertices, p50 ${fmt(t.p50)} ms, p99 ${fmt(t.p99)} ms; ${QUERIES} different workers p50 ${fmt(many.summary().p50)} ms, p99 ${fmt(many.summary().p99)} ms`);
    // SQL alone, the key's index-only scan against the heap path of the plain key (before migration 016:
    // every fix fetched from its heap page), alternated on the same worker.
    const sqlOnly = new Histogram();
    const heapPath = new Histogram();
    for (let i = 0; i < QUERIES; i++) {
      for (const which of i % 2 ? ['heap', 'key'] : ['key', 'heap']) {
        const s = performance.now();
        if (which === 'key') {
          await loadFixColumns(db, target, DAY, DAY + DAY_MS);
          sqlOnly.record(performance.now() - s);
        } else {
          await db.transaction(async (tx) => {
            await tx.exec('SET LOCAL enable_indexonlyscan = off');
            await loadFixColumns(tx, target, DAY, DAY + DAY_MS);
          });
          heapPath.record(performance.now() - s);
        }
      }
    }
    const plan = (await db.query<{ 'QUERY PLAN': string }>(sql`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${fixesQuery(target, DAY, DAY + DAY_MS)}`)).rows.map((r) => r['QUERY PLAN']);
    const scan = plan.find((l) => /Scan/.test(l))?.trim() ?? '?';
    const fetches = plan.find((l) => /Heap Fetches/.test(l))?.trim() ?? 'no heap fetch line';
    log(`track SQL alone: key p50 ${fmt(sqlOnly.summary().p50)} / p99 ${fmt(sqlOnly.summary().p99)} ms, heap path p50 ${fmt(heapPath.summary().p50)} / p99 ${fmt(heapPath.summary().p99)} ms; ${scan}, ${fetches}`);

    // Coverage: the workers on duty walking in their home grid (the day above), COVERAGE_HOURS hours from 09:00.
    const hourStart = DAY + 9 * HOUR_MS;
    // Every hour by the current statement and (unless --no-baseline) by the one before it, in
    // alternating order so neither always finds the hour's pages cached; results compared row for row.
    const snapshot = async (h: number) => {
      const visits = await db.query<{ k: string }>(sql`
        SELECT worker_id || ' ' || micro_grid_code AS k FROM patrol_visits WHERE hour_start = to_timestamp(${h / 1000}) ORDER BY 1`);
      const wh = await db.query<{ id: string; d: number; s: number }>(sql`
        SELECT worker_id::text AS id, distance_m AS d, inside_own_s AS s FROM patrol_worker_hours WHERE hour_start = to_timestamp(${h / 1000}) ORDER BY 1`);
      return { visits: visits.rows.map((r) => r.k), hours: wh.rows };
    };
    const hours: number[] = [];
    const baselineHours: number[] = [];
    const differences: string[] = [];
    let maxDistanceDiff = 0;
    let segments = 0;
    const load0 = os.loadavg();
    let current = 0;
    for (let h = 0; h < COVERAGE_HOURS; h++) {
      const start = hourStart + h * HOUR_MS;
      const runs = BASELINE ? (h % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline']) : ['current'];
      const seen: Record<string, Awaited<ReturnType<typeof snapshot>>> = {};
      let line = `coverage hour ${h + 1}:`;
      for (const which of runs) {
        const s = performance.now();
        const r = which === 'current'
          ? await computePatrolHour(db, start, shanghaiDate(hourStart), Date.now())
          : await computePatrolHourBaseline(db, start, shanghaiDate(hourStart), Date.now());
        const seconds = (performance.now() - s) / 1000;
        if (which === 'current') {
          hours.push(seconds);
          segments += r.segments;
          current += seconds;
        } else baselineHours.push(seconds);
        line += ` ${which} ${fmt(seconds, 1)} s (${fmt(r.segments)} segments, ${fmt(r.visits)} visits);`;
        if (BASELINE) seen[which] = await snapshot(start);
      }
      if (BASELINE) {
        const [a, b] = [seen.baseline!, seen.current!];
        if (a.visits.length !== b.visits.length || a.visits.some((k, i) => k !== b.visits[i])) differences.push(`hour ${h + 1}: visit sets differ (${a.visits.length} vs ${b.visits.length})`);
        if (a.hours.length !== b.hours.length || a.hours.some((r, i) => r.id !== b.hours[i]!.id || r.s !== b.hours[i]!.s)) differences.push(`hour ${h + 1}: worker-hours differ`);
        else a.hours.forEach((r, i) => (maxDistanceDiff = Math.max(maxDistanceDiff, Math.abs(r.d - b.hours[i]!.d))));
      }
      log(line);
    }
    const load1 = os.loadavg();
    if (differences.length > 0) throw new Error(`current and baseline coverage differ: ${differences.join('; ')}`);
    const coverageS = current;
    const baselineS = baselineHours.reduce((a, b) => a + b, 0);
    const serve = new Histogram();
    let grids = 0;
    for (let i = 0; COVERAGE && i < (QUICK ? 5 : 20); i++) {
      const s = performance.now();
      const res = await app.inject({ url: `/api/patrol/coverage?date=${shanghaiDate(DAY)}&level=grid`, headers });
      serve.record(performance.now() - s);
      grids = (res.json() as unknown[]).length;
    }
    await app.close();

    const perFix = storage.bytes / storage.rows;
    const headlines: Headline[] = [
      { metric: `Track of one worker’s day (${fmt(body.properties.fixes)} fixes → ${fmt(body.properties.vertices)} vertices at 5 m), p99 with ${fmt(storage.rows)} rows of history`, value: `${fmt(t.p99)} ms (p50 ${fmt(t.p50)})`, target: '≤ 50 ms (with 100 M rows)', pass: t.p99 <= 50 },
      { metric: `Track of ${QUERIES} different workers’ days through the route, p99`, value: `${fmt(many.summary().p99)} ms (p50 ${fmt(many.summary().p50)})`, target: '≤ 50 ms', pass: many.summary().p99 <= 50 },
      ...(COVERAGE ? [] : [{ metric: 'Coverage', value: 'not measured (--no-coverage)' }]),
      ...(!COVERAGE ? [] : [{ metric: `Coverage of a day for all 853 grids computed: ${COVERAGE_HOURS} h × ${dayWorkers.length.toLocaleString('en')} workers on duty (${fmt(segments)} segments)`, value: `${fmt(coverageS, 1)} s (${hours.map((h) => fmt(h, 1)).join(' + ')} s)`, target: '≤ 60 s', pass: coverageS <= 60 },
      ...(COVERAGE && BASELINE ? [{ metric: 'Same day by the statement used before 6 December 2026 (same data, alternating order; identical visit sets and worker-hours checked)', value: `${fmt(baselineS, 1)} s (${baselineHours.map((h) => fmt(h, 1)).join(' + ')} s)` }] : []),
      { metric: `Coverage served for all ${grids} grids of a day`, value: `p99 ${fmt(serve.summary().p99)} ms`, target: '853 grids', pass: grids === 853 }]),
      { metric: 'Storage per fix (table + indexes, all partitions)', value: `${fmt(perFix, 1)} B` },
      { metric: 'Storage per fix of the day measured, written as ingest writes (of which indexes)', value: `${fmt(dayBytes / dayRows, 1)} B (${fmt(dayIndexBytes / dayRows, 1)} B)` },
      { metric: 'Storage per worker-day (8,640 fixes)', value: bytes(perFix * 8640) },
    ];
    printReport({
      bench: 'track',
      headlines,
      tables: [{
        title: 'Set-up',
        headers: ['Item', 'Value'],
        rows: [
          ['PostgreSQL / PostGIS', `${scratch.versions.postgres} / ${scratch.versions.postgis}`],
          ['History generated', `${fmt(written)} rows, ${historyWorkers.length} workers × ${DAYS} days, ${fmt(historyS, 1)} s`],
          ['Day measured (time-ordered, as ingest writes it)', `${fmt(dayRows)} rows, ${dayWorkers.length.toLocaleString('en')} workers × 8,640 fixes${dayS > 1 ? `, ${fmt(dayS, 1)} s` : ', kept'}`],
          ['Rows in worker_positions', fmt(storage.rows)],
          ['Size of worker_positions', bytes(storage.bytes)],
          ['Track requests measured', String(QUERIES)],
          ['Partition job pass (VACUUM (ANALYZE) of the day before and the day measured)', `${fmt(vacuumS, 1)} s`],
          ['Track through the route, one worker / 200 different workers, p50 / p99', `${fmt(t.p50)} / ${fmt(t.p99)} ms — ${fmt(many.summary().p50)} / ${fmt(many.summary().p99)} ms`],
          ['Track SQL alone (loadFixColumns): covering key, p50 / p99', `${fmt(sqlOnly.summary().p50)} / ${fmt(sqlOnly.summary().p99)} ms (${scan}; ${fetches})`],
          ['Same, heap path of a plain key (enable_indexonlyscan off), alternated, p50 / p99', `${fmt(heapPath.summary().p50)} / ${fmt(heapPath.summary().p99)} ms`],
          ['Load average (1 / 5 / 15 min) before / after the coverage', `${load0.map((l) => l.toFixed(1)).join(' / ')} → ${load1.map((l) => l.toFixed(1)).join(' / ')}`],
          ...(BASELINE ? [['Largest difference in a worker-hour’s distance, current vs before', `${maxDistanceDiff.toExponential(1)} m`]] : []),
        ],
      }],
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
