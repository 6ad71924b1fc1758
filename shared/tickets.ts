/**
 * Tickets (工单): the workflow state machine, urgency deadlines and escalation ladder that server
 * and client share. Pure — no DOM, no Node — so the server enforces exactly what the client offers.
 *
 * The flow follows GB/T 30428's steps: 受理 received → 立案 registered → 派遣 dispatched → accepted →
 * 处置 in_progress → 处置完成 resolved → 核查 verified → 结案 closed, with the side roads a real desk
 * needs: decline / return (退回, with a reason), reassignment, escalation up the ladder
 * grid → community → street → district centre → a department ("中心吹哨、部门报到"), cancellation
 * (不予立案, with a reason) and reopening.
 */
import type { ErrorCode } from './errors';
import type { RegionLevel, UserRole } from './domain';
import { shanghaiDate } from './shanghai-time';

export const TICKET_STATUSES = [
  'received',
  'registered',
  'dispatched',
  'accepted',
  'in_progress',
  'resolved',
  'verified',
  'closed',
  'returned',
  'escalated',
  'cancelled',
] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** Statuses a ticket never leaves except by `reopen`. */
export const FINAL_STATUSES: readonly TicketStatus[] = ['closed', 'cancelled'];

/**
 * What can be done to a ticket. `reply` is a department's 吹哨 reply, recorded by the district
 * centre; it has its own endpoint because it must carry four facts (see DepartmentReplyBody).
 */
export const TICKET_ACTIONS = [
  'register',
  'dispatch',
  'accept',
  'decline',
  'start',
  'resolve',
  'verify',
  'close',
  'return',
  'escalate',
  'cancel',
  'reopen',
  'reply',
] as const;
export type TicketAction = (typeof TICKET_ACTIONS)[number];

/** The actions `POST /api/tickets/:id/transitions` takes (a department reply has its own endpoint). */
export const TRANSITION_ACTIONS = [
  'register',
  'dispatch',
  'accept',
  'decline',
  'start',
  'resolve',
  'verify',
  'close',
  'return',
  'escalate',
  'cancel',
  'reopen',
] as const satisfies readonly TicketAction[];
export type TransitionAction = (typeof TRANSITION_ACTIONS)[number];

/** What the timeline records. Transitions name what happened; the last three change no status. */
export const TICKET_EVENT_KINDS = [
  'created',
  'registered',
  'not_registered',
  'dispatched',
  'reassigned',
  'accepted',
  'declined',
  'started',
  'resolved',
  'verified',
  'closed',
  'returned',
  'rework',
  'escalated',
  'cancelled',
  'reopened',
  'department_replied',
  'photo_added',
  'consult',
  'consult_recording',
] as const;
export type TicketEventKind = (typeof TICKET_EVENT_KINDS)[number];

/** 立刻办理 / 定期办理 / 长期推进 (long-term work comes with an explanation to the resident). */
export const TICKET_URGENCIES = ['immediate', 'scheduled', 'long_term'] as const;
export type TicketUrgency = (typeof TICKET_URGENCIES)[number];

/** 巡查上报 patrol, 群众诉求 resident (mini-program), 热线 hotline, 部门转办 referral. */
export const TICKET_SOURCES = ['patrol', 'resident', 'hotline', 'referral'] as const;
export type TicketSource = (typeof TICKET_SOURCES)[number];

/** The escalation ladder, lowest first: 小事不出网格, 大事不出社区, then street, centre, departments. */
export const ESCALATION_LEVELS = ['grid', 'community', 'street', 'district', 'department'] as const;
export type EscalationLevel = (typeof ESCALATION_LEVELS)[number];

/** Who may act: platform roles, plus the scheduler (deadline escalation). */
export type TicketActorRole = UserRole | 'system';

export interface TicketActor {
  role: TicketActorRole;
  /**
   * Whether the actor handles this ticket: the assigned worker, or — for a ticket referred to a
   * department — the district centre staff who relay the department's progress.
   */
  handler: boolean;
  /** The level of the actor's jurisdiction; absent for the system (unlimited reach). */
  regionLevel?: RegionLevel | null;
}

/** The fields of a ticket the machine looks at. */
export interface TicketState {
  status: TicketStatus;
  level: EscalationLevel;
}

