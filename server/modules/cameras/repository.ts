/**
 * Cameras' SQL. Every read for a user is scoped (`scope.covers(path)`); the source URL is selected
 * only by `sourceOf`, which the media side uses, never by what the API returns.
 */
import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import {
  FACING_AWAY_PENALTY,
  playKindOf,
  type CameraCodec,
  type CameraKind,
  type CameraProperties,
  type CameraSourceType,
  type CameraStatus,
  type NearestCamera,
} from '@shared/cameras-api';

interface CameraRow {
  id: number | string;
  code: string;
  name: string;
  kind: CameraKind;
  bearing: number | null;
  fovDeg: number | null;
  status: CameraStatus;
  statusReason: string | null;
  checkedAt: Date | string | null;
  sourceType: CameraSourceType;
  codec: CameraCodec;
  demo: boolean;
  regionCode: string;
  regionName: string;
  gridCode: string | null;
  lon: number;
  lat: number;
  path: string;
}

const COLUMNS = sql`
  c.id, c.code, c.name, c.kind, c.bearing, c.fov_deg AS "fovDeg", c.status, c.status_reason AS "statusReason", c.checked_at AS "checkedAt",
  c.source_type AS "sourceType", c.codec, c.demo, c.region_code AS "regionCode", rr.name AS "regionName", c.grid_code AS "gridCode",
  ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.path`;

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

export type CameraRecord = CameraProperties & { lon: number; lat: number; path: string };

function toCamera(r: CameraRow): CameraRecord {
  return {
    id: Number(r.id),
    code: r.code,
    name: r.name,
    kind: r.kind,
    bearing: r.bearing === null ? null : Number(r.bearing),
    fovDeg: r.fovDeg === null ? null : Number(r.fovDeg),
    status: r.status,
    statusReason: r.statusReason,
    checkedAt: iso(r.checkedAt),
    sourceType: r.sourceType,
    codec: r.codec,
    play: playKindOf(r.sourceType, r.codec),
    demo: r.demo,
    regionCode: r.regionCode,
    regionName: r.regionName,
    gridCode: r.gridCode,
    lon: Number(r.lon),
    lat: Number(r.lat),
    path: r.path,
  };
}

export async function list(db: Queryable, scope: Scope): Promise<CameraRecord[]> {
  const { rows } = await db.query<CameraRow>(sql`
    SELECT ${COLUMNS} FROM cameras c JOIN regions rr ON rr.code = c.region_code
     WHERE ${scope.covers('c.path')} ORDER BY c.code`);
  return rows.map(toCamera);
}

export async function find(db: Queryable, scope: Scope, id: number): Promise<CameraRecord | undefined> {
  const { rows: [r] } = await db.query<CameraRow>(sql`
    SELECT ${COLUMNS} FROM cameras c JOIN regions rr ON rr.code = c.region_code
     WHERE c.id = ${id} AND ${scope.covers('c.path')}`);
  return r ? toCamera(r) : undefined;
}

/** Whether a camera exists at all (to tell 403 from 404 for someone outside its jurisdiction). */
export async function exists(db: Queryable, id: number): Promise<boolean> {
  const { rows } = await db.query(sql`SELECT 1 FROM cameras WHERE id = ${id}`);
  return rows.length > 0;
}

export async function findByCode(db: Queryable, code: string): Promise<{ id: number; path: string } | undefined> {
  const { rows: [r] } = await db.query<{ id: number | string; path: string }>(sql`SELECT id, path FROM cameras WHERE code = ${code}`);
  return r ? { id: Number(r.id), path: r.path } : undefined;
}

/** The source, for the media side only. */
export async function sourceOf(db: Queryable, id: number): Promise<{ sourceType: CameraSourceType; sourceUrl: string; codec: CameraCodec; name: string; code: string } | undefined> {
  const { rows: [r] } = await db.query<{ sourceType: CameraSourceType; sourceUrl: string; codec: CameraCodec; name: string; code: string }>(sql`
    SELECT source_type AS "sourceType", source_url AS "sourceUrl", codec, name, code FROM cameras WHERE id = ${id}`);
  return r;
}

/**
 * The cameras nearest a point inside the scope: a KNN shortlist over the GiST index, then the true
 * distance on the spheroid and the bearing from each camera to the point. A camera whose bearing
 * and field of view are known and which faces away ranks as if FACING_AWAY_PENALTY times further.
 */
