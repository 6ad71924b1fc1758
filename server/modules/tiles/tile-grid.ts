/**
 * Geometry on one tile's integer grid, for the fallback encoder: the steps of ST_AsMVTGeom that
 * geojson-vt leaves out (snapping label points, cleaning rings after the cut).
 */
import type { Position } from 'geojson';
import { TILE_BUFFER, TILE_EXTENT, type TileCoord } from './layers';

export type Point = [number, number];
export type Ring = Point[];

/** A lon/lat in the tile's units (Web Mercator, y down, origin at the tile's top-left), unrounded. */
function toTileUnits(lon: number, lat: number, { z, x, y }: TileCoord): Point {
  const scale = 2 ** z * TILE_EXTENT;
  const sinLat = Math.sin((lat * Math.PI) / 180);
  return [
    ((lon + 180) / 360) * scale - x * TILE_EXTENT,
    (0.5 - Math.log((1 + sinLat) / (1 - sinLat)) / (4 * Math.PI)) * scale - y * TILE_EXTENT,
  ];
}

/** A label point in tile units, rounded, or null when outside the tile and its buffer (edges count). */
export function labelPoint([lon = NaN, lat = NaN]: Position, coord: TileCoord): Point | null {
  const [px, py] = toTileUnits(lon, lat, coord).map(Math.round) as Point;
  const inside = (v: number) => v >= -TILE_BUFFER && v <= TILE_EXTENT + TILE_BUFFER;
  return inside(px) && inside(py) ? [px, py] : null;
}

/**
 * The rings of a tile polygon (geojson-vt's output) cleaned as ST_AsMVTGeom cleans them: without
 * repeated vertices (snapping leaves many where a tile unit is metres wide), without the zero-width
 * spikes that cutting leaves along the buffer line, without rings that collapsed. geojson-vt winds
 * outer rings with positive area in tile coordinates and holes negative (the MVT convention), so a
 * hole is only kept after an outer ring. Empty when nothing is left.
 */
export function tidyRings(rings: readonly Ring[]): Ring[] {
  const out: Ring[] = [];
  for (const ring of rings) {
    const points = cleanRing(ring);
    const area = signedArea(points);
    if (area === 0 || (area < 0 && out.length === 0)) continue;
    out.push(points);
  }
  return out;
}

/**
 * A closed ring without repeated vertices or vertices on the line through their neighbours (straight
 * runs, and spikes that double back); empty when fewer than three vertices are left.
 */
function cleanRing(ring: readonly Point[]): Ring {
  const out: Ring = [];
  const same = (a: Point, b: Point) => a[0] === b[0] && a[1] === b[1];
  // Integer coordinates: the cross product is exact, so "collinear" means exactly collinear.
  const straight = (a: Point, b: Point, c: Point) => (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) === 0;
  for (const point of ring) {
    out.push(point);
    for (;;) {
      const n = out.length;
      if (n >= 2 && same(out[n - 2]!, out[n - 1]!)) out.pop();
      else if (n >= 3 && straight(out[n - 3]!, out[n - 2]!, out[n - 1]!)) out.splice(n - 2, 1);
      else break;
    }
  }
  // The same across the seam where the ring closes.
  while (out.length >= 3) {
    const n = out.length;
    if (same(out[n - 1]!, out[0]!) || straight(out[n - 2]!, out[n - 1]!, out[0]!)) out.pop();
    else if (straight(out[n - 1]!, out[0]!, out[1]!)) out.shift();
    else break;
  }
  if (out.length < 3) return [];
  out.push(out[0]!);
  return out;
}

/** Twice the signed area of a closed ring (first point repeated last), shoelace formula. */
function signedArea(ring: Ring): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i]!;
    const [x2, y2] = ring[i + 1]!;
    sum += x1 * y2 - x2 * y1;
  }
  return sum;
}