/** Who a rule admits: a role, the ticket's handler (any role), or the scheduler. */
export type TicketPermit = UserRole | 'handler' | 'system';

export interface TicketRule {
  from: TicketStatus;
  to: TicketStatus;
  event: TicketEventKind;
  who: readonly TicketPermit[];
  /** A reason must be given (退回 / 不予立案 / 重新打开 must say why). */
  reason?: boolean;
  /** A worker must be named (dispatch). */
  worker?: boolean;
}

/** Desk work: registering, dispatching, verifying, cancelling (受理员 / 调度员 / administrators). */
const DESK = ['admin', 'dispatcher', 'operator'] as const;
/** Command decisions: the desk plus leaders (closing, escalating, reopening). */
const COMMAND = ['admin', 'leader', 'dispatcher', 'operator'] as const;
const HANDLER = ['handler'] as const;

/**
 * The whole machine as data: for each action, the statuses it may start from, where it leads,
 * what the timeline calls it and who may fire it. Anything not listed is not allowed.
 */
export const TICKET_RULES: { readonly [A in TicketAction]: readonly TicketRule[] } = {
  register: [{ from: 'received', to: 'registered', event: 'registered', who: DESK }],
  // The system dispatches too: a category's auto-dispatch on registration, and the re-offer to the
  // next nearest worker after a decline or an offer left unanswered.
  dispatch: [
    { from: 'registered', to: 'dispatched', event: 'dispatched', who: [...DESK, 'system'], worker: true },
    { from: 'escalated', to: 'dispatched', event: 'dispatched', who: DESK, worker: true },
    // Sending it to another worker: after a decline or return, or taking it from a silent one.
    { from: 'returned', to: 'dispatched', event: 'reassigned', who: [...DESK, 'system'], worker: true },
    { from: 'dispatched', to: 'dispatched', event: 'reassigned', who: [...DESK, 'system'], worker: true },
    { from: 'accepted', to: 'dispatched', event: 'reassigned', who: DESK, worker: true },
    { from: 'in_progress', to: 'dispatched', event: 'reassigned', who: DESK, worker: true },
  ],
  accept: [{ from: 'dispatched', to: 'accepted', event: 'accepted', who: HANDLER }],
  decline: [{ from: 'dispatched', to: 'returned', event: 'declined', who: HANDLER, reason: true }],
  start: [{ from: 'accepted', to: 'in_progress', event: 'started', who: HANDLER }],
  resolve: [{ from: 'in_progress', to: 'resolved', event: 'resolved', who: HANDLER }],
  verify: [{ from: 'resolved', to: 'verified', event: 'verified', who: DESK }],
  close: [{ from: 'verified', to: 'closed', event: 'closed', who: COMMAND }],
  return: [
    { from: 'accepted', to: 'returned', event: 'returned', who: HANDLER, reason: true },
    { from: 'in_progress', to: 'returned', event: 'returned', who: HANDLER, reason: true },
    // 核查不通过: verification failed, back to the same handler.
    { from: 'resolved', to: 'in_progress', event: 'rework', who: DESK, reason: true },
  ],
  escalate: [
    { from: 'registered', to: 'escalated', event: 'escalated', who: [...COMMAND, 'system'] },
    { from: 'dispatched', to: 'escalated', event: 'escalated', who: [...COMMAND, 'system'] },
    { from: 'accepted', to: 'escalated', event: 'escalated', who: [...COMMAND, 'handler', 'system'] },
    { from: 'in_progress', to: 'escalated', event: 'escalated', who: [...COMMAND, 'handler', 'system'] },
    { from: 'returned', to: 'escalated', event: 'escalated', who: [...COMMAND, 'system'] },
    { from: 'escalated', to: 'escalated', event: 'escalated', who: [...COMMAND, 'system'] },
  ],
  cancel: [
    { from: 'received', to: 'cancelled', event: 'not_registered', who: DESK, reason: true },
    { from: 'registered', to: 'cancelled', event: 'cancelled', who: DESK, reason: true },
    { from: 'dispatched', to: 'cancelled', event: 'cancelled', who: DESK, reason: true },
    { from: 'returned', to: 'cancelled', event: 'cancelled', who: DESK, reason: true },
    { from: 'escalated', to: 'cancelled', event: 'cancelled', who: DESK, reason: true },
  ],
  reopen: [
    { from: 'closed', to: 'registered', event: 'reopened', who: COMMAND, reason: true },
    { from: 'cancelled', to: 'received', event: 'reopened', who: COMMAND, reason: true },
  ],
  // The department's reply (recorded by the centre) starts its handling.
  reply: [{ from: 'escalated', to: 'in_progress', event: 'department_replied', who: ['admin', 'leader', 'operator'] }],
};

