import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { WorkerRole } from '@shared/domain';
import type { BBox } from '@shared/geo';

/** The SQL of the position pipeline: what the ingest loads, looks up and writes. */

export interface DeviceRow {
  identifier: string;
  id: number;
  workerId: number;
}

export async function loadWorkers(db: Queryable): Promise<{ id: number; role: WorkerRole; path: string }[]> {
  const { rows } = await db.query<{ id: number; role: WorkerRole; path: string }>(sql`
    SELECT w.id, w.role, g.path FROM workers w JOIN regions g ON g.code = w.home_grid_code`);
  return rows;
}

export async function loadDevices(db: Queryable): Promise<DeviceRow[]> {
  const { rows } = await db.query<DeviceRow>(sql`
    SELECT identifier, id, worker_id AS "workerId" FROM devices WHERE worker_id IS NOT NULL`);
  return rows;
}

export async function findDevice(db: Queryable, identifier: string): Promise<DeviceRow | undefined> {
  const { rows } = await db.query<DeviceRow>(sql`
    SELECT identifier, id, worker_id AS "workerId" FROM devices WHERE identifier = ${identifier} AND worker_id IS NOT NULL`);
  return rows[0];
}

/** The district level's extent, or undefined before anything is seeded. */
export async function loadServiceArea(db: Queryable): Promise<BBox | undefined> {
  const { rows } = await db.query<{ x0: number | null; y0: number; x1: number; y1: number }>(sql`
    SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
      FROM (SELECT ST_Extent(geom)::geometry AS e FROM regions WHERE level = 'district') s`);
  const r = rows[0];
  return r && r.x0 !== null ? [r.x0, r.y0, r.x1, r.y1] : undefined;
}

export interface LatestRow {
  id: number;
  lon: number;
  lat: number;
  t: number;
  speed: number | null;
  battery: number | null;
  flags: number;
}

export async function loadLatest(db: Queryable): Promise<LatestRow[]> {
  const { rows } = await db.query<LatestRow>(sql`
    SELECT worker_id AS id, ST_X(geom) AS lon, ST_Y(geom) AS lat, extract(epoch FROM recorded_at) * 1000 AS t,
           speed, battery, flags FROM worker_positions_latest`);
  return rows.map((r) => ({ ...r, t: Number(r.t) }));
}

/**
 * Binds a device to a worker, creating it if new. With a scope, an existing device whose worker lies
 * outside that jurisdiction is left alone and undefined comes back (an admin cannot take over another
 * street's phone); without one (the system: simulator, tests) it is always rebound.
 */
export async function upsertDevice(
  db: Queryable,
  d: { identifier: string; workerId: number; kind: string; scope?: Scope | undefined },
): Promise<DeviceRow | undefined> {
  const guard = d.scope
    ? sql`WHERE devices.worker_id IS NULL OR EXISTS (
        SELECT 1 FROM workers ow JOIN regions og ON og.code = ow.home_grid_code
         WHERE ow.id = devices.worker_id AND ${d.scope.covers('og.path')})`
    : sql``;
  const { rows } = await db.query<DeviceRow>(sql`
    INSERT INTO devices (identifier, worker_id, kind) VALUES (${d.identifier}, ${d.workerId}, ${d.kind})
    ON CONFLICT (identifier) DO UPDATE SET worker_id = EXCLUDED.worker_id, kind = EXCLUDED.kind
    ${guard}
    RETURNING identifier, id, worker_id AS "workerId"`);
  return rows[0];
}

export interface DeviceListRow {
  identifier: string;
  workerId: number;
  workerName: string;
  kind: string;
  createdAt: string;
}

/** Devices bound to workers inside the jurisdiction, newest first. */
export async function listDevicesInScope(
  db: Queryable,
  scope: Scope,
  filter: { workerId?: number | undefined; limit: number; offset: number },
): Promise<DeviceListRow[]> {
  const { rows } = await db.query<DeviceListRow & { createdAt: Date | string }>(sql`
    SELECT d.identifier, d.worker_id AS "workerId", w.name AS "workerName", d.kind, d.created_at AS "createdAt"
      FROM devices d JOIN workers w ON w.id = d.worker_id JOIN regions g ON g.code = w.home_grid_code
     WHERE ${scope.covers('g.path')} ${filter.workerId !== undefined ? sql`AND d.worker_id = ${filter.workerId}` : sql``}
     ORDER BY d.id DESC LIMIT ${filter.limit} OFFSET ${filter.offset}`);
  return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() }));
}

/** Deletes a device bound to a worker inside the jurisdiction; its stored fixes stay (device_id is set null). */
export async function deleteDeviceInScope(db: Queryable, scope: Scope, identifier: string): Promise<DeviceRow | undefined> {
  const { rows } = await db.query<DeviceRow>(sql`
    DELETE FROM devices d USING workers w, regions g
     WHERE d.identifier = ${identifier} AND w.id = d.worker_id AND g.code = w.home_grid_code AND ${scope.covers('g.path')}
    RETURNING d.identifier, d.id, d.worker_id AS "workerId"`);
  return rows[0];
}

