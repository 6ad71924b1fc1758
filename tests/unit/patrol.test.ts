import { describe, expect, it } from 'vitest';
import { PatrolWorker } from '../../server/modules/simulator/patrol';
import { shanghaiHour } from '@shared/shanghai-time';
import { haversineM } from '@shared/geo';

// An L-shaped (concave) grid of about 600 m × 600 m in central Taiyuan.
const L = [[[112.560, 37.860], [112.567, 37.860], [112.567, 37.863], [112.5635, 37.863], [112.5635, 37.8655], [112.560, 37.8655], [112.560, 37.860]]];

describe('patrol simulation', () => {
  it('walks at 3–5 km/h and never leaves its grid, even a concave one', () => {
    const w = new PatrolWorker(1, 'sim-1', [L], 'seed-a');
    let t = Date.parse('2026-11-23T02:00:00Z'); // 10:00 in Shanghai
    while (!w.onDuty(t)) t += 3_600_000;
    let prev = [w.lon, w.lat] as const;
    for (let i = 0; i < 360; i++) {
      t += 10_000;
      w.step(t, 10);
      expect(w.inside(w.lon, w.lat)).toBe(true);
      const metres = haversineM(prev[0], prev[1], w.lon, w.lat);
      expect(metres).toBeLessThanOrEqual((5 / 3.6) * 10 + 0.01);
      prev = [w.lon, w.lat];
    }
  });

  it('is deterministic from its seed', () => {
    const a = new PatrolWorker(1, 'x', [L], 'same');
    const b = new PatrolWorker(1, 'x', [L], 'same');
    expect([a.lon, a.lat, a.battery]).toEqual([b.lon, b.lat, b.battery]);
  });

  it('reports nothing off duty and buffers fixes in a dead zone, sending them late in order', () => {
    const w = new PatrolWorker(1, 'x', [L], 'dead-zone');
    let t = Date.parse('2026-11-23T02:00:00Z');
    let offDuty = 0;
    for (let h = 0; h < 24; h++) if (!w.onDuty(t + h * 3_600_000)) offDuty++;
    expect(offDuty).toBeGreaterThan(0);
    expect(w.step(t + [...Array(24).keys()].find((h) => !w.onDuty(t + h * 3_600_000))! * 3_600_000, 10)).toEqual([]);
    while (!w.onDuty(t)) t += 3_600_000;
    let lateBatch: { time: number }[] | undefined;
    for (let i = 0; i < 5000 && !lateBatch; i++) {
      t += 10_000;
      const out = w.step(t, 10);
      if (out.length > 1) lateBatch = out;
    }
    expect(lateBatch, 'a dead zone within 5,000 steps').toBeDefined();
    const times = lateBatch!.map((f) => f.time);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(60_000);
  });

  it('computes the Shanghai hour', () => {
    expect(shanghaiHour(Date.parse('2026-11-22T16:30:00Z'))).toBeCloseTo(0.5);
  });
});
