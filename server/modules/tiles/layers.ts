import { REGION_LEVELS, type RegionLevel } from '@shared/domain';

/** Tile geometry: the Mapbox Vector Tile defaults, the same for both encoders. */
export const TILE_EXTENT = 4096;
export const TILE_BUFFER = 64;
export const MAX_ZOOM = 20;

/** The layer holding one label point per region; polygon layers are named after their level. */
export const LABEL_LAYER = 'labels';

/** Lowest zoom at which each level's polygons are in the tile (the client styles these layer names). */
export const POLYGON_MIN_ZOOM: Readonly<Record<RegionLevel, number>> = {
  district: 0,
  street: 0,
  community: 11,
  grid: 12,
  micro_grid: 15,
};

/** Lowest zoom at which each level's label point is in the `labels` layer. */
export const LABEL_MIN_ZOOM: Readonly<Record<RegionLevel, number>> = {
  district: 0,
  street: 9,
  community: 12,
  grid: 14,
  micro_grid: 16,
};

export interface TileCoord {
  z: number;
  x: number;
  y: number;
}

/** Levels whose polygons a tile at zoom z carries, in layer order (coarsest first). */
export function polygonLevels(z: number): RegionLevel[] {
  return REGION_LEVELS.filter((level) => z >= POLYGON_MIN_ZOOM[level]);
}

/** Levels whose label points a tile at zoom z carries. */
export function labelLevels(z: number): RegionLevel[] {
  return REGION_LEVELS.filter((level) => z >= LABEL_MIN_ZOOM[level]);
}
