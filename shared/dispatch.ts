/**
 * Dispatch maths shared by server and client: true ground distance on the WGS84 ellipsoid, the
 * safe lower bounds a nearest-worker search needs to stop early without ever missing anyone, and
 * the shape of a recommended candidate. Pure functions, lon/lat in degrees, distances in metres.
 */
import type { WorkerRole } from './domain';

/** WGS84 semi-major axis, m. */
export const WGS84_A = 6_378_137;
/** WGS84 flattening. */
export const WGS84_F = 1 / 298.257223563;
const B = WGS84_A * (1 - WGS84_F);
const E2 = WGS84_F * (2 - WGS84_F);
const RAD = Math.PI / 180;

/** Walking pace used for straight-line ETAs: 4 km/h. */
export const DEFAULT_WALK_SPEED_MPS = 4 / 3.6;
/** A fix older than this does not say where a worker is now. */
export const DEFAULT_MAX_FIX_AGE_MS = 3 * 60_000;

/**
 * Geodesic (shortest path on the WGS84 ellipsoid) distance in metres, by Vincenty's inverse
 * formula: agrees with GeographicLib — and so with PostGIS `ST_Distance(geography, geography)` —
 * to well under a millimetre. Haversine is off by up to 0.5 %, enough to swap two workers 10 m
 * apart at 2 km. Vincenty's iteration may not converge for nearly antipodal points (over
 * ~19,900 km apart); there the last iterate is returned, accurate to tens of metres — irrelevant
 * to dispatch inside one city.
 */
export function geodesicDistanceM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  let L = ((lon2 - lon1) % 360) * RAD;
  if (L > Math.PI) L -= 2 * Math.PI;
  else if (L < -Math.PI) L += 2 * Math.PI;
  const tanU1 = (1 - WGS84_F) * Math.tan(lat1 * RAD);
  const cosU1 = 1 / Math.sqrt(1 + tanU1 * tanU1);
  const sinU1 = tanU1 * cosU1;
  const tanU2 = (1 - WGS84_F) * Math.tan(lat2 * RAD);
  const cosU2 = 1 / Math.sqrt(1 + tanU2 * tanU2);
  const sinU2 = tanU2 * cosU2;

  let lambda = L;
  let sinSigma = 0;
  let cosSigma = 1;
  let sigma = 0;
  let cos2Alpha = 1;
  let cos2SigmaM = 0;
  for (let i = 0; i < 200; i++) {
    const sinLambda = Math.sin(lambda);
    const cosLambda = Math.cos(lambda);
    const t1 = cosU2 * sinLambda;
    const t2 = cosU1 * sinU2 - sinU1 * cosU2 * cosLambda;
    sinSigma = Math.sqrt(t1 * t1 + t2 * t2);
    if (sinSigma === 0) return 0; // the same point
    cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLambda;
    sigma = Math.atan2(sinSigma, cosSigma);
    const sinAlpha = (cosU1 * cosU2 * sinLambda) / sinSigma;
    cos2Alpha = 1 - sinAlpha * sinAlpha;
    // On the equator cos²α = 0 and the term vanishes.
    cos2SigmaM = cos2Alpha !== 0 ? cosSigma - (2 * sinU1 * sinU2) / cos2Alpha : 0;
    const C = (WGS84_F / 16) * cos2Alpha * (4 + WGS84_F * (4 - 3 * cos2Alpha));
    const previous = lambda;
    lambda =
      L + (1 - C) * WGS84_F * sinAlpha * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)));
    // Relative: at a few metres λ itself is ~1e-7 rad, and an absolute 1e-12 would cost microns.
    if (Math.abs(lambda - previous) <= 1e-15 * Math.abs(lambda)) break;
  }
  const u2 = (cos2Alpha * (WGS84_A * WGS84_A - B * B)) / (B * B);
  const A = 1 + (u2 / 16384) * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
  const Bc = (u2 / 1024) * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
  const c2 = cos2SigmaM * cos2SigmaM;
  const deltaSigma =
    Bc * sinSigma * (cos2SigmaM + (Bc / 4) * (cosSigma * (-1 + 2 * c2) - (Bc / 6) * cos2SigmaM * (-3 + 4 * sinSigma * sinSigma) * (-3 + 4 * c2)));
  return B * A * (sigma - deltaSigma);
}

