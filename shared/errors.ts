/**
 * Stable error codes on the wire (HTTP bodies and socket acks): `{ code, message }`.
 * Clients branch on `code`; `message` is for people and may change.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID_CREDENTIALS: 401,
  AUTH_TOKEN_INVALID: 401,
  AUTH_TOKEN_EXPIRED: 401,
  /** The account was deactivated, or its password, role or jurisdiction changed, after the token was issued. */
  AUTH_TOKEN_REVOKED: 401,
  AUTH_ACCOUNT_DISABLED: 403,
  /** A wall display session's token after an administrator revoked the session (shared/wall-api.ts). */
  WALL_SESSION_REVOKED: 401,
  /** A wall display session tried to change something: it only shows. */
  WALL_SESSION_READ_ONLY: 403,
  FORBIDDEN: 403,
  OUT_OF_JURISDICTION: 403,
  NOT_FOUND: 404,
  DEVICE_UNKNOWN: 400,
  POSITION_INVALID: 400,
  POSITION_OUT_OF_AREA: 422,
  POSITION_IN_FUTURE: 422,
  POSITION_TOO_OLD: 422,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  // Alarms (一键报警)
  /** The alarm is not in a status that allows this action (e.g. a second acknowledge). */
  ALARM_TRANSITION_NOT_ALLOWED: 409,
  /** A worker cancelling their own alarm must say why. */
  ALARM_REASON_REQUIRED: 400,
  // Tickets (工单)
  TICKET_TRANSITION_NOT_ALLOWED: 409,
  TICKET_ACTION_FORBIDDEN: 409,
  TICKET_ESCALATION_EXHAUSTED: 409,
  TICKET_REASON_REQUIRED: 400,
  TICKET_WORKER_REQUIRED: 400,
  TICKET_WORKER_UNAVAILABLE: 409,
  TICKET_CATEGORY_UNKNOWN: 400,
  TICKET_DEPARTMENT_REQUIRED: 400,
  TICKET_DEPARTMENT_UNKNOWN: 400,
  TICKET_OUT_OF_DISTRICT: 422,
  /** reportedAt lies in the future or beyond TICKET_REPORTED_MAX_AGE_MS. */
  TICKET_REPORTED_AT_INVALID: 422,
  // Notices (信息发布)
  /** A target region lies outside the sender's jurisdiction. */
  NOTICE_TARGET_OUT_OF_JURISDICTION: 403,
  /** A target region code does not exist. */
  NOTICE_TARGET_UNKNOWN: 400,
  /** Nobody (no active grid worker) is in the target. */
  NOTICE_NO_RECIPIENTS: 400,
  // Emergencies (平战结合)
  /** A region or most of a drawn area lies outside the leader's jurisdiction. */
  EMERGENCY_AREA_OUT_OF_JURISDICTION: 403,
  /** A region code of the area does not exist. */
  EMERGENCY_AREA_UNKNOWN: 400,
  /** The area holds no grid (or names neither regions nor a polygon). */
  EMERGENCY_AREA_EMPTY: 400,
  /** Declaring needs a district or street leader. */
  EMERGENCY_LEADER_REQUIRED: 403,
  /** The emergency is closed: no more acknowledgements, report-ins or closing. */
  EMERGENCY_CLOSED: 409,
  /** A report-in whose position lies outside the person's grid (checked with ST_Contains on the grid). */
  EMERGENCY_REPORT_IN_OUTSIDE_GRID: 422,
  // Tracks (轨迹)
  /** A track window longer than 31 days. */
  TRACK_WINDOW_TOO_LONG: 400,
  /** A track window that ends before it starts. */
  TRACK_WINDOW_INVALID: 400,
  // Video consults (可视会商)
  /** A worker or desk to call lies outside the caller's jurisdiction. */
  CONSULT_OUT_OF_JURISDICTION: 403,
  /** Only people invited to a consult (and the leaders and operators over it) may join it. */
  CONSULT_NOT_INVITED: 403,
  /** The consult's state does not allow the action (ended, already answered). */
  CONSULT_TRANSITION_NOT_ALLOWED: 409,
  /** An invited worker has no active account to ring. */
  CONSULT_INVITEE_UNREACHABLE: 422,
  /** The media server (Janus) is not installed or not running. */
  VIDEO_UNAVAILABLE: 503,
  // Cameras (视频监控)
  /** The camera is offline (its reason in the message), or its source cannot be played here. */
  CAMERA_OFFLINE: 409,
  /** As many camera streams as CAMERAS_MAX_STREAMS are running already. */
  CAMERA_STREAMS_EXHAUSTED: 503,
  /** The play grant is unknown, expired, or another viewer's. */
  CAMERA_GRANT_INVALID: 403,
  /** The play grant was redeemed already (a grant is for one viewer, once): ask for your own. */
  CAMERA_GRANT_USED: 409,
  /** A camera with that code exists already. */
  CAMERA_CODE_TAKEN: 409,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ApiError {
  code: ErrorCode;
  message: string;
}

export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && typeof (value as ApiError).code === 'string'
    && typeof (value as ApiError).message === 'string';
}
