/**
 * Video consults (可视会商): the HTTP and realtime contract. The server is the control plane — it
 * creates one Janus room per consult, rings the invitees, admits and ends; a browser gets only a
 * short-lived join grant for the room it was invited to and talks media with Janus directly.
 * ringing → active (someone answered) → ended (by a desk, or when nobody answered, everyone
 * declined or everyone left).
 */
import { Type, type Static, type TSchema } from 'typebox';
import type { UserRole } from './domain';
import { Id } from './api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const CONSULT_STATUSES = ['ringing', 'active', 'ended'] as const;
export type ConsultStatus = (typeof CONSULT_STATUSES)[number];

export const CONSULT_ACTIONS = ['accept', 'decline', 'leave', 'end'] as const;
export type ConsultAction = (typeof CONSULT_ACTIONS)[number];

export const PARTICIPANT_ROLES = ['caller', 'invitee', 'joiner'] as const;
export const PARTICIPANT_STATES = ['ringing', 'joined', 'declined', 'no_answer', 'left'] as const;
export type ParticipantState = (typeof PARTICIPANT_STATES)[number];

export const END_REASONS = ['ended', 'declined', 'no_answer', 'everyone_left', 'server_restart'] as const;
export type ConsultEndReason = (typeof END_REASONS)[number];

/** Who may start a consult, end one they see, and join a running one in their jurisdiction uninvited. */
export const CONSULT_CALLER_ROLES = ['admin', 'leader', 'operator', 'dispatcher'] as const satisfies readonly UserRole[];
export const CONSULT_JOIN_UNINVITED_ROLES = ['admin', 'leader', 'operator'] as const satisfies readonly UserRole[];

export const ConsultInvitee = Type.Union([
  Type.Object({ workerId: Id() }, { additionalProperties: false }),
  Type.Object({ userId: Id() }, { additionalProperties: false }),
]);
export type ConsultInvitee = Static<typeof ConsultInvitee>;

export const CreateConsultBody = Type.Object(
  {
    invitees: Type.Array(ConsultInvitee, { minItems: 1, maxItems: 8 }),
    ticketId: Type.Optional(Id()),
    alarmId: Type.Optional(Id()),
  },
  { additionalProperties: false },
);
export type CreateConsultBody = Static<typeof CreateConsultBody>;

export const ConsultParticipant = Type.Object({
  userId: Type.Number(),
  workerId: Nullable(Type.Number()),
  name: Type.String(),
  role: literals(PARTICIPANT_ROLES),
  userRole: Type.String(),
  state: literals(PARTICIPANT_STATES),
  joinedAt: Nullable(Type.String({ format: 'date-time' })),
  leftAt: Nullable(Type.String({ format: 'date-time' })),
});
export type ConsultParticipant = Static<typeof ConsultParticipant>;

export const ConsultSummary = Type.Object({
  id: Type.Number(),
  status: literals(CONSULT_STATUSES),
  /** The Janus room id (a number; joining it needs a grant). */
  room: Type.Number(),
  ticket: Nullable(Type.Object({ id: Type.Number(), number: Type.String(), title: Type.String() })),
  alarmId: Nullable(Type.Number()),
  /** Why they are called: the ticket's or alarm's words. */
  reason: Type.String(),
  location: Nullable(Type.Object({ lon: Type.Number(), lat: Type.Number() })),
  caller: Type.Object({ userId: Type.Number(), name: Type.String() }),
  participants: Type.Array(ConsultParticipant),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  endedAt: Nullable(Type.String({ format: 'date-time' })),
  endReason: Nullable(literals(END_REASONS)),
  /** Until when the invitees' phones ring (no answer after it). */
  ringUntil: Type.String({ format: 'date-time' }),
});
export type ConsultSummary = Static<typeof ConsultSummary>;

export const ConsultList = Type.Object({ items: Type.Array(ConsultSummary) });
export type ConsultList = Static<typeof ConsultList>;