/** Earth-centred Cartesian coordinates (m) of a point on the ellipsoid's surface. */
export interface Ecef {
  x: number;
  y: number;
  z: number;
}

/** Writes the ECEF position of (lon, lat) into `out` and returns it (no allocation in hot loops). */
export function toEcef(lon: number, lat: number, out: Ecef = { x: 0, y: 0, z: 0 }): Ecef {
  const sinLat = Math.sin(lat * RAD);
  const cosLat = Math.cos(lat * RAD);
  const n = WGS84_A / Math.sqrt(1 - E2 * sinLat * sinLat);
  out.x = n * cosLat * Math.cos(lon * RAD);
  out.y = n * cosLat * Math.sin(lon * RAD);
  out.z = n * (1 - E2) * sinLat;
  return out;
}

/**
 * Straight-line (through the earth) distance between two ECEF points: never more than the geodesic
 * between them (a straight line is the shortest path), and only d³/24R² less — 2 µm at 1 km — so
 * it rules out far candidates without computing their geodesic.
 */
export function chordM(a: Ecef, b: Ecef): number {
  const dx = a.x - b.x;
  const dy = a.y - b.y;
  const dz = a.z - b.z;
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** Radius of curvature along the meridian at a latitude, m: metres per radian of latitude there. */
export function meridianRadiusM(lat: number): number {
  const s = Math.sin(lat * RAD);
  return (WGS84_A * (1 - E2)) / Math.pow(1 - E2 * s * s, 1.5);
}

/** Radius of the parallel (circle of latitude), m: metres per radian of longitude there. */
export function parallelRadiusM(lat: number): number {
  const s = Math.sin(lat * RAD);
  return (WGS84_A * Math.cos(lat * RAD)) / Math.sqrt(1 - E2 * s * s);
}

/**
 * A lower bound, in metres, on the geodesic distance from a point inside a lon/lat box to any
 * point outside it. Any path out must cross an edge, and until it does it stays inside the box,
 * where ds ≥ ρ(φ)·|dφ| and ds ≥ p(φ)·|dλ| (ρ meridian, p parallel radius). So reaching a
 * latitude edge costs at least the smallest ρ between the point and that edge times Δφ, and a
 * longitude edge at least the box's smallest p times Δλ; the bound is the least of the four.
 * Degrees → metres varies with latitude; this never overestimates it.
 */
export function boxExitLowerBoundM(lon: number, lat: number, west: number, south: number, east: number, north: number): number {
  const s = Math.max(-90, south);
  const n = Math.min(90, north);
  const rhoBetween = (a: number, b: number) => meridianRadiusM(a <= 0 && b >= 0 ? 0 : Math.min(Math.abs(a), Math.abs(b)));
  const toNorth = north >= 90 ? Infinity : rhoBetween(lat, n) * Math.max(0, n - lat) * RAD;
  const toSouth = south <= -90 ? Infinity : rhoBetween(s, lat) * Math.max(0, lat - s) * RAD;
  let sideways = Infinity;
  if (east - west < 360) {
    // p shrinks away from the equator, so its least over [s, n] is at one end.
    const pMin = Math.max(0, Math.min(parallelRadiusM(s), parallelRadiusM(n)));
    sideways = pMin * Math.max(0, Math.min(east - lon, lon - west)) * RAD;
  }
  return Math.min(toNorth, toSouth, sideways);
}

/** Straight-line walking time, s: the distance is as the crow flies, not along streets. */
export function walkingEtaS(distanceM: number, speedMps = DEFAULT_WALK_SPEED_MPS): number {
  return Math.round(distanceM / speedMps);
}

/** One recommended worker for a task at a point. */
export interface NearestCandidate {
  workerId: number;
  role: WorkerRole;
  /** Home grid path. */
  path: string;
  /** Responsible for the task's own grid (属地): ranked before everyone else. */
  ownGrid: boolean;
  lon: number;
  lat: number;
  /** Time of the fix the distance was measured from, ms since epoch. */
  fixTime: number;
  /** Geodesic (WGS84) distance from the task, m. */
  distanceM: number;
  /** Straight-line walking time at the configured pace, s (not a route). */
  etaS: number;
}
