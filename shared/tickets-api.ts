/**
 * The tickets' HTTP and realtime contract: TypeBox schemas with their inferred types under the same
 * name. The server validates bodies and serialises responses with them; the client imports the types.
 */
import { Type, type Static, type TSchema } from 'typebox';
import {
  ESCALATION_LEVELS,
  TICKET_ACTIONS,
  TICKET_EVENT_KINDS,
  TICKET_SOURCES,
  TICKET_STAGES,
  TICKET_STATUSES,
  TICKET_URGENCIES,
  TRANSITION_ACTIONS,
} from './tickets';
import { WORKER_ROLES } from './domain';
import { Id, Line, Text } from './api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** Category codes: 'safety' or 'safety.fire'. */
const CATEGORY_CODE = '^[a-z][a-z0-9_]*([.][a-z][a-z0-9_]*)?$';
const DEPARTMENT_CODE = '^[a-z][a-z0-9_]*$';

/** How old a report queued on a phone may be when it finally arrives, ms (as old as a stored position may be). */
export const TICKET_REPORTED_MAX_AGE_MS = 7 * 86_400_000;

export const CreateTicketBody = Type.Object(
  {
    category: Type.String({ pattern: CATEGORY_CODE, maxLength: 64 }),
    urgency: literals(TICKET_URGENCIES),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    /** What is wrong, in the reporter's words (Open311 allows 4,000 characters). */
    description: Text({ maxLength: 4000 }),
    /** Chosen by the reporting app; the same id again returns the ticket it already created. */
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' })),
    /** Defaults to patrol for a grid worker, hotline for the centre. */
    source: Type.Optional(literals(TICKET_SOURCES)),
    /**
     * When the reporter filed it (ISO-8601), if their phone queued it offline: becomes the ticket's
     * receivedAt. Not in the future, not older than TICKET_REPORTED_MAX_AGE_MS. Absent: now.
     */
    reportedAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
  },
  { additionalProperties: false },
);
export type CreateTicketBody = Static<typeof CreateTicketBody>;

const TicketSummaryProperties = {
  id: Type.Number(),
  /** GD-YYYYMMDD-NNNN, dated in China Standard Time. */
  number: Type.String(),
  status: literals(TICKET_STATUSES),
  urgency: literals(TICKET_URGENCIES),
  source: literals(TICKET_SOURCES),
  category: Type.Object({ code: Type.String(), name: Type.String(), parentCode: Nullable(Type.String()) }),
  description: Type.String(),
  location: Type.Object({ lon: Type.Number(), lat: Type.Number() }),
  grid: Type.Object({ code: Type.String(), name: Type.String() }),
  /** Where on the escalation ladder the ticket sits. */
  level: literals(ESCALATION_LEVELS),
  department: Nullable(Type.Object({ code: Type.String(), name: Type.String() })),
  assignedWorker: Nullable(Type.Object({ id: Type.Number(), name: Type.String() })),
  reporter: Type.Object({ userId: Nullable(Type.Number()), name: Nullable(Type.String()), workerId: Nullable(Type.Number()) }),
  /** The stage whose deadline runs, null once closed or cancelled. */
  stage: Nullable(literals(TICKET_STAGES)),
  stageStartedAt: Nullable(Type.String()),
  /** The running stage's deadline, ISO-8601. */
  deadline: Nullable(Type.String()),
  /** The overall deadline for 结案, ISO-8601. */
  closeDeadline: Type.String(),
  /** At the time of the response: amber from 80 % of a deadline, red once past (see deadlineAlert). */
  alert: literals(['none', 'ok', 'amber', 'red']),
  receivedAt: Type.String(),
  updatedAt: Type.String(),
  closedAt: Nullable(Type.String()),
  photoCount: Type.Number(),
};

export const TicketSummary = Type.Object(TicketSummaryProperties);
export type TicketSummary = Static<typeof TicketSummary>;

