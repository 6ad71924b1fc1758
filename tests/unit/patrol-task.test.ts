import { describe, expect, it } from 'vitest';
import { PatrolWorker } from '../../server/modules/simulator/patrol';
import { haversineM } from '@shared/geo';

// A square grid of about 600 m in central Taiyuan, and a task 800 m east of its eastern edge.
const SQUARE = [[[112.560, 37.860], [112.567, 37.860], [112.567, 37.8655], [112.560, 37.8655], [112.560, 37.860]]];
const TASK = { lon: 112.576, lat: 37.862 };

describe('a patrolling worker sent to a task', () => {
  it('walks straight there at walking pace, leaving the grid, stays while handling it, then returns to patrol', () => {
    const w = new PatrolWorker(1, 'sim-1', [SQUARE], 'task');
    let t = Date.parse('2026-11-23T02:00:00Z'); // 10:00 in Shanghai
    while (!w.onDuty(t)) t += 3_600_000;
    w.goTo(TASK.lon, TASK.lat);
    expect(w.busy).toBe(true);
    const start = haversineM(w.lon, w.lat, TASK.lon, TASK.lat);
    let prev = start;
    let steps = 0;
    while (!w.atTask && steps < 1_000) {
      t += 10_000;
      w.step(t, 10);
      const d = haversineM(w.lon, w.lat, TASK.lon, TASK.lat);
      expect(d).toBeLessThan(prev + 1e-6); // always closer
      expect(prev - d).toBeLessThanOrEqual((5 / 3.6) * 10 + 0.01);
      prev = d;
      steps++;
    }
    expect(w.atTask).toBe(true);
    expect(steps * 10).toBeGreaterThanOrEqual(start / w.walkSpeed - 10);
    // Handling: stays put, reporting (nearly) no speed.
    for (let i = 0; i < 30; i++) {
      t += 10_000;
      const [fix] = w.step(t, 10);
      if (fix) expect(fix.speed).toBeLessThan(0.25);
      expect(w.atTask).toBe(true);
    }
    w.release();
    expect(w.busy).toBe(true); // still outside the grid: on the way back
    for (let i = 0; i < 1_000 && w.busy; i++) {
      t += 10_000;
      w.step(t, 10);
    }
    expect(w.busy).toBe(false);
    expect(w.inside(w.lon, w.lat)).toBe(true);
    for (let i = 0; i < 200; i++) {
      t += 10_000;
      w.step(t, 10);
      expect(w.inside(w.lon, w.lat)).toBe(true);
    }
  });
});