export const ConsultsQuery = Type.Object(
  { status: Type.Optional(literals(['active', 'all'])) },
  { additionalProperties: false },
);
export type ConsultsQuery = Static<typeof ConsultsQuery>;

export const ConsultIdParams = Type.Object({ id: Id() });

export const JoinConsultBody = Type.Object(
  {
    /** `watch`: subscribe only (the wall: no camera, no microphone). */
    mode: Type.Optional(literals(['talk', 'watch'])),
  },
  { additionalProperties: false },
);
export type JoinConsultBody = Static<typeof JoinConsultBody>;

const IceServer = Type.Object({
  urls: Type.Union([Type.String(), Type.Array(Type.String())]),
  username: Type.Optional(Type.String()),
  credential: Type.Optional(Type.String()),
});

/**
 * A join grant: opens this room only. `token` opens a Janus session for the videoroom plugin and is
 * on this room's ACL; unused, it is revoked at `expiresAt`; used, it lasts while its holder is in the
 * room and ends with the consult.
 */
export const ConsultGrant = Type.Object({
  consultId: Type.Number(),
  room: Type.Number(),
  /** Janus's WebSocket URL for the browser. */
  url: Type.String(),
  token: Type.String(),
  pin: Type.String(),
  /** The feed id to join with (the server recognises its holder in the room by it). */
  feedId: Type.Number(),
  display: Type.String(),
  publish: Type.Boolean(),
  iceServers: Type.Array(IceServer),
  expiresAt: Type.String({ format: 'date-time' }),
});
export type ConsultGrant = Static<typeof ConsultGrant>;

export const ConsultTransitionBody = Type.Object(
  { action: literals(CONSULT_ACTIONS) },
  { additionalProperties: false },
);
export type ConsultTransitionBody = Static<typeof ConsultTransitionBody>;

/** `video` of the health answer and of GET /api/consults/video: whether calls can be made now. */
export const VideoStatus = Type.Object({
  status: literals(['ok', 'unavailable']),
  janus: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  /** The one command that installs the media server (when it is not installed). */
  install: Type.Optional(Type.String()),
  ringTimeoutS: Type.Number(),
});
export type VideoStatus = Static<typeof VideoStatus>;

/** Roles of the desks and leaders a consult may ring besides workers (by `{userId}`). */
export const CONSULT_DESK_ROLES = ['leader', 'operator', 'dispatcher'] as const satisfies readonly UserRole[];

/** A desk or leader the caller may invite: their jurisdiction lies in the caller's, or contains it. */
export const InvitableDesk = Type.Object({
  userId: Type.Number(),
  name: Type.String(),
  role: literals(CONSULT_DESK_ROLES),
  region: Type.Object({ code: Type.String(), name: Type.String() }),
});
export type InvitableDesk = Static<typeof InvitableDesk>;

export const InvitableDeskList = Type.Object({ items: Type.Array(InvitableDesk) });
export type InvitableDeskList = Static<typeof InvitableDeskList>;

/** One participant's recording of a consult (CONSULT_RECORDING=1), playable once the consult has ended. */
export const ConsultRecording = Type.Object({
  id: Type.Number(),
  consultId: Type.Number(),
  /** Whose camera and microphone; null when the feed could not be matched to a grant. */
  userId: Nullable(Type.Number()),
  name: Type.String(),
  mime: Type.String(),
  bytes: Type.Number(),
  durationS: Nullable(Type.Number()),
  createdAt: Type.String({ format: 'date-time' }),
  /** The authenticated download route. */
  url: Type.String(),
});
export type ConsultRecording = Static<typeof ConsultRecording>;

export const ConsultRecordingList = Type.Object({ items: Type.Array(ConsultRecording) });
export type ConsultRecordingList = Static<typeof ConsultRecordingList>;

export const ConsultRecordingParams = Type.Object({ id: Id(), recordingId: Id() });

/** Socket events. */
export interface ConsultInvited {
  consult: ConsultSummary;
}
export interface ConsultUpdated {
  consult: ConsultSummary;
}
