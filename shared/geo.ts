/** Geodesy shared by server and client. Pure functions, WGS84 lon/lat in degrees. */

const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;

/** Great-circle distance in metres (haversine; error < 0.5% against the ellipsoid). */
export function haversineM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

export type BBox = [minLon: number, minLat: number, maxLon: number, maxLat: number];

export function bboxContains(b: BBox, lon: number, lat: number): boolean {
  return lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3];
}

/** Grows a bbox by roughly `metres` on every side. */
export function bboxBuffer(b: BBox, metres: number): BBox {
  const dLat = metres / 111_320;
  const dLon = metres / (111_320 * Math.cos(((b[1] + b[3]) / 2) * RAD));
  return [b[0] - dLon, b[1] - dLat, b[2] + dLon, b[3] + dLat];
}

/** Ray-casting point-in-polygon for a GeoJSON polygon's rings (first ring outer, others holes). */
export function pointInPolygon(lon: number, lat: number, rings: readonly (readonly (readonly number[])[])[]): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i] as [number, number];
      const [xj, yj] = ring[j] as [number, number];
      if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}
