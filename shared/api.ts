/**
 * The HTTP contract: TypeBox schemas for every body, query and response, with their inferred
 * types under the same name. The server validates with them and publishes them as OpenAPI; the
 * client imports the types. Pure data (typebox has no runtime dependencies).
 */
import { Type, type Static } from 'typebox';
import { REGION_LEVELS, USER_ROLES, WORKER_ROLES } from './domain';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);

// Building blocks for what people and devices send. Control characters are refused at the edge for
// every string (server/platform/input.ts); these add what a field's meaning requires.

/** Text a person writes (a description, a reason, a note): something in it besides white space; line breaks allowed. */
export const Text = (options: { maxLength: number; description?: string }) => Type.String({ minLength: 1, pattern: '\\S', ...options });
/** One line (a name, a title, a username): not blank, no line breaks or tabs. */
export const Line = (options: { maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, pattern: '^[^\\t\\n\\r]*\\S[^\\t\\n\\r]*$', ...options });
/** A row's id in a path or a body: a positive integer JavaScript holds exactly. */
export const Id = (options: { description?: string } = {}) => Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, ...options });

export const ErrorResponse = Type.Object({ code: Type.String(), message: Type.String() }, { $id: 'ErrorResponse' });
export type ErrorResponse = Static<typeof ErrorResponse>;

export const HealthResponse = Type.Object({
  status: Type.Literal('ok'),
  db: Type.Object({ engine: literals(['postgres', 'pglite']), postgis: Type.String() }),
  /** The media server of video consults: Janus's version when it answers; why not otherwise. */
  video: Type.Optional(Type.Object({
    status: literals(['ok', 'unavailable']),
    janus: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
  })),
});
export type HealthResponse = Static<typeof HealthResponse>;

export const RegionRef = Type.Object({ code: Type.String(), name: Type.String(), level: literals(REGION_LEVELS) });
export type RegionRef = Static<typeof RegionRef>;

export const UserDto = Type.Object({
  id: Type.Number(),
  username: Type.String(),
  displayName: Type.String(),
  role: literals(USER_ROLES),
  region: RegionRef,
  workerId: Type.Union([Type.Number(), Type.Null()]),
  /** The page this role lands on after login. */
  home: Type.String(),
  /** Set when the token is a wall display session's (read-only, long-lived; shared/wall-api.ts). */
  wallSession: Type.Optional(Type.Object({ id: Type.Number(), name: Type.String() })),
});
export type UserDto = Static<typeof UserDto>;

export const LoginBody = Type.Object(
  {
    username: Line({ maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const LoginResponse = Type.Object({
  token: Type.String(),
  /** Expiry of the token, ISO-8601. */
  expiresAt: Type.String(),
  user: UserDto,
});
export type LoginResponse = Static<typeof LoginResponse>;

export const ChangePasswordBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 256 }),
    newPassword: Type.String({ minLength: 10, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const RegionsQuery = Type.Object(
  {
    level: literals(REGION_LEVELS),
    /** Only the children (at `level`) of this region. */
    parent: Type.Optional(Type.String({ pattern: '^[0-9]{6,24}$' })),
  },
  { additionalProperties: false },
);
export type RegionsQuery = Static<typeof RegionsQuery>;

export const RegionProperties = Type.Object({
  code: Type.String(),
  name: Type.String(),
  level: literals(REGION_LEVELS),
  parentCode: Type.Union([Type.String(), Type.Null()]),
  households: Type.Union([Type.Number(), Type.Null()]),
});
export type RegionProperties = Static<typeof RegionProperties>;

export const RegionFeatureCollection = Type.Object({
  type: Type.Literal('FeatureCollection'),
  features: Type.Array(
    Type.Object({
      type: Type.Literal('Feature'),
      id: Type.String(),
      properties: RegionProperties,
      geometry: Type.Object({ type: Type.Literal('MultiPolygon'), coordinates: Type.Array(Type.Unknown()) }),
    }),
  ),
});
export type RegionFeatureCollection = Static<typeof RegionFeatureCollection>;

export const WorkersQuery = Type.Object(
  {
    role: Type.Optional(literals(WORKER_ROLES)),
    /** Only workers whose home grid lies in this region (any level). */
    region: Type.Optional(Type.String({ pattern: '^[0-9]{6,24}$' })),
    active: Type.Optional(Type.Boolean()),
    /** Only workers online now, each with their latest position. */
    online: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type WorkersQuery = Static<typeof WorkersQuery>;

export const WorkerDto = Type.Object({
  id: Type.Number(),
  code: Type.String(),
  name: Type.String(),
  phone: Type.String(),
  role: literals(WORKER_ROLES),
  active: Type.Boolean(),
  homeGrid: Type.Object({ code: Type.String(), name: Type.String() }),
  communityCode: Type.String(),
  streetCode: Type.String(),
  /** The latest position (only with ?online=true). */
  position: Type.Optional(Type.Object({
    lon: Type.Number(),
    lat: Type.Number(),
    time: Type.String(),
    speed: Type.Union([Type.Number(), Type.Null()]),
    battery: Type.Union([Type.Number(), Type.Null()]),
  })),
});
export type WorkerDto = Static<typeof WorkerDto>;
export const WorkerList = Type.Array(WorkerDto);

export const ClientConfig = Type.Object({
  /** Raster basemap URL template for deployments with internet; null = fully offline map. */
  basemapUrl: Type.Union([Type.String(), Type.Null()]),
  tickMs: Type.Number(),
  offlineAfterMs: Type.Number(),
});
export type ClientConfig = Static<typeof ClientConfig>;

export const LivePosition = Type.Object({
  lon: Type.Number(),
  lat: Type.Number(),
  /** Time of the fix, ISO-8601. */
  time: Type.String(),
  /** m/s, null if unknown. */
  speed: Type.Union([Type.Number(), Type.Null()]),
  /** Percent, null if unknown. */
  battery: Type.Union([Type.Number(), Type.Null()]),
  online: Type.Boolean(),
});
export type LivePosition = Static<typeof LivePosition>;

export const RegisterDeviceBody = Type.Object(
  {
    /** What the device sends as its id (Traccar Client's "Device identifier", a tracker's IMEI). */
    identifier: Type.String({ minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' }),
    workerId: Id(),
    kind: Type.Optional(Type.Enum(['phone', 'tracker'])),
  },
  { additionalProperties: false },
);
export type RegisterDeviceBody = Static<typeof RegisterDeviceBody>;

export const DeviceDto = Type.Object({
  identifier: Type.String(),
  workerId: Type.Number(),
  kind: Type.String(),
});
export type DeviceDto = Static<typeof DeviceDto>;
