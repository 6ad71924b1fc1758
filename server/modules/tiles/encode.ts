import GeoJSONVT from 'geojson-vt';
import { GeoJSONWrapper, fromVectorTileJs } from '@maplibre/vt-pbf';
import type { Feature, Geometry, Point as GeoJsonPoint } from 'geojson';
import type { Db, Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import { REGION_LEVELS } from '@shared/domain';
import { LABEL_LAYER, TILE_BUFFER, TILE_EXTENT, type TileCoord } from './layers';
import { mvtTile, tileFeatures } from './repository';
import { labelPoint, tidyRings } from './tile-grid';

/**
 * One vector tile of region boundaries inside the scope, as Mapbox Vector Tile bytes (version 2,
 * extent 4096, buffer 64, not compressed). An empty Buffer means nothing of the scope lies in the tile.
 * PostgreSQL encodes in one query with ST_AsMVT; PGlite's PostGIS is built without protobuf-c, so
 * there the regions come back as GeoJSON and are encoded here.
 */
export function encodeTile(db: Db, scope: Scope, coord: TileCoord): Promise<Buffer> {
  return db.engine === 'postgres' ? encodeTileMvt(db, scope, coord) : encodeTileFallback(db, scope, coord);
}

/** ST_AsMVT in the database (PostgreSQL server only). */
export function encodeTileMvt(db: Queryable, scope: Scope, coord: TileCoord): Promise<Buffer> {
  return mvtTile(db, scope, coord);
}

/** Layer order in the encoded tile, the same as ST_AsMVT's: polygon layers coarsest first, then labels. */
const LAYER_ORDER = [...REGION_LEVELS, LABEL_LAYER] as const;

type TileFeature = NonNullable<ReturnType<GeoJSONVT['getTile']>>['features'][number];

/**
 * The encoder for engines without ST_AsMVT (runs on any engine, so it can be checked against
 * ST_AsMVT on a server). Only this tile's regions, snapped to the tile's grid and cut down in SQL, go
 * into one geojson-vt index, which cuts them at the buffer in Web Mercator; nothing is indexed beyond
 * the path down to this one tile. Rings are then cleaned as ST_AsMVTGeom cleans them (tile-grid.ts).
 * Label points are placed directly.
 */
export async function encodeTileFallback(db: Queryable, scope: Scope, coord: TileCoord): Promise<Buffer> {
  const rows = await tileFeatures(db, scope, coord);
  const byLayer = new Map<string, TileFeature[]>();
  const add = (name: string, feature: TileFeature) => {
    const list = byLayer.get(name);
    if (list) list.push(feature);
    else byLayer.set(name, [feature]);
  };

  const polygons: Feature[] = [];
  for (const row of rows) {
    if (row.geometry === null) continue;
    if (row.layer === LABEL_LAYER) {
      const point = labelPoint((JSON.parse(row.geometry) as GeoJsonPoint).coordinates, coord);
      if (point) add(LABEL_LAYER, { type: 1, geometry: [point], tags: { code: row.code, name: row.name, level: row.level } });
    } else {
      polygons.push({
        type: 'Feature',
        geometry: JSON.parse(row.geometry) as Geometry,
        properties: { code: row.code, name: row.name, level: row.level, parentCode: row.parentCode },
      });
    }
  }
  if (polygons.length > 0) {
    // tolerance 0: no simplification. maxZoom 24 keeps geojson-vt's coordinates unrounded floats
    // (beyond its 32-bit range): the vertices, already on the tile grid, stay put, and only the cuts
    // at the buffer get rounded, once (with maxZoom = z geojson-vt rounds every cut on its way down).
    // indexMaxZoom 0: index nothing up front; getTile drills from z 0 straight down to this tile.
    const index = new GeoJSONVT(
      { type: 'FeatureCollection', features: polygons },
      { maxZoom: 24, indexMaxZoom: 0, tolerance: 0, extent: TILE_EXTENT, buffer: TILE_BUFFER },
    );
    for (const feature of index.getTile(coord.z, coord.x, coord.y)?.features ?? []) {
      if (feature.type !== 3) continue;
      const rings = tidyRings(feature.geometry);
      if (rings.length > 0) add(String(feature.tags?.level), { ...feature, geometry: rings });
    }
  }
  if (byLayer.size === 0) return Buffer.alloc(0);

  // GeoJSONWrapper + fromVectorTileJs is what vt-pbf's fromGeojsonVt does, minus its typing against
  // @maplibre/geojson-vt's tile shape (this project uses geojson-vt 5, whose tiles carry only features).
  const layers: Record<string, GeoJSONWrapper> = {};
  for (const name of LAYER_ORDER) {
    const list = byLayer.get(name);
    if (!list) continue;
    const layer = new GeoJSONWrapper(list, { version: 2, extent: TILE_EXTENT });
    layer.name = name;
    layers[name] = layer;
  }
  const bytes = fromVectorTileJs({ layers });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
