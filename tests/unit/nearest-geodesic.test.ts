import { describe, expect, it } from 'vitest';
import { haversineM } from '@shared/geo';
import { boxExitLowerBoundM, chordM, geodesicDistanceM, toEcef, walkingEtaS } from '@shared/dispatch';
import { createRandom } from '@shared/random';

/** Deterministic uniform numbers, the product's one seeded generator. */
const random = (seed: number) => createRandom(seed);

/**
 * Reference distances from PostGIS 3.3.2 (PROJ 9.1.1, i.e. GeographicLib's geod_inverse):
 * `SELECT ST_Distance(ST_MakePoint(lon1, lat1)::geography, ST_MakePoint(lon2, lat2)::geography)`,
 * which PostGIS reports to 1e-8 m. The first is also GeographicLib's documented JFK → LHR example.
 */
const POSTGIS: [lon1: number, lat1: number, lon2: number, lat2: number, metres: number][] = [
  [-73.8, 40.6, -0.5, 51.6, 5551759.40031868],
  [112.55, 37.85, 112.55001, 37.85, 0.88011063],
  [112.55, 37.85, 112.55, 37.85001, 1.1099364],
  [112.56, 37.87, 112.56000001, 37.87000001, 0.00141638],
  [112.55, 37.85, 112.5512, 37.8507, 131.11314717],
  [112.5, 37.75, 112.75, 37.92, 28988.80524131],
  [112.7, 37.9, 112.500001, 37.750002, 24232.71241558],
  [0, 0, 1, 0, 111319.49079327],
  [0, 0, 0, 1, 110574.3885578],
  [0, 0, 90, 0, 10018754.17139462],
  [0, 89, 180, 89, 223387.7298284],
  [179.9, 10, -179.9, 10.1, 24556.57965288],
  [-5.5, 40.96, 174.81, -41.32, 19959679.26735382],
];

describe('geodesic distance on WGS84', () => {
  it.each(POSTGIS)('(%f, %f) → (%f, %f) matches PostGIS/GeographicLib: %f m', (lon1, lat1, lon2, lat2, metres) => {
    const d = geodesicDistanceM(lon1, lat1, lon2, lat2);
    // Within PostGIS's own rounding for city distances; Vincenty's series is good to ~20 µm at 5,000 km.
    expect(Math.abs(d - metres)).toBeLessThan(metres < 100_000 ? 1e-7 : 1e-4);
  });

  it('is zero for one point and symmetric', () => {
    expect(geodesicDistanceM(112.6, 37.8, 112.6, 37.8)).toBe(0);
    const next = random(1);
    for (let i = 0; i < 1000; i++) {
      const [a, b, c, d] = [112.5 + next() * 0.25, 37.75 + next() * 0.17, 112.5 + next() * 0.25, 37.75 + next() * 0.17];
      expect(Math.abs(geodesicDistanceM(a, b, c, d) - geodesicDistanceM(c, d, a, b))).toBeLessThan(1e-8);
    }
  });

  it('differs from haversine by enough to reorder workers, which is why ranking uses it', () => {
    // 2 km north vs 2 km east of a task in Taiyuan: the sphere's error is metres.
    const north = geodesicDistanceM(112.56, 37.86, 112.56, 37.878);
    expect(Math.abs(haversineM(112.56, 37.86, 112.56, 37.878) - north)).toBeGreaterThan(1);
  });
});

describe('the bounds the search stops on', () => {
  it('the chord never exceeds the geodesic, and falls short of it only by ~d³/24R²', () => {
    const next = random(2);
    for (let i = 0; i < 5000; i++) {
      const [a, b, c, d] = [112.5 + next() * 0.25, 37.75 + next() * 0.17, 112.5 + next() * 0.25, 37.75 + next() * 0.17];
      const g = geodesicDistanceM(a, b, c, d);
      const chord = chordM(toEcef(a, b), toEcef(c, d));
      expect(chord).toBeLessThanOrEqual(g + 1e-6);
      // Under 2 µm at 1 km, 3 cm across the whole city.
      expect(g - chord).toBeLessThanOrEqual(g ** 3 / (24 * 6.3e6 ** 2) + 1e-6);
    }
  });

  it('the box-exit bound never exceeds the distance to any point outside the box, and is nearly tight', () => {
    const next = random(3);
    let tight = 0;
    const eps = 1e-9;
    for (let i = 0; i < 10_000; i++) {
      // Boxes from 200 m to 20 km, anywhere from the equator to 80° north or south.
      const [w, s] = [next() * 360 - 180, (next() * 2 - 1) * 80];
      const [e, n] = [w + 0.002 + next() * 0.2, s + 0.002 + next() * 0.2];
      const [lon, lat] = [w + next() * (e - w), s + next() * (n - s)];
      const bound = boxExitLowerBoundM(lon, lat, w, s, e, n);
      // Points just outside each edge: anywhere along it, and straight across from the point.
      const outside: [number, number][] = [
        [e + eps, s + next() * (n - s)], [w - eps, s + next() * (n - s)],
        [w + next() * (e - w), n + eps], [w + next() * (e - w), s - eps],
        [e + eps, lat], [w - eps, lat], [lon, n + eps], [lon, s - eps],
      ];
      const d = outside.map(([x, y]) => geodesicDistanceM(lon, lat, x, y));
      for (const di of d) expect(bound).toBeLessThanOrEqual(di + 1e-6);
      if (bound >= 0.99 * Math.min(...d)) tight++;
    }
    // Not vacuous: it is mostly within 1 % of the distance to the nearest edge.
    expect(tight).toBeGreaterThan(5000);
  });

  it('a box reaching a pole cannot be left across it', () => {
    expect(boxExitLowerBoundM(0, 89.5, -1, 89, 1, 90)).toBeGreaterThan(0);
    expect(boxExitLowerBoundM(0, 0, -180, -1, 180, 1)).toBeCloseTo(geodesicDistanceM(0, 0, 0, 1), -1);
  });
});

describe('walking ETA', () => {
  it('is the straight-line distance at 4 km/h unless told otherwise', () => {
    expect(walkingEtaS(1000)).toBe(900);
    expect(walkingEtaS(1000, 2)).toBe(500);
  });
});