/** Codes the machine answers with; each is in ERROR_CODES. */
export type TicketDecisionCode = Extract<
  ErrorCode,
  | 'TICKET_TRANSITION_NOT_ALLOWED'
  | 'TICKET_ACTION_FORBIDDEN'
  | 'TICKET_ESCALATION_EXHAUSTED'
  | 'TICKET_REASON_REQUIRED'
  | 'TICKET_WORKER_REQUIRED'
>;

export type TicketDecision =
  | {
      ok: true;
      action: TicketAction;
      from: TicketStatus;
      to: TicketStatus;
      event: TicketEventKind;
      /** The escalation level after the action (changes only on escalate). */
      level: EscalationLevel;
    }
  | { ok: false; code: TicketDecisionCode; message: string };

export interface TicketInput {
  reason?: string | null | undefined;
  workerId?: number | null | undefined;
}

export function escalationIndex(level: EscalationLevel): number {
  return ESCALATION_LEVELS.indexOf(level);
}

/**
 * How far up the ladder a desk at this region level may act: a street desk handles what sits at
 * grid, community or street level; the district centre handles everything, department referrals
 * included (it relays them). Micro-grid accounts reach the grid.
 */
export function reachOf(regionLevel: RegionLevel): EscalationLevel {
  switch (regionLevel) {
    case 'district':
      return 'department';
    case 'street':
      return 'street';
    case 'community':
      return 'community';
    default:
      return 'grid';
  }
}

/** Whether a desk at `regionLevel` may act on a ticket that sits at `level`. */
export function withinReach(regionLevel: RegionLevel | null | undefined, level: EscalationLevel): boolean {
  if (!regionLevel) return true;
  return escalationIndex(level) <= escalationIndex(reachOf(regionLevel));
}

/**
 * Where an escalation sends the ticket: one level above where it sits — or, when a desk above that
 * level escalates ("this is beyond me too"), one above the desk. Null when it is at the top.
 */
export function escalationTarget(level: EscalationLevel, deskLevel?: RegionLevel | null): EscalationLevel | null {
  let from = escalationIndex(level);
  if (deskLevel) from = Math.max(from, Math.min(escalationIndex(reachOf(deskLevel)), escalationIndex('district')));
  return ESCALATION_LEVELS[from + 1] ?? null;
}

function permits(rule: TicketRule, actor: TicketActor): 'role' | 'handler' | 'system' | null {
  if (actor.role === 'system') return rule.who.includes('system') ? 'system' : null;
  if (rule.who.includes(actor.role)) return 'role';
  if (actor.handler && rule.who.includes('handler')) return 'handler';
  return null;
}

const hasText = (s: string | null | undefined): boolean => typeof s === 'string' && s.trim().length > 0;

/**
 * Decides whether `actor` may fire `action` on a ticket now, and what follows. The one place the
 * workflow's rules live: the server enforces it, the client shows only what it allows.
 */
