/**
 * Video surveillance (视频监控): cameras as data, the nearest cameras to a point, and play grants.
 * The server keeps each camera's source (RTSP, HLS or a GB/T 28181 platform's play URL) to itself:
 * browsers get a play grant — a Janus streaming mountpoint (WebRTC) or an HLS playlist served by the
 * server — for one viewer and a short time, never the source URL or its credentials.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { Id } from './api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** 高点 / 路口 / 出入口 / 室内. */
export const CAMERA_KINDS = ['high_point', 'junction', 'entrance', 'indoor'] as const;
export type CameraKind = (typeof CAMERA_KINDS)[number];
export const CAMERA_STATUSES = ['online', 'offline', 'unknown'] as const;
export type CameraStatus = (typeof CAMERA_STATUSES)[number];
/** Where the picture comes from: an RTSP URL, an HLS URL, a GB/T 28181 platform's play URL, or the built-in simulator. */
export const CAMERA_SOURCE_TYPES = ['rtsp', 'hls', 'gb28181', 'demo'] as const;
export type CameraSourceType = (typeof CAMERA_SOURCE_TYPES)[number];
export const CAMERA_CODECS = ['h264', 'h265'] as const;
export type CameraCodec = (typeof CAMERA_CODECS)[number];
export type PlayKind = 'webrtc' | 'hls';
/** Who may look at cameras; only admins change them. */
export const CAMERA_VIEWER_ROLES = ['admin', 'leader', 'operator', 'dispatcher'] as const;

/** How a camera plays in the browser: H.264 over RTSP (and the demo H.264 source) through Janus as WebRTC; everything else through HLS. */
export function playKindOf(sourceType: CameraSourceType, codec: CameraCodec): PlayKind {
  return (sourceType === 'rtsp' || sourceType === 'demo') && codec === 'h264' ? 'webrtc' : 'hls';
}

export const CameraProperties = Type.Object({
  id: Type.Number(),
  code: Type.String(),
  name: Type.String(),
  kind: literals(CAMERA_KINDS),
  /** Compass bearing the camera faces, degrees clockwise from north; null when unknown (domes, PTZ). */
  bearing: Nullable(Type.Number()),
  /** Horizontal field of view, degrees; null when unknown. */
  fovDeg: Nullable(Type.Number()),
  status: literals(CAMERA_STATUSES),
  statusReason: Nullable(Type.String()),
  checkedAt: Nullable(Type.String({ format: 'date-time' })),
  sourceType: literals(CAMERA_SOURCE_TYPES),
  codec: literals(CAMERA_CODECS),
  play: Type.Union([Type.Literal('webrtc'), Type.Literal('hls')]),
  demo: Type.Boolean(),
  regionCode: Type.String(),
  regionName: Type.String(),
  gridCode: Nullable(Type.String()),
});
export type CameraProperties = Static<typeof CameraProperties>;

export const PointGeometry = Type.Object({ type: Type.Literal('Point'), coordinates: Type.Array(Type.Number(), { minItems: 2, maxItems: 2 }) });

export const CameraFeature = Type.Object({ type: Type.Literal('Feature'), id: Type.Number(), geometry: PointGeometry, properties: CameraProperties });
export type CameraFeature = Static<typeof CameraFeature>;
export const CameraCollection = Type.Object({ type: Type.Literal('FeatureCollection'), features: Type.Array(CameraFeature) });
export type CameraCollection = Static<typeof CameraCollection>;

/** One camera; admins also see the source with its credentials and query removed, and whether it has credentials. */
export const CameraDetail = Type.Intersect([
  CameraProperties,
  Type.Object({ lon: Type.Number(), lat: Type.Number(), source: Type.Optional(Type.String()), sourceHasCredentials: Type.Optional(Type.Boolean()) }),
]);
export type CameraDetail = Static<typeof CameraDetail>;

const Bearing = Type.Number({ minimum: 0, maximum: 360 });
const Fov = Type.Number({ exclusiveMinimum: 0, maximum: 360 });

