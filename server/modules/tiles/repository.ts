import { join, raw, sql, type Queryable, type Sql } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { RegionLevel } from '@shared/domain';
import { LABEL_LAYER, TILE_BUFFER, TILE_EXTENT, labelLevels, polygonLevels, type TileCoord } from './layers';

/** The tile's square in Web Mercator (EPSG:3857), optionally grown by `margin` tile widths each side. */
function envelope({ z, x, y }: TileCoord, margin = 0): Sql {
  return margin === 0 ? sql`ST_TileEnvelope(${z}, ${x}, ${y})` : sql`ST_TileEnvelope(${z}, ${x}, ${y}, margin => ${margin})`;
}

/**
 * The same square in lon/lat, where the GiST index on regions.geom can answer `&&`. An axis-aligned
 * rectangle in 3857 is an axis-aligned rectangle in 4326 (meridians and parallels stay straight), so
 * transforming its corners is exact.
 */
function envelopeLonLat(coord: TileCoord, margin = 0): Sql {
  return sql`ST_Transform(${envelope(coord, margin)}, 4326)`;
}

/**
 * Regions whose label point may fall in the tile's buffer: twice the buffer, because the exact test
 * (inside the buffer once rounded to tile units, edges included) is made after snapping.
 */
const LABEL_MARGIN = (2 * TILE_BUFFER) / TILE_EXTENT;
/** How far around the tile the fallback's polygons are cut down in SQL, in tile widths. */
const CLIP_MARGIN = 0.5;

/**
 * The tile encoded by PostGIS in one query (ST_AsMVT, PostgreSQL server only): one layer per region
 * level in zoom range, then `labels`. Layers without features are left out; an empty result is an
 * empty Buffer.
 */
export async function mvtTile(db: Queryable, scope: Scope, coord: TileCoord): Promise<Buffer> {
  const shapeLevels = polygonLevels(coord.z);
  const pointLevels = labelLevels(coord.z);
  const mvtGeom = (geom: Sql) => sql`ST_AsMVTGeom(ST_Transform(${geom}, 3857), ${envelope(coord)}, ${TILE_EXTENT}, ${TILE_BUFFER}, true)`;
  const layer = (source: 'shapes' | 'labels', name: string, where: Sql) =>
    sql`(SELECT coalesce(ST_AsMVT(l, ${name}, ${TILE_EXTENT}, 'geom' ORDER BY l.code), ''::bytea)
           FROM ${raw(source)} l WHERE l.geom IS NOT NULL AND ${where})`;
  const layers = [
    ...shapeLevels.map((level) => layer('shapes', level, sql`l.level = ${level}`)),
    layer('labels', LABEL_LAYER, sql`true`),
  ];
  const { rows } = await db.query<{ tile: Buffer }>(sql`
    WITH shapes AS (
      SELECT r.code, r.name, r.level, r.parent_code AS "parentCode", ${mvtGeom(sql`r.geom`)} AS geom
        FROM regions r
       WHERE r.level = ANY(${shapeLevels}::text[])
         AND ${scope.covers('r.path')}
         AND ST_Intersects(r.geom, ${envelopeLonLat(coord)})
    ), labels AS (
      SELECT r.code, r.name, r.level, ${mvtGeom(sql`ST_PointOnSurface(r.geom)`)} AS geom
        FROM regions r
       WHERE r.level = ANY(${pointLevels}::text[])
         AND ${scope.covers('r.path')}
         AND ST_Intersects(r.geom, ${envelopeLonLat(coord, LABEL_MARGIN)})
    )
    SELECT ${join(layers, ' || ')} AS tile`);
  return rows[0]?.tile ?? Buffer.alloc(0);
}

export interface TileFeatureRow {
  /** Polygon layer (the region's level) or `labels`. */
  layer: RegionLevel | typeof LABEL_LAYER;
  code: string;
  name: string;
  level: RegionLevel;
  parentCode: string | null;
  /** GeoJSON geometry in lon/lat: the region snapped and cut down near the tile, or its label point. */
  geometry: string | null;
}

/**
 * What the fallback encoder needs for one tile (any engine; PGlite lacks ST_AsMVT): the regions
 * ST_AsMVT would get, as GeoJSON in lon/lat, prepared the way ST_AsMVTGeom prepares them:
 * - vertices snapped to the tile's unit grid in Web Mercator first (ST_AsMVTGeom snaps before it
 *   cuts; cutting unsnapped lines moves a steep edge's crossing of the buffer line by several units);
 * - then cut to the tile plus half a tile each side, so a street or the district at z 18 costs a few
 *   vertices, not its whole outline. The cut is in Web Mercator, where tile edges are straight, and
 *   well outside the buffer; the exact cut at the buffer is geojson-vt's.
 * Label points come unsnapped, with some slack; the encoder snaps and cuts them. Rows are ordered by
 * code; a polygon that snapping collapsed has a null geometry.
 */
export async function tileFeatures(db: Queryable, scope: Scope, coord: TileCoord): Promise<TileFeatureRow[]> {
  const shapeLevels = polygonLevels(coord.z);
  const pointLevels = labelLevels(coord.z);
  // 1e-9 degrees is about 0.1 mm: a hundredth of a tile unit even at z 20 (about 9 mm there).
  const digits = 9;
  const { rows } = await db.query<TileFeatureRow>(sql`
    SELECT r.level AS layer, r.code, r.name, r.level, r.parent_code AS "parentCode",
           ST_AsGeoJSON(ST_Transform(ST_CollectionExtract(ST_ClipByBox2D(
             ST_SnapToGrid(ST_Transform(r.geom, 3857), g.x0, g.y0, g.unit, g.unit),
             ${envelope(coord, CLIP_MARGIN)}::box2d), 3), 4326), ${digits}) AS geometry
      FROM regions r,
           (SELECT ST_XMin(e) AS x0, ST_YMax(e) AS y0, (ST_XMax(e) - ST_XMin(e)) / ${TILE_EXTENT} AS unit
              FROM (SELECT ${envelope(coord)} AS e) tile) g
     WHERE r.level = ANY(${shapeLevels}::text[])
       AND ${scope.covers('r.path')}
       AND ST_Intersects(r.geom, ${envelopeLonLat(coord)})
    UNION ALL
    SELECT ${LABEL_LAYER}::text, p.code, p.name, p.level, NULL, ST_AsGeoJSON(p.point, ${digits})
      FROM (SELECT r.code, r.name, r.level, ST_PointOnSurface(r.geom) AS point
              FROM regions r
             WHERE r.level = ANY(${pointLevels}::text[])
               AND ${scope.covers('r.path')}
               AND ST_Intersects(r.geom, ${envelopeLonLat(coord, LABEL_MARGIN)})) p
     WHERE ST_Intersects(p.point, ${envelopeLonLat(coord, LABEL_MARGIN)})
     ORDER BY code`);
  return rows;
}
