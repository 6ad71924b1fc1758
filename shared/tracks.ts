/**
 * Tracks, trips and stops from a worker's fixes: pure functions, used by the server's track and
 * trips endpoints and testable without a database. Times in ms since epoch, speeds in m/s.
 */
import { haversineM } from './geo';

export interface TrackFix {
  /** ms since epoch. */
  t: number;
  lon: number;
  lat: number;
  /** Reported speed, m/s; null when the device sent none. */
  speed: number | null;
}

/** 1 knot in m/s. */
export const KNOT_MS = 1852 / 3600;

/**
 * A worker's fixes as columns, in time order: what the track route decodes from PostgreSQL, without
 * an object per fix (a day is 8,640 of them). `speed` is NaN where the device reported none.
 */
export interface FixColumns {
  readonly n: number;
  /** ms since epoch. */
  readonly t: Float64Array;
  readonly lon: Float64Array;
  readonly lat: Float64Array;
  /** Reported speed, m/s; NaN when none. */
  readonly speed: Float64Array;
}

export function emptyColumns(n: number): FixColumns {
  return { n, t: new Float64Array(n), lon: new Float64Array(n), lat: new Float64Array(n), speed: new Float64Array(n) };
}

export function columnsToFixes(c: FixColumns): TrackFix[] {
  const fixes: TrackFix[] = new Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const speed = c.speed[i]!;
    fixes[i] = { t: c.t[i]!, lon: c.lon[i]!, lat: c.lat[i]!, speed: Number.isNaN(speed) ? null : speed };
  }
  return fixes;
}

/** [start, end) of each continuous segment of time-ordered times: split wherever two consecutive lie more than `maxGapMs` apart. */
export function segmentRanges(t: ArrayLike<number>, n: number, maxGapMs: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let i = 1; i < n; i++) {
    if (t[i]! - t[i - 1]! > maxGapMs) {
      ranges.push([start, i]);
      start = i;
    }
  }
  if (n > 0) ranges.push([start, n]);
  return ranges;
}

/** Splits time-ordered fixes wherever two consecutive fixes lie more than `maxGapMs` apart. */
export function splitSegments<F extends TrackFix>(fixes: readonly F[], maxGapMs: number): F[][] {
  return segmentRanges(fixes.map((f) => f.t), fixes.length, maxGapMs).map(([a, b]) => fixes.slice(a, b));
}

/**
 * Douglas–Peucker over the points [start, end) on a local equirectangular projection (metres), so
 * `toleranceM` is metres at the first point's latitude: the indices kept, ascending, first and last
 * always. Iterative, so 10⁵ points cannot overflow the stack.
 */
export function simplifyRange(lon: ArrayLike<number>, lat: ArrayLike<number>, start: number, end: number, toleranceM: number): number[] {
  const n = end - start;
  if (n <= 2 || toleranceM <= 0) return Array.from({ length: Math.max(0, n) }, (_, i) => start + i);
  const kx = 111_320 * Math.cos((lat[start]! * Math.PI) / 180);
  const ky = 110_574;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = lon[start + i]! * kx;
    y[i] = lat[start + i]! * ky;
  }
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const tol2 = toleranceM * toleranceM;
  const stack: number[] = [0, n - 1];
  while (stack.length > 0) {
    const last = stack.pop()!;
    const first = stack.pop()!;
    const ax = x[first]!;
    const ay = y[first]!;
    const dx = x[last]! - ax;
    const dy = y[last]! - ay;
    const len2 = dx * dx + dy * dy;
    let worst = -1;
    let worstD2 = tol2;
    for (let i = first + 1; i < last; i++) {
      let px = x[i]! - ax;
      let py = y[i]! - ay;
      if (len2 > 0) {
        const u = Math.max(0, Math.min(1, (px * dx + py * dy) / len2));
        px -= u * dx;
        py -= u * dy;
      }
      const d2 = px * px + py * py;
      if (d2 > worstD2) {
        worstD2 = d2;
        worst = i;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push(first, worst, worst, last);
    }
  }
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i] === 1) kept.push(start + i);
  return kept;
}

