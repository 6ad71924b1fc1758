/**
 * Result types aligned across both engines, in one place: `pg` returns int8/count as strings and
 * bytea as Buffer; PGlite returns numbers and Uint8Array. Both engines get these text parsers.
 */
const OID = { int8: 20, numeric: 1700, date: 1082, bytea: 17 } as const;

const toNumber = (value: string): number => Number(value);
/** Calendar dates stay 'YYYY-MM-DD' strings: a Date would shift them by the server's time zone. */
const keepDate = (value: string): string => value;
const toBuffer = (value: string): Buffer =>
  value.startsWith('\\x') ? Buffer.from(value.slice(2), 'hex') : Buffer.from(value, 'binary');

export const TEXT_PARSERS: Record<number, (value: string) => unknown> = {
  [OID.int8]: toNumber,
  [OID.numeric]: toNumber,
  [OID.date]: keepDate,
  [OID.bytea]: toBuffer,
};
