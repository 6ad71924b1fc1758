/**
 * The unattended wall (issue 14): long-lived wall display sessions an administrator creates and
 * revokes, and the wall's rotation (轮播) of views. TypeBox schemas with their inferred types under
 * the same name.
 *
 * A wall session is a read-only identity of its own: a dedicated account (role operator, no usable
 * password, the session's region as jurisdiction) whose one token lives for days or weeks. The wall
 * opens once with `/wall?session=<token>` and keeps the token; revoking the session ends the
 * account's tokens, disconnects its sockets at once and refuses the token with
 * `WALL_SESSION_REVOKED`. A wall session may read (GET) what an operator of its region reads, watch
 * a video consult, and write nothing but its own rotation.
 */
import { Type, type Static } from 'typebox';
import { Id, Line, RegionRef } from './api';

const RegionCode = Type.String({ pattern: '^[0-9]{6,24}$' });

/** Shortest and longest life of a wall session's token, days. */
export const WALL_SESSION_MIN_DAYS = 1;
export const WALL_SESSION_MAX_DAYS = 90;
export const WALL_SESSION_DEFAULT_DAYS = 30;

export const CreateWallSessionBody = Type.Object(
  {
    /** What the wall is called where it hangs (e.g. 指挥大厅主屏). */
    name: Line({ maxLength: 64 }),
    /** The wall's jurisdiction: inside the administrator's own. */
    regionCode: RegionCode,
    /** How long its token lives, days (default 30). */
    days: Type.Optional(Type.Integer({ minimum: WALL_SESSION_MIN_DAYS, maximum: WALL_SESSION_MAX_DAYS })),
  },
  { additionalProperties: false },
);
export type CreateWallSessionBody = Static<typeof CreateWallSessionBody>;

export const WallSession = Type.Object({
  id: Type.Number(),
  name: Type.String(),
  region: RegionRef,
  createdAt: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String(),
  /** Set once revoked: the token is refused from then on. */
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  /** Sockets of this wall connected to this server now. */
  connected: Type.Number(),
});
export type WallSession = Static<typeof WallSession>;

export const WallSessionList = Type.Array(WallSession);
export type WallSessionList = Static<typeof WallSessionList>;

/** The answer to a creation: the only time the token is shown. */
export const WallSessionCreated = Type.Object({
  session: WallSession,
  token: Type.String(),
  /** Where to open the wall with it (relative to the server): the wall keeps the token and drops it from the address. */
  url: Type.String(),
});
export type WallSessionCreated = Static<typeof WallSessionCreated>;

export const WallSessionIdParams = Type.Object({ id: Id() });
export type WallSessionIdParams = Static<typeof WallSessionIdParams>;

// ---- The rotation (轮播) ----

/** One view of the rotation: the whole jurisdiction (全区), one street, or the KPI panel (指标). */
export const CarouselView = Type.Union([
  Type.Object({ kind: Type.Literal('district') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('street'), code: RegionCode }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('kpi') }, { additionalProperties: false }),
]);
export type CarouselView = Static<typeof CarouselView>;

export const CAROUSEL_MIN_SECONDS = 5;
export const CAROUSEL_MAX_SECONDS = 3600;
export const CAROUSEL_MIN_IDLE_SECONDS = 5;
export const CAROUSEL_MAX_IDLE_SECONDS = 3600;

/** The wall's rotation, kept per account (so per wall session): a reloaded wall keeps rotating. */
export const WallCarousel = Type.Object(
  {
    enabled: Type.Boolean(),
    /** In order; a view may appear once. */
    views: Type.Array(CarouselView, { maxItems: 64 }),
    /** How long each view stays, s. */
    seconds: Type.Integer({ minimum: CAROUSEL_MIN_SECONDS, maximum: CAROUSEL_MAX_SECONDS }),
    /** After a person's last touch (pointer, key), the rotation waits this long before it goes on, s. */
    idleSeconds: Type.Integer({ minimum: CAROUSEL_MIN_IDLE_SECONDS, maximum: CAROUSEL_MAX_IDLE_SECONDS }),
  },
  { additionalProperties: false },
);
export type WallCarousel = Static<typeof WallCarousel>;

/** What a wall rotates through before anyone configured it: nothing (off). */
export const DEFAULT_CAROUSEL: WallCarousel = { enabled: false, views: [{ kind: 'district' }], seconds: 30, idleSeconds: 60 };

/** Two views are the same view. */
export function sameView(a: CarouselView, b: CarouselView): boolean {
  return a.kind === b.kind && (a.kind !== 'street' || a.code === (b as { code?: string }).code);
}
