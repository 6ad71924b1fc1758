import { describe, expect, it } from 'vitest';
import { fromShanghaiInput, toShanghaiInput } from '@shared/shanghai-time';

describe('datetime-local values in Asia/Shanghai', () => {
  it('writes an instant as the Shanghai wall clock shows it, whatever the machine’s zone', () => {
    // 2026-12-03 16:30 UTC is 2026-12-04 00:30 in Shanghai: the date rolls over too.
    expect(toShanghaiInput(Date.parse('2026-12-03T16:30:45Z'))).toBe('2026-12-04T00:30');
  });

  it('reads a value back as the instant it names in Shanghai, with or without seconds', () => {
    expect(new Date(fromShanghaiInput('2026-12-04T00:30')).toISOString()).toBe('2026-12-03T16:30:00.000Z');
    expect(new Date(fromShanghaiInput('2026-07-01T08:00:15')).toISOString()).toBe('2026-07-01T00:00:15.000Z');
  });

  it('refuses what is not such a value', () => {
    for (const bad of ['', '2026-12-04', '2026-12-04 00:30', 'yesterday']) expect(fromShanghaiInput(bad)).toBeNaN();
  });
});
