import { describe, expect, it } from 'vitest';
import { countAxis } from '../../client/components/online-trend-axis';

const ticks = ({ min, max, interval }: { min: number; max: number; interval: number }) => {
  const out: number[] = [];
  for (let v = min; v <= max; v += interval) out.push(v);
  return out;
};

describe('the online trend’s count axis', () => {
  it('never repeats a label on a nearly flat curve (361–362)', () => {
    const axis = countAxis(361, 362);
    expect(Number.isInteger(axis.interval)).toBe(true);
    const labels = ticks(axis);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.every(Number.isInteger)).toBe(true);
    expect(axis.min).toBeLessThanOrEqual(361);
    expect(axis.max).toBeGreaterThanOrEqual(362);
  });

  it('puts a flat curve between whole numbers, not on the edge', () => {
    expect(countAxis(362, 362)).toEqual({ min: 361, max: 364, interval: 1 });
  });

  it('takes a nice step (1, 2, 5 × 10ⁿ) over about three intervals', () => {
    expect(countAxis(3012, 3188)).toEqual({ min: 3000, max: 3200, interval: 100 });
    expect(countAxis(0, 3400)).toEqual({ min: 0, max: 4000, interval: 2000 });
    expect(countAxis(355, 372)).toEqual({ min: 350, max: 380, interval: 10 });
    expect(countAxis(361, 369)).toEqual({ min: 360, max: 370, interval: 5 });
    expect(countAxis(Infinity, -Infinity)).toEqual({ min: 0, max: 3, interval: 1 });
  });
});
