/**
 * A latency histogram cheap enough to record a million samples a second: fixed 0.1 ms buckets up
 * to 60 s in one typed array (no allocation per sample), exact count, sum and max.
 */
const RESOLUTION_MS = 0.1;
const BUCKETS = 600_000;

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class Histogram {
  private readonly buckets = new Uint32Array(BUCKETS);
  count = 0;
  private sum = 0;
  private max = 0;

  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    const i = Math.min(BUCKETS - 1, Math.floor(v / RESOLUTION_MS));
    this.buckets[i]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The value below which `q` (0–1) of the samples lie, to the bucket's upper edge. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen >= target) return Math.min(this.max, (i + 1) * RESOLUTION_MS);
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      mean: this.count ? this.sum / this.count : NaN,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      max: this.count ? this.max : NaN,
    };
  }
}
