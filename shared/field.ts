/**
 * The worker's phone (/field, the installable app): the contract of its position reports and the
 * rules both ends apply to them. The phone posts its own fixes with the worker's token; they go
 * through the same ingest as every device's.
 */
import { Type, type Static } from 'typebox';

/** A fix less accurate than this (radius, m) is dropped on the phone and refused by the server. */
export const APP_FIX_MAX_ACCURACY_M = 100;
/** Fixes in one request at most (an offline backlog goes in several). */
export const APP_FIXES_MAX = 200;
/** How often the phone reports while moving, and while standing still, ms. */
export const APP_REPORT_MOVING_MS = 8_000;
export const APP_REPORT_STILL_MS = 60_000;
/** Faster than this (m/s), or this far (m) from the last report, counts as moving. */
export const APP_MOVING_SPEED = 0.8;
export const APP_MOVING_DISTANCE_M = 25;

const ClientId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' });

export const AppFix = Type.Object(
  {
    /** When the phone took the fix (ISO-8601), not when it is sent: a queued fix keeps its time. */
    time: Type.String({ format: 'date-time', maxLength: 40 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    /** Radius of the fix, m. */
    accuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    /** m/s */
    speed: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })),
    heading: Type.Optional(Type.Number({ minimum: 0, maximum: 360 })),
    /** Chosen by the phone, echoed in the fix's result. */
    clientId: Type.Optional(ClientId),
  },
  { additionalProperties: false },
);
export type AppFix = Static<typeof AppFix>;

export const AppFixesBody = Type.Object(
  { fixes: Type.Array(AppFix, { minItems: 1, maxItems: APP_FIXES_MAX }) },
  { additionalProperties: false },
);
export type AppFixesBody = Static<typeof AppFixesBody>;

export const AppFixResult = Type.Object({
  index: Type.Number(),
  clientId: Type.Optional(Type.String()),
  /** stored: new; duplicate: already stored (a resend); rejected: see code (SERVICE_UNAVAILABLE: send it again). */
  status: Type.Enum(['stored', 'duplicate', 'rejected']),
  code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});
export type AppFixResult = Static<typeof AppFixResult>;

/** One result per fix, in order, once every fix is settled (stored fixes are committed). */
export const AppFixesReply = Type.Object({
  results: Type.Array(AppFixResult),
  stored: Type.Number(),
  duplicate: Type.Number(),
  rejected: Type.Number(),
  /** Present when some fix could not be stored now: send those again after this long. */
  retryAfterS: Type.Optional(Type.Number()),
});
export type AppFixesReply = Static<typeof AppFixesReply>;
