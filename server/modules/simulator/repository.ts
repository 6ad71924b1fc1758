import { sql, type Queryable } from '../../platform/db';
import type { UserRow } from '../auth/repository';
import type { Polygon } from './patrol';

export interface FieldWorker {
  id: number;
  code: string;
  grid: Polygon[];
  gridCode: string;
  /** The home grid's materialised path ('/district/street/community/grid/'). */
  gridPath: string;
  /** Households in the home grid (grids are drawn by households, so this is where people live). */
  households: number;
}

/** Active field workers (not the party-member reserve) with their home grid's polygons. */
export async function loadFieldWorkers(db: Queryable, limit?: number): Promise<FieldWorker[]> {
  const { rows } = await db.query<{ id: number; code: string; geom: string; gridCode: string; gridPath: string; households: number | null }>(sql`
    SELECT w.id, w.code, ST_AsGeoJSON(g.geom, 7) AS geom, g.code AS "gridCode", g.path AS "gridPath", g.households
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active AND w.role <> 'party_member'
     ORDER BY w.id
     ${limit ? sql`LIMIT ${limit}` : sql``}`);
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    grid: (JSON.parse(r.geom) as { coordinates: Polygon[] }).coordinates,
    gridCode: r.gridCode,
    gridPath: r.gridPath,
    households: r.households ?? 400,
  }));
}

/**
 * The password hash of the simulator's own accounts. It is no argon2 hash, so no password ever
 * verifies against it: nobody can sign in as a simulated worker or desk; only the server's own
 * token signer can act as one. It also marks which accounts are the simulator's.
 */
export const SIMULATED_ACCOUNT_HASH = '!simulated';

const SIMULATED_USER = sql`
  SELECT u.id, u.username, u.display_name AS "displayName", u.password_hash AS "passwordHash", u.role,
         u.region_code AS "regionCode", r.name AS "regionName", r.level AS "regionLevel", r.path AS "regionPath",
         u.worker_id AS "workerId", u.demo_password AS "demoPassword", u.active, u.token_version AS "tokenVersion"
    FROM users u JOIN regions r ON r.code = u.region_code
   WHERE u.password_hash = ${SIMULATED_ACCOUNT_HASH} AND u.username LIKE 'sim-%' AND u.active`;

/**
 * Makes sure the simulated workers and desks have accounts, and returns every active account of the
 * simulator. A worker gets `sim-<code>` (role worker, jurisdiction their home grid) unless a person
 * already has an account for them: that worker's phone is a real one, and their simulated account
 * is switched off. Each street gets a desk `sim-desk-<code>` (dispatcher), each district a centre
 * `sim-desk-<code>` (operator). A real account of the same name is never changed.
 */
export async function ensureSimulatedAccounts(
  db: Queryable,
  workerIds: readonly number[],
  deskRegionCodes: readonly string[],
): Promise<UserRow[]> {
  const ids = JSON.stringify(workerIds);
  const hash = SIMULATED_ACCOUNT_HASH;
  await db.query(sql`
    UPDATE users u SET active = false
     WHERE u.password_hash = ${hash} AND u.username LIKE 'sim-%' AND u.active
       AND EXISTS (SELECT 1 FROM users o WHERE o.worker_id = u.worker_id AND o.password_hash <> ${hash})`);
  await db.query(sql`
    INSERT INTO users (username, display_name, password_hash, role, region_code, worker_id)
    SELECT 'sim-' || w.code, w.name, ${hash}, 'worker', w.home_grid_code, w.id
      FROM workers w
     WHERE w.id IN (SELECT (json_array_elements_text(${ids}::json))::bigint)
       AND NOT EXISTS (SELECT 1 FROM users o WHERE o.worker_id = w.id AND o.password_hash <> ${hash})
    ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role,
      region_code = EXCLUDED.region_code, worker_id = EXCLUDED.worker_id, active = true
     WHERE users.password_hash = ${hash}`);
  await db.query(sql`
    INSERT INTO users (username, display_name, password_hash, role, region_code)
    SELECT 'sim-desk-' || r.code,
           r.name || CASE WHEN r.level = 'street' THEN '调度员（模拟）' ELSE '指挥中心值班台（模拟）' END,
           ${hash}, CASE WHEN r.level = 'street' THEN 'dispatcher' ELSE 'operator' END, r.code
      FROM regions r
     WHERE r.code IN (SELECT json_array_elements_text(${JSON.stringify(deskRegionCodes)}::json))
       AND r.level IN ('street', 'district')
    ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role,
      region_code = EXCLUDED.region_code, active = true
     WHERE users.password_hash = ${hash}`);
  const { rows } = await db.query<UserRow>(sql`${SIMULATED_USER} ORDER BY u.id`);
  return rows;
}

/** A simulated phone's identifier: 128 random bits, so nobody can guess one and move that worker. */
const SIMULATED_DEVICE = /^sim-[0-9a-f]{32}$/;

/**
 * The simulated phone of each worker, created on first use with an unguessable identifier and kept
 * in the devices table (the simulator reads it from there on every start). Simulated devices with
 * an identifier of the old, guessable form (`sim-<worker code>`) are removed (and returned, so the
 * ingest forgets them).
 */
export async function ensureSimulatedDevices(
  db: Queryable,
  workerIds: readonly number[],
  newIdentifier: () => string,
): Promise<{ devices: Map<number, string>; removed: string[] }> {
  const ids = JSON.stringify(workerIds);
  const { rows: gone } = await db.query<{ identifier: string }>(sql`
    DELETE FROM devices
     WHERE kind = 'simulated' AND identifier !~ ${SIMULATED_DEVICE.source}
       AND worker_id IN (SELECT (json_array_elements_text(${ids}::json))::bigint)
    RETURNING identifier`);
  const removed = gone.map((r) => r.identifier);
  const existing = async () => {
    const { rows } = await db.query<{ workerId: number; identifier: string }>(sql`
      SELECT DISTINCT ON (worker_id) worker_id AS "workerId", identifier FROM devices
       WHERE kind = 'simulated' AND worker_id IN (SELECT (json_array_elements_text(${ids}::json))::bigint)
       ORDER BY worker_id, id`);
    return new Map(rows.map((r) => [Number(r.workerId), r.identifier]));
  };
  const found = await existing();
  const missing = workerIds.filter((id) => !found.has(id));
  if (missing.length === 0) return { devices: found, removed };
  const fresh = missing.map(() => newIdentifier());
  await db.query(sql`
    INSERT INTO devices (identifier, worker_id, kind)
    SELECT d.identifier, d.worker_id, 'simulated'
      FROM unnest(${fresh}::text[], ${missing}::bigint[]) AS d(identifier, worker_id)
    ON CONFLICT (identifier) DO NOTHING`);
  return { devices: await existing(), removed };
}
