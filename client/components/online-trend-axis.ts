/**
 * The online trend's count axis: whole numbers at a "nice" step (1, 2, 5 × 10ⁿ) that covers the
 * data in about `splits` intervals. ECharts' own nice step for a flat curve (361–362) is a
 * fraction, and integer labels then repeat (362, 362, 361…).
 */
export function countAxis(low: number, high: number, splits = 3): { min: number; max: number; interval: number } {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return { min: 0, max: splits, interval: 1 };
  const span = Math.max(high - low, 1);
  const raw = span / splits;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const interval = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((step) => step >= raw) ?? 10 * magnitude);
  let min = Math.floor(low / interval) * interval;
  let max = Math.ceil(high / interval) * interval;
  if (max === min) max = min + interval;
  // A flat curve sits in the middle rather than on the bottom edge.
  if (max - min === interval && high === low) {
    min = Math.max(0, min - interval);
    max += interval;
  }
  return { min: Math.max(0, min), max, interval };
}
