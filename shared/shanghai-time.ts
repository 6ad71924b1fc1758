/**
 * Asia/Shanghai, the one time zone of the product's users, written once. Shanghai keeps UTC+8 all
 * year (no daylight saving since 1991), so a fixed offset is exact. Used by the server (today's
 * window, ticket numbers, shifts), the seeds and the dashboard (`datetime-local` inputs read and
 * written in Shanghai whatever the PC's own time zone).
 */
export const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const INPUT_VALUE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

/** A Date whose UTC fields read as Shanghai's wall clock at instant `ms` (getUTCHours() = local hour). */
export function shanghaiWallClock(ms: number): Date {
  return new Date(ms + SHANGHAI_OFFSET_MS);
}

/** The hour of day in Shanghai, fractional (0 ≤ h < 24). */
export function shanghaiHour(ms: number): number {
  return ((ms / 3_600_000 + 8) % 24 + 24) % 24;
}

/** The instant of the last midnight in Shanghai at or before `ms`. */
export function shanghaiMidnight(ms: number): number {
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS) * DAY_MS - SHANGHAI_OFFSET_MS;
}

/** The instant of the start of the Shanghai hour containing `ms`. */
export function shanghaiHourStart(ms: number): number {
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / 3_600_000) * 3_600_000 - SHANGHAI_OFFSET_MS;
}

/** The calendar day in Shanghai, 'YYYY-MM-DD'. */
export function shanghaiDate(ms: number): string {
  return shanghaiWallClock(ms).toISOString().slice(0, 10);
}

/** The input value ('YYYY-MM-DDTHH:mm') for this instant (ms) in Shanghai. */
export function toShanghaiInput(ms: number): string {
  return shanghaiWallClock(ms).toISOString().slice(0, 16);
}

/** The instant (ms) an input value names in Shanghai; NaN when it is empty or not such a value. */
export function fromShanghaiInput(value: string): number {
  if (!INPUT_VALUE.test(value)) return Number.NaN;
  return Date.parse(`${value.length === 16 ? `${value}:00` : value}+08:00`);
}
