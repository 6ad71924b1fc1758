/**
 * The alarms' (一键报警) HTTP and realtime contract, and the small state machine both sides share:
 * TypeBox schemas with their inferred types under the same name. An alarm is a record — raised by a
 * device's `alarm=sos` or the phone app's SOS button — that people move on:
 * raised → acknowledged → resolved | false_alarm. A routine fix never clears it.
 */
import { Type, type Static, type TSchema } from 'typebox';
import type { UserRole } from './domain';
import { Id, Text } from './api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** What raised it. Only `sos` exists today; the others are reserved for geofences and device health. */
export const ALARM_KINDS = ['sos', 'geofence', 'low_battery', 'no_signal'] as const;
export type AlarmKind = (typeof ALARM_KINDS)[number];

export const ALARM_STATUSES = ['raised', 'acknowledged', 'resolved', 'false_alarm'] as const;
export type AlarmStatus = (typeof ALARM_STATUSES)[number];
/** Statuses in which an alarm is still open (it takes over the wall until acknowledged; queues until resolved). */
export const OPEN_ALARM_STATUSES: readonly AlarmStatus[] = ['raised', 'acknowledged'];

export const ALARM_SOURCES = ['device', 'app'] as const;
export type AlarmSource = (typeof ALARM_SOURCES)[number];

export const ALARM_ACTIONS = ['acknowledge', 'resolve', 'false_alarm'] as const;
export type AlarmAction = (typeof ALARM_ACTIONS)[number];

export const ALARM_EVENT_KINDS = ['raised', 'repeated', 'acknowledged', 'dispatched', 'resolved', 'false_alarm', 'consult', 'consult_recording'] as const;
export type AlarmEventKind = (typeof ALARM_EVENT_KINDS)[number];

/** The desks that take alarms (接警, 处置完毕, 误报). */
export const ALARM_DESK_ROLES = ['admin', 'leader', 'operator', 'dispatcher'] as const satisfies readonly UserRole[];
/** The desks that may send people to an alarm (the ticket workflow's dispatchers). */
export const ALARM_DISPATCH_ROLES = ['admin', 'operator', 'dispatcher'] as const satisfies readonly UserRole[];

/** How long a trail the alarm's detail carries, ms. */
export const ALARM_TRAIL_MS = 10 * 60_000;

interface AlarmRule {
  from: readonly AlarmStatus[];
  to: AlarmStatus;
  /** Desks may; `own` — the worker whose alarm it is may too. */
  own: boolean;
}

/** The machine. A second acknowledge is not allowed (someone already took the alarm: 409). */
export const ALARM_RULES: Record<AlarmAction, AlarmRule> = {
  acknowledge: { from: ['raised'], to: 'acknowledged', own: false },
  resolve: { from: ['raised', 'acknowledged'], to: 'resolved', own: false },
  false_alarm: { from: ['raised', 'acknowledged'], to: 'false_alarm', own: true },
};

export type AlarmDecision =
  | { ok: true; to: AlarmStatus }
  | { ok: false; code: 'ALARM_TRANSITION_NOT_ALLOWED' | 'FORBIDDEN' | 'ALARM_REASON_REQUIRED'; message: string };

/**
 * Whether `who` may fire `action` on an alarm in `status`. A desk role acts on any alarm it sees;
 * a worker only cancels their own as a false alarm, and must say why.
 */
