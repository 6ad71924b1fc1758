/** Bounding boxes of GeoJSON geometry, for fitting the map to a jurisdiction. */
import type { RegionFeatureCollection } from '@shared/api';

/** [west, south, east, north] */
export type Bounds = [number, number, number, number];

function extend(bounds: Bounds, coordinates: unknown): void {
  if (!Array.isArray(coordinates)) return;
  if (typeof coordinates[0] === 'number' && typeof coordinates[1] === 'number') {
    const [lon, lat] = coordinates as [number, number];
    if (lon < bounds[0]) bounds[0] = lon;
    if (lat < bounds[1]) bounds[1] = lat;
    if (lon > bounds[2]) bounds[2] = lon;
    if (lat > bounds[3]) bounds[3] = lat;
    return;
  }
  for (const child of coordinates) extend(bounds, child);
}

/** The box around every feature, or null for an empty collection. */
export function featureBounds(collection: RegionFeatureCollection): Bounds | null {
  const bounds: Bounds = [Infinity, Infinity, -Infinity, -Infinity];
  for (const feature of collection.features) extend(bounds, feature.geometry.coordinates);
  return Number.isFinite(bounds[0]) ? bounds : null;
}

/** The box around one geometry's coordinates (an emergency's area), or null when it has none. */
export function geometryBounds(geometry: { coordinates: unknown } | null | undefined): Bounds | null {
  const bounds: Bounds = [Infinity, Infinity, -Infinity, -Infinity];
  extend(bounds, geometry?.coordinates);
  return Number.isFinite(bounds[0]) ? bounds : null;
}
