import { describe, expect, it } from 'vitest';
import { columnsToFixes, emptyColumns, segmentRanges, simplifyRange, simplifyTrack, speedAt, splitSegments, type FixColumns } from '../../shared/tracks';
import { trackCollection } from '../../server/modules/tracks/routes';
import { haversineM } from '../../shared/geo';

/** A walk of n fixes every 10 s with a jittered meander, a 15-minute gap after fix 3000, no reported speed on every 7th. */
function walk(n: number): FixColumns {
  const c = emptyColumns(n);
  let seed = 7;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  for (let i = 0; i < n; i++) {
    c.t[i] = 1_800_000_000_000 + i * 10_000 + (i > 3000 ? 900_000 : 0);
    c.lon[i] = 112.55 + Math.sin(i / 70) * 0.01 + rnd() * 6e-5;
    c.lat[i] = 37.86 + Math.cos(i / 45) * 0.008 + rnd() * 6e-5;
    c.speed[i] = i % 7 === 0 ? Number.NaN : 1.2;
  }
  return c;
}

describe('tracks on columns', () => {
  it('splits at gaps into [start, end) ranges', () => {
    expect(segmentRanges([0, 10, 20, 400, 410], 5, 300)).toEqual([[0, 3], [3, 5]]);
    expect(segmentRanges([], 0, 300)).toEqual([]);
  });

  it('keeps the same vertices as Douglas–Peucker over objects, with every range keeping its ends', () => {
    const c = walk(5000);
    const fixes = columnsToFixes(c);
    const kept = simplifyRange(c.lon, c.lat, 100, 4000, 5);
    expect(kept[0]).toBe(100);
    expect(kept.at(-1)).toBe(3999);
    expect(kept.length).toBeLessThan(3900 / 4);
    expect(kept.map((i) => fixes[i])).toEqual(simplifyTrack(fixes.slice(100, 4000), 5));
    expect(simplifyRange(c.lon, c.lat, 10, 12, 5)).toEqual([10, 11]);
    expect(simplifyRange(c.lon, c.lat, 10, 20, 0)).toHaveLength(10);
  });

  it('builds the route’s collection: one feature per segment, speeds from the whole segment where none was reported', () => {
    const c = walk(5000);
    const body = trackCollection({ id: 1, name: 'w', gridCode: 'g' }, c, { fromMs: 0, toMs: 1, gapS: 300, tolerance: 5 });
    const segments = splitSegments(columnsToFixes(c), 300_000);
    expect(body.features).toHaveLength(2);
    expect(body.properties.fixes).toBe(5000);
    body.features.forEach((f, k) => {
      const seg = segments[k]!;
      const reference = simplifyTrack(seg, 5);
      expect(f.geometry.coordinates).toEqual(reference.map((p) => [p.lon, p.lat]));
      expect(f.properties.timestamps).toEqual(reference.map((p) => p.t));
      expect(f.properties.fixes).toBe(seg.length);
      let d = 0;
      for (let i = 1; i < seg.length; i++) d += haversineM(seg[i - 1]!.lon, seg[i - 1]!.lat, seg[i]!.lon, seg[i]!.lat);
      expect(f.properties.distanceM).toBe(Math.round(d * 10) / 10);
    });
    expect(body.properties.vertices).toBe(body.features.reduce((n, f) => n + f.geometry.coordinates.length, 0));
    // Fix 0 reported no speed: from its neighbour inside the segment; fix 3001 opens the second segment.
    const first = haversineM(c.lon[0]!, c.lat[0]!, c.lon[1]!, c.lat[1]!) / 10;
    expect(speedAt(c, 0, 0, 3001)).toBeCloseTo(first, 9);
    expect(speedAt(c, 1, 0, 3001)).toBe(1.2);
    expect(body.features[0]!.properties.speeds[0]).toBe(Math.round(first * 100) / 100);
  });
});