export function decideAlarm(status: AlarmStatus, action: AlarmAction, who: { role: UserRole; own: boolean }, note?: string): AlarmDecision {
  const rule = ALARM_RULES[action];
  const desk = (ALARM_DESK_ROLES as readonly string[]).includes(who.role);
  if (!desk && !(rule.own && who.own)) {
    return { ok: false, code: 'FORBIDDEN', message: action === 'false_alarm' ? 'Only the worker themselves or a desk can cancel this alarm.' : 'Only a desk can take an alarm.' };
  }
  if (!rule.from.includes(status)) {
    return { ok: false, code: 'ALARM_TRANSITION_NOT_ALLOWED', message: `The alarm is ${status}: it cannot be ${action === 'acknowledge' ? 'acknowledged' : action === 'resolve' ? 'resolved' : 'cancelled'} now.` };
  }
  if (!desk && action === 'false_alarm' && !note?.trim()) {
    return { ok: false, code: 'ALARM_REASON_REQUIRED', message: 'Say why the alarm was false (note).' };
  }
  return { ok: true, to: rule.to };
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** The phone app's SOS (a worker for themselves). */
export const RaiseAlarmBody = Type.Object(
  {
    kind: Type.Literal('sos'),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    /** Metres. */
    accuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    /** When the button was pressed (ISO-8601), if the phone queued it offline; absent: now. */
    time: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    /** Chosen by the phone; the same id again answers with the alarm it raised or joined. */
    clientId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' }),
  },
  { additionalProperties: false },
);
export type RaiseAlarmBody = Static<typeof RaiseAlarmBody>;

export const AlarmsQuery = Type.Object(
  { status: Type.Optional(literals(['open', 'all'])) },
  { additionalProperties: false },
);
export type AlarmsQuery = Static<typeof AlarmsQuery>;

export const AlarmIdParams = Type.Object({ id: Id() });
export type AlarmIdParams = Static<typeof AlarmIdParams>;

export const AlarmTransitionBody = Type.Object(
  {
    action: literals(ALARM_ACTIONS),
    note: Type.Optional(Text({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type AlarmTransitionBody = Static<typeof AlarmTransitionBody>;

export const AlarmDispatchBody = Type.Object(
  {
    /** Whom to send; absent: the nearest free workers (the dispatch candidates), `count` of them. */
    workerIds: Type.Optional(Type.Array(Id(), { minItems: 1, maxItems: 10, uniqueItems: true })),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
  },
  { additionalProperties: false },
);
export type AlarmDispatchBody = Static<typeof AlarmDispatchBody>;

const UserRef = Type.Object({ id: Type.Number(), name: Type.String() });

/** An alarm as lists, the wall and the socket events carry it. Times are ISO-8601. */
export const AlarmSummary = Type.Object({
  id: Type.Number(),
  kind: literals(ALARM_KINDS),
  status: literals(ALARM_STATUSES),
  source: literals(ALARM_SOURCES),
  worker: Type.Object({ id: Type.Number(), name: Type.String(), phone: Type.String() }),
  /** The worker's home grid: whose jurisdiction the alarm is in. */
  grid: Type.Object({ code: Type.String(), name: Type.String() }),
  lon: Type.Number(),
  lat: Type.Number(),
  accuracy: Nullable(Type.Number()),
  raisedAt: Type.String(),
  /** How many more SOS the worker sent while it was open. */
  repeats: Type.Number(),
  acknowledgedAt: Nullable(Type.String()),
  acknowledgedBy: Nullable(UserRef),
  resolvedAt: Nullable(Type.String()),
  resolvedBy: Nullable(UserRef),
  note: Nullable(Type.String()),
});
export type AlarmSummary = Static<typeof AlarmSummary>;

export const AlarmList = Type.Array(AlarmSummary);
export type AlarmList = Static<typeof AlarmList>;

export const AlarmEvent = Type.Object({
  id: Type.Number(),
  at: Type.String(),
  kind: literals(ALARM_EVENT_KINDS),
  actor: Nullable(UserRef),
  note: Nullable(Type.String()),
  detail: Type.Unknown(),
});
export type AlarmEvent = Static<typeof AlarmEvent>;

/** One point of the worker's trail: [lon, lat, time ms]. */
export const TrailPoint = Type.Array(Type.Number(), { minItems: 3, maxItems: 3 });
export type TrailPoint = Static<typeof TrailPoint>;

export const AlarmTicketRef = Type.Object({
  id: Type.Number(),
  number: Type.String(),
  status: Type.String(),
  assignedWorker: Nullable(Type.Object({ id: Type.Number(), name: Type.String() })),
});
export type AlarmTicketRef = Static<typeof AlarmTicketRef>;

export const AlarmDetail = Type.Object({
  ...AlarmSummary.properties,
  timeline: Type.Array(AlarmEvent),
  /** The worker's positions of the last 10 minutes before now (or before it was closed), oldest first. */
  trail: Type.Array(TrailPoint),
  /** The tickets that sent people to it. */
  tickets: Type.Array(AlarmTicketRef),
});
export type AlarmDetail = Static<typeof AlarmDetail>;

export const AlarmDispatchResult = Type.Object({
  alarm: AlarmSummary,
  /** The tickets created and dispatched now (one per worker sent); a ticket nobody free could take has no worker. */
  tickets: Type.Array(AlarmTicketRef),
});
export type AlarmDispatchResult = Static<typeof AlarmDispatchResult>;