export function decide(ticket: TicketState, action: TicketAction, actor: TicketActor, input: TicketInput = {}): TicketDecision {
  const rule = TICKET_RULES[action].find((r) => r.from === ticket.status);
  if (!rule) {
    return { ok: false, code: 'TICKET_TRANSITION_NOT_ALLOWED', message: `A ticket that is ${ticket.status} cannot be ${action}ed now.` };
  }
  const via = permits(rule, actor);
  if (!via) {
    return { ok: false, code: 'TICKET_ACTION_FORBIDDEN', message: `A ${actor.role}${actor.handler ? ' handling it' : ''} may not ${action} this ticket.` };
  }
  // A desk acts only on what has not been escalated above it; the handler and the scheduler always may.
  if (via === 'role' && !withinReach(actor.regionLevel, ticket.level)) {
    return { ok: false, code: 'TICKET_ACTION_FORBIDDEN', message: `This ticket has been escalated to the ${ticket.level} level, above your jurisdiction.` };
  }
  let level = ticket.level;
  if (action === 'escalate') {
    const target = escalationTarget(ticket.level, via === 'role' ? actor.regionLevel : null);
    if (!target) return { ok: false, code: 'TICKET_ESCALATION_EXHAUSTED', message: 'The ticket is already with a department: there is no level above.' };
    level = target;
  }
  if (action === 'reply' && ticket.level !== 'department') {
    return { ok: false, code: 'TICKET_TRANSITION_NOT_ALLOWED', message: 'Only a ticket escalated to a department takes a department reply.' };
  }
  if (rule.reason && !hasText(input.reason)) {
    return { ok: false, code: 'TICKET_REASON_REQUIRED', message: `To ${action} a ticket, give a reason.` };
  }
  if (rule.worker && !(typeof input.workerId === 'number' && input.workerId > 0)) {
    return { ok: false, code: 'TICKET_WORKER_REQUIRED', message: 'Name the worker to dispatch the ticket to (workerId).' };
  }
  return { ok: true, action, from: ticket.status, to: rule.to, event: rule.event, level };
}

/** The rule an action would follow from this status, if any (what the client needs to build a form). */
export function ruleFor(status: TicketStatus, action: TicketAction): TicketRule | undefined {
  return TICKET_RULES[action].find((r) => r.from === status);
}

/** Actions this actor may fire now (inputs aside): the buttons a screen shows. */
export function availableActions(ticket: TicketState, actor: TicketActor): TicketAction[] {
  return TICKET_ACTIONS.filter((action) => {
    const d = decide(ticket, action, actor, { reason: 'x', workerId: 1 });
    return d.ok;
  });
}

/** Statuses the deadline scheduler may escalate from (derived from the rules, not restated). */
export const SYSTEM_ESCALATABLE: readonly TicketStatus[] = TICKET_RULES.escalate
  .filter((r) => r.who.includes('system'))
  .map((r) => r.from);

// ---------------------------------------------------------------------------------------------
// Deadlines

/**
 * The stages a deadline is set for. `close` is the overall deadline from receipt to 结案, the basis
 * of 按期结案率 (the share closed on time).
 */
export const TICKET_STAGES = ['register', 'dispatch', 'accept', 'resolve', 'verify', 'close'] as const;
export type TicketStage = (typeof TICKET_STAGES)[number];

/** Minutes allowed per stage, by urgency. Kept in the database (ticket_deadline_rules) so an admin can change it. */
export type DeadlineRules = Record<TicketUrgency, Record<TicketStage, number>>;

/**
 * The defaults the migration seeds. `resolve` counts from dispatch (a slow acceptance does not buy
 * extra time), the others from the start of their stage.
 */
export const DEFAULT_DEADLINE_RULES: DeadlineRules = {
  immediate: { register: 10, dispatch: 10, accept: 10, resolve: 240, verify: 60, close: 1440 },
  scheduled: { register: 60, dispatch: 120, accept: 60, resolve: 4320, verify: 1440, close: 7200 },
  long_term: { register: 240, dispatch: 1440, accept: 1440, resolve: 43200, verify: 4320, close: 86400 },
};

/** The stage a ticket in this status is in (whose deadline runs), or null when it is finished. */
export function stageOf(status: TicketStatus): TicketStage | null {
  switch (status) {
    case 'received':
      return 'register';
    case 'registered':
    case 'returned':
    case 'escalated':
      return 'dispatch';
    case 'dispatched':
      return 'accept';
    case 'accepted':
    case 'in_progress':
      return 'resolve';
    case 'resolved':
      return 'verify';
    case 'verified':
      return 'close';
    case 'closed':
    case 'cancelled':
      return null;
  }
}

export interface StageWindow {
  stage: TicketStage | null;
  /** ms since epoch; null when no stage runs. */
  startedAt: number | null;
  dueAt: number | null;
}

export interface StageContext {
  /** The window running before the transition. */
  current: StageWindow;
  /** When the ticket was (last) dispatched, ms. */
  dispatchedAt: number | null;
  /** Receipt and the overall 结案 deadline, ms. */
  receivedAt: number;
  closeDueAt: number;
  /** A department's committed date ("by when"), for a department reply. */
  replyDueBy?: number | null;
}

const MINUTE = 60_000;

