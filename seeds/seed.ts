import { readFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Db, type Queryable } from '../server/platform/db';
import { hashPassword } from '../server/platform/auth/password';
import type { RegionLevel, UserRole, WorkerRole } from '../shared/domain';
import { createRandom } from '@shared/random';
import { chineseName, mobileNumber } from './people';
import { silentProgress, type Progress } from './progress';
import { SeedError } from './seed-error';
import { seedTicketHistory, type TicketHistoryOptions, type TicketHistorySummary } from './tickets-history';
import { seedResources } from '../server/modules/emergencies/repository';
import { seedDemoCameras } from './cameras';

export { SeedError } from './seed-error';
export { seedTicketHistory, type TicketHistoryOptions, type TicketHistorySummary } from './tickets-history';

const DATA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data');

interface BoundaryFeature {
  type: 'Feature';
  properties: { code: string; name: string; level: RegionLevel; parentCode: string | null; households: number | null };
  geometry: { type: 'MultiPolygon'; coordinates: unknown };
}

export interface RegionData {
  region: { slug: string; name: string; code: string; city: string; province: string };
  features: BoundaryFeature[];
}

/** Regions that can be seeded by name: the folders of seeds/data with a boundaries.json. */
export function availableRegions(): string[] {
  if (!existsSync(DATA_DIR)) return [];
  return readdirSync(DATA_DIR).filter((d) => existsSync(path.join(DATA_DIR, d, 'boundaries.json'))).sort();
}

