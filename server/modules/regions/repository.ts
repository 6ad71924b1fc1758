import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { RegionLevel } from '@shared/domain';

export interface RegionSummary {
  code: string;
  name: string;
  level: RegionLevel;
  parentCode: string | null;
  path: string;
}

/**
 * Regions at one level inside the scope, as a GeoJSON FeatureCollection text built by the database
 * (no per-feature JSON round trip through Node). The scope sees its own region and everything below.
 */
export async function regionsGeoJson(
  db: Queryable,
  scope: Scope,
  level: RegionLevel,
  parentCode?: string,
): Promise<string> {
  const { rows } = await db.query<{ fc: string }>(sql`
    SELECT json_build_object(
      'type', 'FeatureCollection',
      'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', r.code,
        'properties', json_build_object('code', r.code, 'name', r.name, 'level', r.level,
                                        'parentCode', r.parent_code, 'households', r.households),
        'geometry', ST_AsGeoJSON(r.geom, 7)::json
      ) ORDER BY r.code), '[]'::json)
    )::text AS fc
    FROM regions r
    WHERE r.level = ${level}
      AND ${scope.covers('r.path')}
      ${parentCode ? sql`AND r.parent_code = ${parentCode}` : sql``}`);
  return rows[0]?.fc ?? '{"type":"FeatureCollection","features":[]}';
}

export async function findRegion(db: Queryable, scope: Scope, code: string): Promise<RegionSummary | undefined> {
  const { rows } = await db.query<RegionSummary>(sql`
    SELECT code, name, level, parent_code AS "parentCode", path FROM regions
     WHERE code = ${code} AND ${scope.covers('path')}`);
  return rows[0];
}

/** The deepest grid containing a point (edges resolve to the lowest code, deterministically). */
export async function gridAt(db: Queryable, scope: Scope, lon: number, lat: number): Promise<RegionSummary | undefined> {
  const { rows } = await db.query<RegionSummary>(sql`
    SELECT code, name, level, parent_code AS "parentCode", path FROM regions
     WHERE level = 'grid' AND ${scope.covers('path')}
       AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326))
     ORDER BY code LIMIT 1`);
  return rows[0];
}