/**
 * Douglas–Peucker on a local equirectangular projection (metres), so `toleranceM` is metres at the
 * track's latitude. Keeps the first and last fix and every fix it keeps whole (time and speed stay
 * attached).
 */
export function simplifyTrack<F extends TrackFix>(fixes: readonly F[], toleranceM: number): F[] {
  if (fixes.length <= 2 || toleranceM <= 0) return [...fixes];
  const lon = Float64Array.from(fixes, (f) => f.lon);
  const lat = Float64Array.from(fixes, (f) => f.lat);
  return simplifyRange(lon, lat, 0, fixes.length, toleranceM).map((i) => fixes[i]!);
}

/** Traccar's trip and stop rules (its defaults in brackets). */
export interface TripRules {
  /** A trip covers at least this distance… [500 m] */
  minTripDistanceM: number;
  /** …or lasts at least this long [300 s]. */
  minTripDurationS: number;
  /** Standing still this long makes a stop [300 s]. */
  minParkingDurationS: number;
  /** No fix for this long ends a trip (or a stop) [3,600 s]. */
  maxNoDataS: number;
  /** Moving means a speed above this [0.01 kn]. */
  speedThresholdKn: number;
  /** Consecutive fixes further apart than this are not joined when distances and moving time are summed [300 s]. */
  maxGapS: number;
}

export const TRACCAR_TRIP_RULES: TripRules = {
  minTripDistanceM: 500,
  minTripDurationS: 300,
  minParkingDurationS: 300,
  maxNoDataS: 3600,
  speedThresholdKn: 0.01,
  maxGapS: 300,
};

export interface TripPoint {
  time: number;
  lon: number;
  lat: number;
}

export interface Trip {
  start: TripPoint;
  end: TripPoint;
  distanceM: number;
  /** end − start, s. */
  durationS: number;
  /** Time between fixes not across a gap, s. */
  movingS: number;
}

export interface Stop {
  start: number;
  end: number;
  durationS: number;
  /** Mean position of the fixes standing still. */
  lon: number;
  lat: number;
}

export interface DaySummary {
  /** Over every pair of consecutive fixes not across a gap (a gap is never bridged). */
  distanceM: number;
  /** Sum of the trips' moving time, s. */
  movingS: number;
  trips: Trip[];
  stops: Stop[];
}

/** Whether a fix counts as moving: its reported speed, or the speed from the previous fix when it reported none. */
function movingFlags(fixes: readonly TrackFix[], rules: TripRules): boolean[] {
  const threshold = rules.speedThresholdKn * KNOT_MS;
  return fixes.map((f, i) => {
    if (f.speed !== null && Number.isFinite(f.speed)) return f.speed > threshold;
    const p = fixes[i - 1];
    if (!p || f.t <= p.t) return false;
    return haversineM(p.lon, p.lat, f.lon, f.lat) / ((f.t - p.t) / 1000) > threshold;
  });
}

/**
 * Trips and stops the way Traccar finds them: a stop is a run of fixes standing still for at least
 * `minParkingDurationS` (from its first still fix to the next moving one); a trip is the movement
 * between stops, ended also by a gap over `maxNoDataS`, and kept only when it covers
 * `minTripDistanceM` or lasts `minTripDurationS`. Distances never bridge a gap over `maxGapS`.
 * `fixes` must be ordered by time.
 */