export async function nearest(db: Queryable, scope: Scope, lon: number, lat: number, limit: number): Promise<NearestCamera[]> {
  const shortlist = Math.max(32, limit * 8);
  const { rows } = await db.query<CameraRow & { distanceM: number; azimuth: number | null; facing: boolean | null }>(sql`
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(${lon}::float8, ${lat}::float8), 4326) AS geom),
    near AS (
      SELECT c.* FROM cameras c, p WHERE ${scope.covers('c.path')} ORDER BY c.geom <-> p.geom LIMIT ${shortlist}
    ),
    measured AS (
      SELECT c.*, ST_Distance(c.geom::geography, p.geom::geography) AS distance_m,
             degrees(ST_Azimuth(c.geom::geography, p.geom::geography)) AS azimuth
        FROM near c, p
    ),
    judged AS (
      SELECT m.*, CASE WHEN m.bearing IS NULL OR m.fov_deg IS NULL THEN NULL
                       WHEN m.fov_deg >= 360 OR m.distance_m < 1 THEN true
                       ELSE abs(mod((coalesce(m.azimuth, 0) - m.bearing + 540)::numeric, 360) - 180) <= m.fov_deg / 2 END AS facing
        FROM measured m
    )
    SELECT ${COLUMNS}, c.distance_m AS "distanceM", c.azimuth, c.facing
      FROM judged c JOIN regions rr ON rr.code = c.region_code
     ORDER BY c.distance_m * (CASE WHEN c.facing = false THEN ${FACING_AWAY_PENALTY}::float8 ELSE 1 END), c.id
     LIMIT ${limit}`);
  return rows.map((r) => {
    const { path: _path, ...camera } = toCamera(r);
    return { ...camera, distanceM: Math.round(Number(r.distanceM) * 10) / 10, azimuth: Math.round(Number(r.azimuth ?? 0) * 10) / 10, facing: r.facing };
  });
}

/** The smallest region holding a point inside the scope, and the grid holding it (if any). */
export async function placeOf(db: Queryable, scope: Scope, lon: number, lat: number): Promise<{ code: string; path: string; gridCode: string | null } | undefined> {
  const { rows: [r] } = await db.query<{ code: string; path: string; level: string }>(sql`
    SELECT r.code, r.path, r.level FROM regions r
     WHERE r.level IN ('district', 'street', 'community', 'grid') AND ${scope.covers('r.path')}
       AND ST_Contains(r.geom, ST_SetSRID(ST_MakePoint(${lon}::float8, ${lat}::float8), 4326))
     ORDER BY length(r.path) DESC LIMIT 1`);
  return r ? { code: r.code, path: r.path, gridCode: r.level === 'grid' ? r.code : null } : undefined;
}

export interface CameraValues {
  code: string;
  name: string;
  kind: CameraKind;
  lon: number;
  lat: number;
  bearing: number | null;
  fovDeg: number | null;
  sourceType: CameraSourceType;
  sourceUrl: string;
  codec: CameraCodec;
  demo?: boolean;
}

export async function insert(db: Queryable, v: CameraValues, place: { code: string; path: string; gridCode: string | null }): Promise<number> {
  const { rows: [r] } = await db.query<{ id: number | string }>(sql`
    INSERT INTO cameras (code, name, kind, region_code, path, grid_code, geom, bearing, fov_deg, source_type, source_url, codec, demo)
    VALUES (${v.code}, ${v.name}, ${v.kind}, ${place.code}, ${place.path}, ${place.gridCode},
            ST_SetSRID(ST_MakePoint(${v.lon}::float8, ${v.lat}::float8), 4326), ${v.bearing}, ${v.fovDeg},
            ${v.sourceType}, ${v.sourceUrl}, ${v.codec}, ${v.demo ?? false})
    RETURNING id`);
  return Number(r!.id);
}

/** A changed source or place sends the camera back to 'unknown' until the next check. */
export async function update(db: Queryable, id: number, v: CameraValues, place: { code: string; path: string; gridCode: string | null }): Promise<void> {
  await db.query(sql`
    UPDATE cameras SET code = ${v.code}, name = ${v.name}, kind = ${v.kind}, region_code = ${place.code}, path = ${place.path}, grid_code = ${place.gridCode},
           geom = ST_SetSRID(ST_MakePoint(${v.lon}::float8, ${v.lat}::float8), 4326), bearing = ${v.bearing}, fov_deg = ${v.fovDeg},
           status = CASE WHEN source_url = ${v.sourceUrl} AND source_type = ${v.sourceType} THEN status ELSE 'unknown' END,
           source_type = ${v.sourceType}, source_url = ${v.sourceUrl}, codec = ${v.codec}, updated_at = now()
     WHERE id = ${id}`);
}

export async function remove(db: Queryable, id: number): Promise<void> {
  await db.query(sql`DELETE FROM cameras WHERE id = ${id}`);
}

/** Every camera with its source, for the status checker. */
export async function allSources(db: Queryable): Promise<{ id: number; sourceType: CameraSourceType; sourceUrl: string; status: CameraStatus; statusReason: string | null }[]> {
  const { rows } = await db.query<{ id: number | string; sourceType: CameraSourceType; sourceUrl: string; status: CameraStatus; statusReason: string | null }>(sql`
    SELECT id, source_type AS "sourceType", source_url AS "sourceUrl", status, status_reason AS "statusReason" FROM cameras ORDER BY id`);
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

export async function setStatuses(db: Queryable, results: readonly { id: number; status: CameraStatus; reason: string | null }[], now: number): Promise<void> {
  if (results.length === 0) return;
  await db.query(sql`
    UPDATE cameras c SET status = x.status, status_reason = x.reason, checked_at = to_timestamp(${now / 1000}::float8)
      FROM json_to_recordset(${JSON.stringify(results)}::json) AS x(id bigint, status text, reason text)
     WHERE c.id = x.id`);
}