export const TicketEventDto = Type.Object({
  id: Type.Number(),
  at: Type.String(),
  kind: literals(TICKET_EVENT_KINDS),
  fromStatus: Nullable(literals(TICKET_STATUSES)),
  toStatus: Nullable(literals(TICKET_STATUSES)),
  /** Null for the system (deadline escalation). */
  actor: Nullable(Type.Object({ userId: Type.Number(), name: Type.String() })),
  reason: Nullable(Type.String()),
  note: Nullable(Type.String()),
  detail: Type.Unknown(),
});
export type TicketEventDto = Static<typeof TicketEventDto>;

export const TicketPhotoDto = Type.Object({
  id: Type.Number(),
  mime: Type.String(),
  bytes: Type.Number(),
  createdAt: Type.String(),
  /** Where to fetch it (with the same bearer token). */
  url: Type.String(),
});
export type TicketPhotoDto = Static<typeof TicketPhotoDto>;

export const DepartmentReplyDto = Type.Object({
  id: Type.Number(),
  department: Type.Object({ code: Type.String(), name: Type.String() }),
  acceptedAt: Type.String(),
  contacted: Type.String(),
  actions: Type.String(),
  dueBy: Type.String(),
  recordedAt: Type.String(),
});
export type DepartmentReplyDto = Static<typeof DepartmentReplyDto>;

export const TicketDetail = Type.Object({
  ...TicketSummaryProperties,
  timeline: Type.Array(TicketEventDto),
  photos: Type.Array(TicketPhotoDto),
  departmentReplies: Type.Array(DepartmentReplyDto),
  /** What the caller may do now (the machine's answer for this user). */
  actions: Type.Array(literals(TICKET_ACTIONS)),
});
export type TicketDetail = Static<typeof TicketDetail>;

export const TicketsQuery = Type.Object(
  {
    status: Type.Optional(literals(TICKET_STATUSES)),
    /** A class ('safety') includes its sub-categories. */
    category: Type.Optional(Type.String({ pattern: CATEGORY_CODE, maxLength: 64 })),
    /** Past its running or its overall deadline (open tickets only). */
    overdue: Type.Optional(Type.Boolean()),
    level: Type.Optional(literals(ESCALATION_LEVELS)),
    urgency: Type.Optional(literals(TICKET_URGENCIES)),
    /** true: only open tickets (not closed or cancelled); false: only closed or cancelled ones. */
    open: Type.Optional(Type.Boolean()),
    /** Only tickets needing the wall's attention: open, and immediate (立刻办理) or past a deadline. */
    attention: Type.Optional(Type.Boolean()),
    /** Only tickets assigned to the signed-in worker. */
    mine: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
  },
  { additionalProperties: false },
);
export type TicketsQuery = Static<typeof TicketsQuery>;

/** Why the system offered a ticket to the next worker. */
export const REOFFER_TRIGGERS = ['declined', 'timeout'] as const;
export type ReofferTrigger = (typeof REOFFER_TRIGGERS)[number];

/** Whom a ticket went to next: their rank and distance among the recommended when offered. */
export const ReofferNext = Type.Object({
  workerId: Type.Number(),
  name: Type.String(),
  rank: Nullable(Type.Integer()),
  /** From the worker's position when offered, m; null when they were not among the recommended. */
  distanceM: Nullable(Type.Number()),
  /** Straight-line walking time for distanceM, s. */
  etaS: Nullable(Type.Number()),
});
export type ReofferNext = Static<typeof ReofferNext>;

/** Statuses in which a ticket waits for a worker: its queue row keeps a re-offer mark until someone accepts. */
export const REOFFER_MARK_STATUSES: readonly (typeof TICKET_STATUSES)[number][] = ['registered', 'dispatched', 'returned', 'escalated'];

/**
 * The desk's mark on a queue row (issue 14): the ticket's latest offer was declined or ran out and
 * nobody has accepted it since. Derived from the stored offers, so a reload or a second desk sees
 * what the live `ticket.reoffered` event showed.
 */
