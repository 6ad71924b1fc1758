/** Colours and formats shared by the leader's screen. */
import type { Ratio } from '@shared/stats-api';

/** Green from 90 %, amber from 80 %, red below; grey when there is nothing to rate. */
export function rateColor(rate: number | null | undefined, lowerIsBetter = false): string {
  if (rate === null || rate === undefined) return '#5b7391';
  const r = lowerIsBetter ? 1 - rate : rate;
  if (r >= 0.9) return '#34d399';
  if (r >= 0.8) return '#fbbf24';
  return '#f87171';
}

export function pct(r: Ratio | null | undefined): string {
  if (!r || r.rate === null) return '—';
  return `${(r.rate * 100).toFixed(1)}%`;
}