export function tripsAndStops(fixes: readonly TrackFix[], rules: TripRules = TRACCAR_TRIP_RULES): DaySummary {
  const n = fixes.length;
  const gapMs = rules.maxGapS * 1000;
  const noDataMs = rules.maxNoDataS * 1000;
  // Distance from fix i-1 to fix i, 0 across a gap.
  const step = new Float64Array(n);
  let distanceM = 0;
  for (let i = 1; i < n; i++) {
    const p = fixes[i - 1]!;
    const f = fixes[i]!;
    if (f.t - p.t <= gapMs) step[i] = haversineM(p.lon, p.lat, f.lon, f.lat);
    distanceM += step[i]!;
  }
  const moving = movingFlags(fixes, rules);

  // Stops: runs of still fixes (not broken by a no-data gap) lasting long enough.
  const stops: Stop[] = [];
  const inStop = new Uint8Array(n);
  for (let i = 0; i < n; ) {
    if (moving[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < n && !moving[j + 1] && fixes[j + 1]!.t - fixes[j]!.t <= noDataMs) j++;
    // The stop lasts until the next fix when that one moves on without a no-data gap.
    const next = fixes[j + 1];
    const end = next && next.t - fixes[j]!.t <= noDataMs ? next.t : fixes[j]!.t;
    const durationS = (end - fixes[i]!.t) / 1000;
    if (durationS >= rules.minParkingDurationS) {
      let lon = 0;
      let lat = 0;
      for (let k = i; k <= j; k++) {
        lon += fixes[k]!.lon;
        lat += fixes[k]!.lat;
        inStop[k] = 1;
      }
      stops.push({ start: fixes[i]!.t, end, durationS, lon: lon / (j - i + 1), lat: lat / (j - i + 1) });
    }
    i = j + 1;
  }

  // Trips: maximal runs of fixes outside stops, cut by no-data gaps; a trip ends where the next stop begins.
  const trips: Trip[] = [];
  const point = (f: TrackFix): TripPoint => ({ time: f.t, lon: f.lon, lat: f.lat });
  for (let i = 0; i < n; ) {
    if (inStop[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < n && !inStop[j + 1] && fixes[j + 1]!.t - fixes[j]!.t <= noDataMs) j++;
    // Ends on the first fix of the stop that follows (the moment it arrived), if there is one.
    const last = j + 1 < n && inStop[j + 1] && fixes[j + 1]!.t - fixes[j]!.t <= noDataMs ? j + 1 : j;
    let d = 0;
    let movingS = 0;
    for (let k = i + 1; k <= last; k++) {
      d += step[k]!;
      const dt = fixes[k]!.t - fixes[k - 1]!.t;
      if (dt <= gapMs) movingS += dt / 1000;
    }
    const durationS = (fixes[last]!.t - fixes[i]!.t) / 1000;
    if (last > i && (d >= rules.minTripDistanceM || durationS >= rules.minTripDurationS)) {
      trips.push({ start: point(fixes[i]!), end: point(fixes[last]!), distanceM: d, durationS, movingS });
    }
    i = j + 1;
  }
  return { distanceM, movingS: trips.reduce((s, t) => s + t.movingS, 0), trips, stops };
}

/**
 * Speed at fix i of the segment [start, end), m/s: the reported one, else from its neighbours inside
 * the segment (the fixes a simplification drops still count).
 */
export function speedAt(c: FixColumns, i: number, start: number, end: number): number {
  const reported = c.speed[i]!;
  if (Number.isFinite(reported)) return reported;
  const a = Math.max(start, i - 1);
  const b = Math.min(end - 1, i + 1);
  const dt = (c.t[b]! - c.t[a]!) / 1000;
  return dt > 0 ? haversineM(c.lon[a]!, c.lat[a]!, c.lon[b]!, c.lat[b]!) / dt : 0;
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A GPX 1.1 document: one track, one trkseg per continuous segment. */
export function toGpx(name: string, segments: readonly (readonly TrackFix[])[]): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<gpx version="1.1" creator="Gridline" xmlns="http://www.topografix.com/GPX/1/1">',
    `<trk><name>${xmlEscape(name)}</name>`,
  ];
  for (const seg of segments) {
    lines.push('<trkseg>');
    for (const f of seg) {
      lines.push(`<trkpt lat="${f.lat.toFixed(7)}" lon="${f.lon.toFixed(7)}"><time>${new Date(f.t).toISOString()}</time></trkpt>`);
    }
    lines.push('</trkseg>');
  }
  lines.push('</trk>', '</gpx>');
  return lines.join('\n') + '\n';
}