export const TicketReofferMark = Type.Object(
  {
    ticketId: Type.Number(),
    trigger: literals(REOFFER_TRIGGERS),
    /** Who declined or did not answer. */
    from: Type.Object({ workerId: Type.Number(), name: Type.String() }),
    /** The decliner's reason (拒单理由); null for a timeout. */
    reason: Nullable(Type.String()),
    /** When they declined or the offer ran out, ISO-8601. */
    at: Type.String(),
    /** Whom the system offered it to next; null when nobody free was left (a dispatcher must decide). */
    to: Nullable(ReofferNext),
  },
  {
    description:
      'A ticket still waiting for a worker whose latest offer was declined (trigger declined, with the reason) or ran out (timeout): ' +
      'from whom, when, and whom the system offered it to next (to; null: nobody free was left, a dispatcher must decide). Cleared once a worker accepts.',
  },
);
export type TicketReofferMark = Static<typeof TicketReofferMark>;

export const TicketList = Type.Object({
  total: Type.Number(),
  items: Type.Array(TicketSummary),
  /**
   * For a dispatch desk: a mark for each listed ticket still waiting for a worker whose latest offer
   * was declined or ran out (only those; empty for everyone else).
   */
  reoffers: Type.Array(TicketReofferMark, { description: 'Re-offer marks of the listed tickets that have one (dispatch desks only; otherwise empty).' }),
});
export type TicketList = Static<typeof TicketList>;

export const TicketIdParams = Type.Object({ id: Id() });
export type TicketIdParams = Static<typeof TicketIdParams>;

export const TicketPhotoParams = Type.Object({ id: Id(), photoId: Id() });
export type TicketPhotoParams = Static<typeof TicketPhotoParams>;

export const TransitionBody = Type.Object(
  {
    action: literals(TRANSITION_ACTIONS),
    /** dispatch: the worker to send it to. */
    workerId: Type.Optional(Id()),
    /** Required to decline, return, cancel and reopen; when given, not blank. */
    reason: Type.Optional(Text({ maxLength: 1000 })),
    note: Type.Optional(Text({ maxLength: 2000 })),
    /** escalate to a department: which one (default: the category's). */
    departmentCode: Type.Optional(Type.String({ pattern: DEPARTMENT_CODE, maxLength: 64 })),
    /** close: the 回访 (return visit) rating — 满意 satisfied / 基本满意 basic / 不满意 unsatisfied; only with close. */
    satisfaction: Type.Optional(literals(['satisfied', 'basic', 'unsatisfied'])),
  },
  { additionalProperties: false },
);
export type TransitionBody = Static<typeof TransitionBody>;

