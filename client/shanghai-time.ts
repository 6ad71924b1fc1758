/**
 * `<input type="datetime-local">` values read and written in Asia/Shanghai, whatever the time zone
 * of the PC at the desk: the rest of the dashboard shows times there (see TIME_ZONE in i18n.ts).
 * Shanghai keeps UTC+8 all year, so a fixed offset is exact.
 */
const OFFSET_MS = 8 * 3_600_000;
const INPUT_VALUE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

/** The input value ('YYYY-MM-DDTHH:mm') for this instant (ms) in Shanghai. */
export function toShanghaiInput(ms: number): string {
  return new Date(ms + OFFSET_MS).toISOString().slice(0, 16);
}

/** The instant (ms) an input value names in Shanghai; NaN when it is empty or not such a value. */
export function fromShanghaiInput(value: string): number {
  if (!INPUT_VALUE.test(value)) return Number.NaN;
  return Date.parse(`${value.length === 16 ? `${value}:00` : value}+08:00`);
}