/** One accepted fix on its way to PostGIS. */
export interface StoredFix {
  workerId: number;
  deviceId: number | null;
  /** ms since epoch, an integer. */
  time: number;
  receivedAt: number;
  lon: number;
  lat: number;
  speed: number | null;
  heading: number | null;
  accuracy: number | null;
  battery: number | null;
  flags: number;
}

const nullable = (v: number | null) => (v === null || Number.isNaN(v) ? null : v);

/**
 * Writes a batch in one statement, so in one transaction and one round trip: history append (a fix
 * already stored hits the primary key and is skipped) plus the "latest" upsert, which only moves
 * forward in time. Returns the keys (`workerId:time`) of the history rows actually inserted, so a
 * resent fix is told apart from a new one. Rows go in in (worker, time) order: two batches written
 * at once (the writer keeps two in flight) then take their row locks in the same order and cannot
 * deadlock each other.
 */
export async function storeFixes(db: Queryable, batch: StoredFix[]): Promise<Set<string>> {
  const fixes = [...batch].sort((a, b) => a.workerId - b.workerId || a.time - b.time);
  const col = <K extends keyof StoredFix>(k: K) => fixes.map((f) => f[k]);
  const history = sql`
    INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
    SELECT u.w, to_timestamp(u.t / 1000.0), to_timestamp(u.r / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326),
           u.s, u.h, u.a, u.b, u.f
      FROM unnest(${col('workerId')}::bigint[], ${col('time')}::float8[], ${col('receivedAt')}::float8[],
                  ${col('lon')}::float8[], ${col('lat')}::float8[], ${fixes.map((f) => nullable(f.speed))}::real[],
                  ${fixes.map((f) => nullable(f.heading))}::real[], ${fixes.map((f) => nullable(f.accuracy))}::real[],
                  ${fixes.map((f) => nullable(f.battery))}::real[], ${col('flags')}::int[])
        AS u(w, t, r, x, y, s, h, a, b, f)
     ORDER BY u.w, u.t
    ON CONFLICT (worker_id, recorded_at) DO NOTHING
    RETURNING worker_id AS w, round(extract(epoch FROM recorded_at) * 1000)::float8 AS t`;
  // Latest: the newest fix per worker in this batch, and only if newer than what is stored.
  const newest = new Map<number, StoredFix>();
  for (const f of fixes) {
    const prev = newest.get(f.workerId);
    if (!prev || f.time > prev.time) newest.set(f.workerId, f);
  }
  const latest = [...newest.values()]; // in worker order: `fixes` is sorted
  const lcol = <K extends keyof StoredFix>(k: K) => latest.map((f) => f[k]);
  const upsert = sql`
    INSERT INTO worker_positions_latest (worker_id, device_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
    SELECT u.w, u.d, to_timestamp(u.t / 1000.0), to_timestamp(u.r / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326),
           u.s, u.h, u.a, u.b, u.f
      FROM unnest(${lcol('workerId')}::bigint[], ${lcol('deviceId')}::bigint[], ${lcol('time')}::float8[],
                  ${lcol('receivedAt')}::float8[], ${lcol('lon')}::float8[], ${lcol('lat')}::float8[],
                  ${latest.map((f) => nullable(f.speed))}::real[], ${latest.map((f) => nullable(f.heading))}::real[],
                  ${latest.map((f) => nullable(f.accuracy))}::real[], ${latest.map((f) => nullable(f.battery))}::real[],
                  ${lcol('flags')}::int[])
        AS u(w, d, t, r, x, y, s, h, a, b, f)
     ORDER BY u.w
    ON CONFLICT (worker_id) DO UPDATE SET device_id = EXCLUDED.device_id, recorded_at = EXCLUDED.recorded_at,
      received_at = EXCLUDED.received_at, geom = EXCLUDED.geom, speed = EXCLUDED.speed, heading = EXCLUDED.heading,
      accuracy = EXCLUDED.accuracy, battery = EXCLUDED.battery, flags = EXCLUDED.flags
    WHERE worker_positions_latest.recorded_at < EXCLUDED.recorded_at`;
  // PostgreSQL runs the history insert first (the outer query reads it), the upsert to completion after it.
  const inserted = await db.query<{ w: number; t: number }>(sql`WITH history AS (${history}), latest AS (${upsert}) SELECT w, t FROM history`);
  return new Set(inserted.rows.map((r) => fixKey(Number(r.w), Number(r.t))));
}

export const fixKey = (workerId: number, time: number) => `${workerId}:${time}`;