/** A department's reply to the centre's whistle: the four things it must carry. */
export const DepartmentReplyBody = Type.Object(
  {
    /** The department replying (default: the one the ticket was referred to). */
    departmentCode: Type.Optional(Type.String({ pattern: DEPARTMENT_CODE, maxLength: 64 })),
    /** When the department accepted the matter. */
    acceptedAt: Type.String({ format: 'date-time', maxLength: 64 }),
    /** Whom it contacted (the resident, the party responsible …). */
    contacted: Text({ maxLength: 500 }),
    /** What it has done. */
    actions: Text({ maxLength: 2000 }),
    /** By when it will be settled. */
    dueBy: Type.String({ format: 'date-time', maxLength: 64 }),
    note: Type.Optional(Text({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type DepartmentReplyBody = Static<typeof DepartmentReplyBody>;

export const TicketCategoryDto = Type.Object({
  code: Type.String(),
  parentCode: Nullable(Type.String()),
  name: Type.String(),
  departmentCode: Nullable(Type.String()),
  sortOrder: Type.Number(),
  active: Type.Boolean(),
});
export type TicketCategoryDto = Static<typeof TicketCategoryDto>;
export const TicketCategoryList = Type.Array(TicketCategoryDto);

export const CategoryParams = Type.Object({ code: Type.String({ pattern: CATEGORY_CODE, maxLength: 64 }) });
export type CategoryParams = Static<typeof CategoryParams>;

export const PutCategoryBody = Type.Object(
  {
    name: Line({ maxLength: 64 }),
    parentCode: Type.Optional(Nullable(Type.String({ pattern: CATEGORY_CODE, maxLength: 64 }))),
    departmentCode: Type.Optional(Nullable(Type.String({ pattern: DEPARTMENT_CODE, maxLength: 64 }))),
    sortOrder: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PutCategoryBody = Static<typeof PutCategoryBody>;

export const DepartmentDto = Type.Object({ code: Type.String(), name: Type.String(), fullName: Type.String(), active: Type.Boolean() });
export type DepartmentDto = Static<typeof DepartmentDto>;
export const DepartmentList = Type.Array(DepartmentDto);

const minutes = Type.Integer({ minimum: 1, maximum: 525_600 });
const StageMinutes = Type.Object(
  { register: minutes, dispatch: minutes, accept: minutes, resolve: minutes, verify: minutes, close: minutes },
  { additionalProperties: false },
);
/** Minutes per stage by urgency (the shape of DeadlineRules). */
export const DeadlineRulesDto = Type.Object(
  { immediate: StageMinutes, scheduled: StageMinutes, long_term: StageMinutes },
  { additionalProperties: false },
);
export type DeadlineRulesDto = Static<typeof DeadlineRulesDto>;

// Realtime payloads (declared in ServerToClientEvents).

/** A ticket changed: the ticket after, and the timeline entry that says what happened. */
export interface TicketChange {
  ticket: TicketSummary;
  event: TicketEventDto;
}

/** The notice an escalation sends to the level above ("中心吹哨"). */
export interface TicketEscalationNotice extends TicketChange {
  fromLevel: (typeof ESCALATION_LEVELS)[number];
  toLevel: (typeof ESCALATION_LEVELS)[number];
  /** The region whose desk now holds the ticket (the district, for a department referral). */
  target: { level: (typeof ESCALATION_LEVELS)[number]; regionCode: string; regionName: string };
  department: { code: string; name: string } | null;
  /** The stage whose deadline passed, when the scheduler escalated; null for a person's decision. */
  overdueStage: (typeof TICKET_STAGES)[number] | null;
}

// ---------------------------------------------------------------------------------------------
// Dispatch to the nearest free worker: recommendations, offers to a worker's phone, re-offers.

export const CandidatesQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })) },
  { additionalProperties: false },
);
export type CandidatesQuery = Static<typeof CandidatesQuery>;

/** A worker recommended for a ticket: on duty, online, a fresh position, room for another task. */
export const DispatchCandidate = Type.Object({
  /** Place in the list, 1 = whom to send first. */
  rank: Type.Integer(),
  workerId: Type.Number(),
  name: Type.String(),
  role: literals(WORKER_ROLES),
  /** Responsible for the ticket's own grid (属地): ranked before everyone else, however far. */
  sameGrid: Type.Boolean(),
  /** True ground distance (WGS84 geodesic, as PostGIS `ST_Distance(geography)`) from the ticket, m. */
  distanceM: Type.Number(),
  /** Straight-line walking time, s (not a route). */
  etaS: Type.Number(),
  location: Type.Object({ lon: Type.Number(), lat: Type.Number() }),
  /** Time of the position the distance was measured from, ISO-8601. */
  fixAt: Type.String(),
  /** Tickets the worker holds now (dispatched, accepted, in progress). */
  openTasks: Type.Integer(),
});
export type DispatchCandidate = Static<typeof DispatchCandidate>;
export const DispatchCandidateList = Type.Array(DispatchCandidate);
export type DispatchCandidateList = Static<typeof DispatchCandidateList>;

export const AutoDispatchBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });
export type AutoDispatchBody = Static<typeof AutoDispatchBody>;

/** Codes of the categories dispatched without a person (a class's flag covers its sub-categories). */
export const AutoDispatchCategories = Type.Array(Type.String());
export type AutoDispatchCategories = Static<typeof AutoDispatchCategories>;

/** A task offered to a worker: sent to the worker's own account (room `user:<userId>`). */
export interface TaskOffer {
  ticket: TicketSummary;
  offeredAt: string;
  /** When it goes to the next worker unless accepted or declined; null when offers never time out. */
  expiresAt: string | null;
  /** From the worker's position when offered; null when it was not among the recommended. */
  distanceM: number | null;
  etaS: number | null;
}