export function loadRegionData(slug: string): RegionData {
  const file = path.join(DATA_DIR, slug, 'boundaries.json');
  if (!/^[a-z0-9-]+$/.test(slug) || !existsSync(file)) {
    throw new SeedError(`Unknown region "${slug}". Available: ${availableRegions().join(', ') || 'none'}.`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as RegionData;
}

export interface SeedOptions {
  /** Replace this region's data even though the database is not empty. */
  force?: boolean;
  /** Create the demo accounts (admin, leader, operator, dispatcher, worker). */
  demo?: boolean;
  demoPassword?: string;
  /**
   * Ticket history ending now (see seedTicketHistory): true or options to seed it, false not
   * to. Default: with the demo seed, 30 days by the system clock; pass a clock for identical rows.
   */
  history?: boolean | Pick<TicketHistoryOptions, 'clock' | 'days' | 'offerTimeoutS'>;
  progress?: Progress;
}

export interface SeedSummary {
  region: string;
  regions: Record<RegionLevel, number>;
  workers: Record<WorkerRole, number>;
  users: string[];
  /** The ticket history seeded, when it was. */
  tickets?: TicketHistorySummary;
}

/** Work-force ratios per grid, from Yingze's published figures (853 grids). */
const YINGZE = { grids: 853, auxiliary: 2640, partyMembers: 7247 };

/**
 * Seeds one region: its territory, its work force (deterministic names and phones) and, for the
 * demo, one account per role and 30 days of closed tickets. Idempotent: the same region seeded
 * again with `force` (and the same history clock) gives the same rows. Refuses a database that
 * already holds regions unless `force` is set.
 */
export async function seedRegion(db: Db, slug: string, options: SeedOptions = {}): Promise<SeedSummary> {
  const progress = options.progress ?? silentProgress;
  const data = loadRegionData(slug);
  const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM regions`);
  if ((rows[0]?.n ?? 0) > 0 && !options.force) {
    throw new SeedError(
      `The database already holds ${rows[0]?.n} regions: seeding refused so nothing is overwritten. ` +
        'Run with --force to replace this region’s data.',
    );
  }
  const districtCode = data.region.code;

  return db.transaction(async (tx) => {
    // Replacing a region removes its subtree; workers, users and positions go with it (FK cascade).
    await tx.query(sql`DELETE FROM regions WHERE code = ${districtCode}`);

    const counts = await insertRegions(tx, data, progress);
    const workers = await insertWorkers(tx, data, progress);
    // A few shelters, supply points and teams for emergency mode (data an admin keeps up afterwards).
    await seedResources(tx, districtCode);
    // About 60 demo cameras (视频监控) at junctions, high points and community entrances.
    await seedDemoCameras(tx, districtCode);
    const users = options.demo ? await insertDemoUsers(tx, data, options.demoPassword ?? '') : [];
    const history = options.history ?? options.demo ?? false;
    if (!history) return { region: slug, regions: counts, workers, users };
    const tickets = await seedTicketHistory(tx, { ...(history === true ? {} : history), regionCode: districtCode, progress });
    return { region: slug, regions: counts, workers, users, tickets };
  });
}

async function insertRegions(tx: Queryable, data: RegionData, progress: Progress): Promise<Record<RegionLevel, number>> {
  const paths = new Map<string, string>();
  const counts: Record<RegionLevel, number> = { district: 0, street: 0, community: 0, grid: 0, micro_grid: 0 };
  const rows = data.features.map((f) => {
    const { code, parentCode } = f.properties;
    const parentPath = parentCode ? paths.get(parentCode) : '/';
    if (parentPath === undefined) throw new SeedError(`Region ${code} comes before its parent ${parentCode}`);
    const regionPath = `${parentPath}${code}/`;
    paths.set(code, regionPath);
    counts[f.properties.level]++;
    return { ...f.properties, path: regionPath, geometry: JSON.stringify(f.geometry) };
  });
  const BATCH = 250;
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    await tx.query(sql`
      INSERT INTO regions (code, name, level, parent_code, path, households, geom)
      SELECT f->>'code', f->>'name', f->>'level', f->>'parentCode', f->>'path', (f->>'households')::int,
             ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326))
        FROM json_array_elements(${JSON.stringify(batch)}::json) AS f`);
    progress(Math.min(i + BATCH, rows.length), rows.length, 'regions');
  }
  return counts;
}

interface WorkerSeed {
  code: string;
  name: string;
  phone: string;
  role: WorkerRole;
  grid: string;
  active: boolean;
}

/**
 * The work force: one grid leader per community, one full- or part-time worker per grid, auxiliary
 * workers and party members spread over grids by household count (Yingze's ratios).
 */
export function planWorkers(data: RegionData): WorkerSeed[] {
  const random = createRandom(`workers:${data.region.code}`);
  const phones = new Set<string>();
  const grids = data.features.filter((f) => f.properties.level === 'grid');
  const communities = data.features.filter((f) => f.properties.level === 'community');
  const gridsByCommunity = new Map<string, BoundaryFeature[]>();
  for (const g of grids) {
    const list = gridsByCommunity.get(g.properties.parentCode ?? '') ?? [];
    list.push(g);
    gridsByCommunity.set(g.properties.parentCode ?? '', list);
  }
  const workers: WorkerSeed[] = [];
  const add = (role: WorkerRole, grid: string, active: boolean) => {
    workers.push({
      code: `${data.region.code}${String(workers.length + 1).padStart(6, '0')}`,
      name: chineseName(random),
      phone: mobileNumber(random, phones),
      role,
      grid,
      active,
    });
  };
  for (const c of communities) {
    const first = gridsByCommunity.get(c.properties.code)?.[0];
    if (first) add('grid_leader', first.properties.code, true);
  }
  for (const g of grids) add(random() < 0.65 ? 'full_time' : 'part_time', g.properties.code, true);
  const spread = (total: number, role: WorkerRole, active: boolean) => {
    // Largest-remainder apportionment by households, so the total is exact.
    const weights = grids.map((g) => g.properties.households ?? 1);
    const sum = weights.reduce((a, b) => a + b, 0);
    const quotas = weights.map((w) => (w / sum) * total);
    const shares = quotas.map(Math.floor);
    let rest = total - shares.reduce((a, b) => a + b, 0);
    const order = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, i] of order) {
      if (rest-- <= 0) break;
      shares[i]!++;
    }
    grids.forEach((g, i) => {
      for (let k = 0; k < shares[i]!; k++) add(role, g.properties.code, active);
    });
  };
  spread(Math.round((grids.length * YINGZE.auxiliary) / YINGZE.grids), 'auxiliary', true);
  spread(Math.round((grids.length * YINGZE.partyMembers) / YINGZE.grids), 'party_member', false);
  return workers;
}

async function insertWorkers(tx: Queryable, data: RegionData, progress: Progress): Promise<Record<WorkerRole, number>> {
  const workers = planWorkers(data);
  const counts: Record<WorkerRole, number> = { grid_leader: 0, full_time: 0, part_time: 0, auxiliary: 0, party_member: 0 };
  for (const w of workers) counts[w.role]++;
  const BATCH = 2000;
  for (let i = 0; i < workers.length; i += BATCH) {
    await tx.query(sql`
      INSERT INTO workers (code, name, phone, role, home_grid_code, active)
      SELECT w.code, w.name, w.phone, w.role, w.grid, w.active
        FROM json_to_recordset(${JSON.stringify(workers.slice(i, i + BATCH))}::json)
          AS w(code text, name text, phone text, role text, grid text, active boolean)`);
    progress(Math.min(i + BATCH, workers.length), workers.length, 'workers');
  }
  return counts;
}

interface DemoAccount {
  username: string;
  role: UserRole;
  displayName: string;
  region: string;
  workerId?: number;
}

/** The demo district's accounts, one per role; only the demo seed creates them. */
async function insertDemoUsers(tx: Queryable, data: RegionData, password: string): Promise<string[]> {
  if (!password) throw new SeedError('A demo password is required to create demo accounts.');
  const district = data.region.code;
  const streets = data.features.filter((f) => f.properties.level === 'street');
  // The demo dispatcher works for 柳巷街道 where it exists (Yingze), else the first street.
  const street = streets.find((s) => s.properties.name.includes('柳巷')) ?? streets[0];
  if (!street) throw new SeedError('The region has no streets.');
  const { rows } = await tx.query<{ id: number; name: string; grid: string }>(sql`
    SELECT w.id, w.name, w.home_grid_code AS grid FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.role = 'full_time' AND g.path LIKE ${`%/${street.properties.code}/%`} ORDER BY w.id LIMIT 1`);
  const worker = rows[0];
  if (!worker) throw new SeedError(`No full-time worker in ${street.properties.name}.`);
  const accounts: DemoAccount[] = [
    { username: 'admin', role: 'admin', displayName: '系统管理员', region: district },
    { username: 'leader', role: 'leader', displayName: `${data.region.name}领导`, region: district },
    { username: 'operator', role: 'operator', displayName: '指挥中心值班员', region: district },
    { username: 'dispatcher', role: 'dispatcher', displayName: `${street.properties.name}调度员`, region: street.properties.code },
    { username: 'worker', role: 'worker', displayName: worker.name, region: worker.grid, workerId: worker.id },
  ];
  for (const a of accounts) {
    await tx.query(sql`
      INSERT INTO users (username, display_name, password_hash, role, region_code, worker_id, demo_password)
      VALUES (${a.username}, ${a.displayName}, ${await hashPassword(password)}, ${a.role}, ${a.region},
              ${a.workerId ?? null}, true)
      ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name, password_hash = EXCLUDED.password_hash,
        role = EXCLUDED.role, region_code = EXCLUDED.region_code, worker_id = EXCLUDED.worker_id,
        demo_password = true, active = true`);
  }
  return accounts.map((a) => a.username);
}