/** The deadline window after a transition that leads to `to` (the timeline event says how it got there). */
export function nextStageWindow(rules: DeadlineRules, urgency: TicketUrgency, to: TicketStatus, event: TicketEventKind, now: number, ctx: StageContext): StageWindow {
  const stage = stageOf(to);
  const r = rules[urgency];
  switch (stage) {
    case null:
      return { stage: null, startedAt: null, dueAt: null };
    case 'resolve': {
      if (event === 'department_replied') return { stage, startedAt: now, dueAt: ctx.replyDueBy ?? now + r.resolve * MINUTE };
      // Rework after failed verification gets a fresh window; starting work keeps the one set at acceptance.
      if (event === 'rework') return { stage, startedAt: now, dueAt: now + r.resolve * MINUTE };
      if (event === 'started' && ctx.current.stage === 'resolve') return ctx.current;
      const from = ctx.dispatchedAt ?? now;
      return { stage, startedAt: from, dueAt: from + r.resolve * MINUTE };
    }
    case 'close':
      return { stage, startedAt: ctx.receivedAt, dueAt: ctx.closeDueAt };
    default:
      return { stage, startedAt: now, dueAt: now + r[stage] * MINUTE };
  }
}

/** How a ticket stands against its deadlines: amber from 80 % of a window, red once past it. */
export type DeadlineAlert = 'none' | 'ok' | 'amber' | 'red';
export const AMBER_FRACTION = 0.8;

export interface DeadlineFacts {
  status: TicketStatus;
  /** ISO-8601 or ms. */
  receivedAt: string | number;
  stageStartedAt: string | number | null;
  /** The running stage's deadline. */
  deadline: string | number | null;
  /** The overall 结案 deadline. */
  closeDeadline: string | number;
}

const ms = (t: string | number): number => (typeof t === 'number' ? t : Date.parse(t));

function windowAlert(start: number, due: number, now: number): DeadlineAlert {
  if (now > due) return 'red';
  if (now >= start + AMBER_FRACTION * (due - start)) return 'amber';
  return 'ok';
}

/**
 * The alert colour of a ticket at `now`: the worse of its running stage and its overall deadline.
 * Pure, so the wall recolours tickets as time passes without asking the server.
 */
export function deadlineAlert(t: DeadlineFacts, now: number): DeadlineAlert {
  if (FINAL_STATUSES.includes(t.status)) return 'none';
  const rank: DeadlineAlert[] = ['ok', 'amber', 'red'];
  let worst = windowAlert(ms(t.receivedAt), ms(t.closeDeadline), now);
  if (t.stageStartedAt !== null && t.deadline !== null) {
    const stage = windowAlert(ms(t.stageStartedAt), ms(t.deadline), now);
    if (rank.indexOf(stage) > rank.indexOf(worst)) worst = stage;
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------
// Numbers and labels

/** The day part of a ticket number, 'YYYYMMDD' in China Standard Time (Asia/Shanghai). */
export function ticketDay(now: number): string {
  return shanghaiDate(now).replaceAll('-', '');
}

/** A human-readable number, e.g. GD-20261122-0001 (工单 = GD). */
export function formatTicketNumber(day: string, seq: number): string {
  return `GD-${day}-${String(seq).padStart(4, '0')}`;
}

export const TICKET_STATUS_LABELS: Record<TicketStatus, string> = {
  received: '受理',
  registered: '立案',
  dispatched: '派遣',
  accepted: '已接单',
  in_progress: '处置中',
  resolved: '处置完成',
  verified: '已核查',
  closed: '结案',
  returned: '退回',
  escalated: '已提级',
  cancelled: '不予立案/作废',
};

export const TICKET_URGENCY_LABELS: Record<TicketUrgency, string> = {
  immediate: '立刻办理',
  scheduled: '定期办理',
  long_term: '长期推进',
};

export const TICKET_STAGE_LABELS: Record<TicketStage, string> = {
  register: '立案',
  dispatch: '派遣',
  accept: '接单',
  resolve: '处置',
  verify: '核查',
  close: '结案',
};

export const ESCALATION_LEVEL_LABELS: Record<EscalationLevel, string> = {
  grid: '网格',
  community: '社区',
  street: '街道',
  district: '区综治中心',
  department: '职能部门',
};