/** An offer taken back from a worker (it went to someone else, or the ticket moved on). */
export interface TaskWithdrawal {
  ticketId: number;
  number: string;
  /** 'timeout' when it went to the next worker unanswered; else what happened to the ticket (reassigned, cancelled, escalated …). */
  reason: 'timeout' | (typeof TICKET_EVENT_KINDS)[number];
}

/** To the ticket's dashboards: the system offered it to the next worker, or found nobody free. */
export interface TicketReoffer {
  ticket: TicketSummary;
  /** The timeline entry of the re-offer; null when nobody was free and nothing changed. */
  event: TicketEventDto | null;
  trigger: ReofferTrigger;
  /** Who declined or did not answer. */
  from: { workerId: number; name: string };
  /** When they declined or the offer ran out, ISO-8601 (the stored mark's `at`). */
  at: string;
  /** Who has it now, with their rank and distance among the recommended; null when nobody free is left: a dispatcher must decide. */
  to: ReofferNext | null;
}

// ---------------------------------------------------------------------------------------------
// The wall's view of tickets: a heatmap over a window, today's counters, tickets needing attention.

/** Windows the wall offers, ending now (the server's clock); "today" starts at midnight in Asia/Shanghai, 7d / 30d exactly 7 / 30 days before. */
export const TICKET_WINDOWS = ['today', '7d', '30d'] as const;
export type TicketWindow = (typeof TICKET_WINDOWS)[number];

export const TicketHeatQuery = Type.Object(
  {
    window: literals(TICKET_WINDOWS),
    /** A class ('safety') includes its sub-categories. */
    category: Type.Optional(Type.String({ pattern: CATEGORY_CODE, maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type TicketHeatQuery = Static<typeof TicketHeatQuery>;

/**
 * Tickets received in the window inside the caller's jurisdiction, binned in PostGIS to cells of
 * about 50 m (centroid of the cell's tickets, and how many): columnar, one entry per cell (south to
 * north, west to east), ready for a deck.gl HeatmapLayer's binary attributes.
 */
export const TicketHeat = Type.Object({
  window: literals(TICKET_WINDOWS),
  category: Nullable(Type.String()),
  /** ISO-8601 bounds of the window, both inclusive: `to` is now, so a ticket received this instant counts. */
  from: Type.String(),
  to: Type.String(),
  /** Tickets counted (the sum of weight). */
  total: Type.Integer(),
  lon: Type.Array(Type.Number()),
  lat: Type.Array(Type.Number()),
  weight: Type.Array(Type.Integer()),
});
export type TicketHeat = Static<typeof TicketHeat>;

export const TicketStatsQuery = Type.Object(
  { window: Type.Optional(literals(TICKET_WINDOWS)) },
  { additionalProperties: false },
);
export type TicketStatsQuery = Static<typeof TicketStatsQuery>;

/** Counters for tickets received in the window (default today) in the caller's jurisdiction. */
export const TicketStats = Type.Object({
  window: literals(TICKET_WINDOWS),
  /** ISO-8601 bounds of the window, both inclusive (`to` is now). */
  from: Type.String(),
  to: Type.String(),
  /** Received in the window. */
  total: Type.Integer(),
  /** By top-level class (the five), every class present even at 0, in the classes' order. */
  byCategory: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), count: Type.Integer() })),
  /** By current status, every status present even at 0. */
  byStatus: Type.Record(Type.String(), Type.Integer()),
  /** Received in the window and still open (not closed or cancelled). */
  open: Type.Integer(),
  /** Open now and past a running or overall deadline (any receipt time). */
  overdueNow: Type.Integer(),
  /** Closed in the window, and of those closed by their overall deadline (按期结案). */
  closed: Type.Integer(),
  closedOnTime: Type.Integer(),
  /** closedOnTime / closed, null when nothing closed. */
  onTimeRate: Nullable(Type.Number()),
});
export type TicketStats = Static<typeof TicketStats>;