export const CameraBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    kind: literals(CAMERA_KINDS),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    bearing: Type.Optional(Nullable(Bearing)),
    fovDeg: Type.Optional(Nullable(Fov)),
    sourceType: literals(CAMERA_SOURCE_TYPES),
    /** rtsp://, http(s):// (HLS, or the play URL a GB/T 28181 platform hands out); `demo:` or `demo:offline` for the simulator. */
    sourceUrl: Type.String({ minLength: 1, maxLength: 2000 }),
    /**
     * The source's credentials, write-only (never read back): set into the URL the server keeps.
     * Left out, a changed URL keeps the credentials the stored one had; '' removes them.
     */
    sourceUser: Type.Optional(Type.String({ maxLength: 200 })),
    sourcePassword: Type.Optional(Type.String({ maxLength: 200 })),
    codec: Type.Optional(literals(CAMERA_CODECS)),
  },
  { additionalProperties: false },
);
export type CameraBody = Static<typeof CameraBody>;
export const CameraPatch = Type.Partial(CameraBody, { additionalProperties: false, minProperties: 1 });
export type CameraPatch = Static<typeof CameraPatch>;
export const CameraIdParams = Type.Object({ id: Id() });

/** The CSV columns, in the template's order (UTF-8, header row required, a BOM is allowed). */
export const CAMERA_CSV_COLUMNS = ['code', 'name', 'kind', 'lon', 'lat', 'bearing', 'fov', 'source_type', 'source_url', 'codec'] as const;

export const CameraImportResult = Type.Object({
  created: Type.Number(),
  updated: Type.Number(),
  /** One per refused row: its line in the file (the header is line 1) and why. */
  errors: Type.Array(Type.Object({ line: Type.Number(), code: Nullable(Type.String()), message: Type.String() })),
});
export type CameraImportResult = Static<typeof CameraImportResult>;

export const CameraNearestQuery = Type.Object(
  {
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, default: 4 })),
  },
  { additionalProperties: false },
);
export type CameraNearestQuery = Static<typeof CameraNearestQuery>;

export const NearestCamera = Type.Intersect([
  CameraProperties,
  Type.Object({
    lon: Type.Number(),
    lat: Type.Number(),
    /** True distance on the spheroid, metres. */
    distanceM: Type.Number(),
    /** Bearing from the camera to the point, degrees. */
    azimuth: Type.Number(),
    /** Whether the point lies inside the camera's field of view; null when its bearing or field of view is unknown. */
    facing: Nullable(Type.Boolean()),
  }),
]);
export type NearestCamera = Static<typeof NearestCamera>;
export const NearestCameras = Type.Object({ items: Type.Array(NearestCamera) });
export type NearestCameras = Static<typeof NearestCameras>;

/** A camera that faces away from the point ranks as if it were this many times further. */
export const FACING_AWAY_PENALTY = 2;

export const WebRtcGrant = Type.Object({
  kind: Type.Literal('webrtc'),
  cameraId: Type.Number(),
  /** Where to open the Janus session: the server's grant-checking proxy (WebSocket, Janus's protocol), `/api/cameras/live`. */
  url: Type.String(),
  /**
   * The grant, sent as the Janus `token`: one viewer, once. The proxy swaps it for a Janus token that
   * never leaves the server and fills in the mountpoint's pin; a second session presenting it is
   * refused (CAMERA_GRANT_USED), one presented after `expiresAt` too (CAMERA_GRANT_INVALID).
   */
  token: Type.String(),
  mountpoint: Type.Number(),
  iceServers: Type.Array(Type.Object({ urls: Type.Union([Type.String(), Type.Array(Type.String())]), username: Type.Optional(Type.String()), credential: Type.Optional(Type.String()) })),
  /** Start watching before this; once watching, the grant lasts while the viewer does. */
  expiresAt: Type.String({ format: 'date-time' }),
});
export type WebRtcGrant = Static<typeof WebRtcGrant>;
export const HlsGrant = Type.Object({
  kind: Type.Literal('hls'),
  cameraId: Type.Number(),
  /** Same-origin playlist URL (send the bearer token with each request). */
  playlist: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
});
export type HlsGrant = Static<typeof HlsGrant>;
export const PlayGrant = Type.Union([WebRtcGrant, HlsGrant]);
export type PlayGrant = Static<typeof PlayGrant>;

export const HlsParams = Type.Object({ grant: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }), file: Type.String({ pattern: '^(index\\.m3u8|seg_[0-9]{1,8}\\.ts)$' }) });
