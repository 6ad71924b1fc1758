import { describe, expect, it } from 'vitest';
import { USER_ROLES, type UserRole } from '@shared/domain';
import {
  SYSTEM_ESCALATABLE,
  TICKET_ACTIONS,
  TICKET_STATUSES,
  TRANSITION_ACTIONS,
  availableActions,
  decide,
  escalationTarget,
  withinReach,
  type EscalationLevel,
  type TicketAction,
  type TicketActor,
  type TicketEventKind,
  type TicketStatus,
} from '@shared/tickets';

/**
 * The expected workflow, written out by hand (not derived from TICKET_RULES): for each action, the
 * statuses it may start from, where it leads, what the timeline calls it, and who may fire it.
 * Who: A admin, L leader, D dispatcher, O operator, W any worker account, H the ticket's handler
 * (whatever the role), S the system (deadline escalation, auto-dispatch, re-offers). A status not
 * listed: not allowed from there.
 */
const EXPECTED: Record<TicketAction, Partial<Record<TicketStatus, [to: TicketStatus, event: TicketEventKind, who: string]>>> = {
  register: { received: ['registered', 'registered', 'ADO'] },
  dispatch: {
    registered: ['dispatched', 'dispatched', 'ADOS'],
    escalated: ['dispatched', 'dispatched', 'ADO'],
    returned: ['dispatched', 'reassigned', 'ADOS'],
    dispatched: ['dispatched', 'reassigned', 'ADOS'],
    accepted: ['dispatched', 'reassigned', 'ADO'],
    in_progress: ['dispatched', 'reassigned', 'ADO'],
  },
  accept: { dispatched: ['accepted', 'accepted', 'H'] },
  decline: { dispatched: ['returned', 'declined', 'H'] },
  start: { accepted: ['in_progress', 'started', 'H'] },
  resolve: { in_progress: ['resolved', 'resolved', 'H'] },
  verify: { resolved: ['verified', 'verified', 'ADO'] },
  close: { verified: ['closed', 'closed', 'ALDO'] },
  return: {
    accepted: ['returned', 'returned', 'H'],
    in_progress: ['returned', 'returned', 'H'],
    resolved: ['in_progress', 'rework', 'ADO'],
  },
  escalate: {
    registered: ['escalated', 'escalated', 'ALDOS'],
    dispatched: ['escalated', 'escalated', 'ALDOS'],
    accepted: ['escalated', 'escalated', 'ALDOHS'],
    in_progress: ['escalated', 'escalated', 'ALDOHS'],
    returned: ['escalated', 'escalated', 'ALDOS'],
    escalated: ['escalated', 'escalated', 'ALDOS'],
  },
  cancel: {
    received: ['cancelled', 'not_registered', 'ADO'],
    registered: ['cancelled', 'cancelled', 'ADO'],
    dispatched: ['cancelled', 'cancelled', 'ADO'],
    returned: ['cancelled', 'cancelled', 'ADO'],
    escalated: ['cancelled', 'cancelled', 'ADO'],
  },
  reopen: {
    closed: ['registered', 'reopened', 'ALDO'],
    cancelled: ['received', 'reopened', 'ALDO'],
  },
  reply: { escalated: ['in_progress', 'department_replied', 'ALO'] },
};

const LETTER: Record<UserRole, string> = { admin: 'A', leader: 'L', dispatcher: 'D', operator: 'O', worker: 'W' };

/** Every kind of actor: each role, as the handler and not, plus the scheduler. District reach throughout. */
const ACTORS: TicketActor[] = [
  ...USER_ROLES.flatMap((role) => [false, true].map((handler) => ({ role, handler, regionLevel: 'district' as const }))),
  { role: 'system', handler: false },
];

const label = (a: TicketActor) => `${a.role}${a.handler ? '(handler)' : ''}`;

function expectedAllowed(who: string, actor: TicketActor): boolean {
  if (actor.role === 'system') return who.includes('S');
  return who.includes(LETTER[actor.role]) || (actor.handler && who.includes('H'));
}

const input = { reason: '核实情况不属实', workerId: 42 };

describe('the ticket machine against the expected table', () => {
  it('covers every status and action', () => {
    expect(TICKET_STATUSES).toHaveLength(11);
    expect(TICKET_ACTIONS).toHaveLength(13);
    expect(ACTORS).toHaveLength(11);
  });

  describe.each(TICKET_ACTIONS.map((a) => [a]))('%s', (action) => {
    it.each(TICKET_STATUSES.map((s) => [s]))('from %s, for every role', (status) => {
      // A department reply needs a ticket at department level; the rest start at the district centre.
      const level: EscalationLevel = action === 'reply' ? 'department' : 'district';
      const cell = EXPECTED[action][status];
      for (const actor of ACTORS) {
        const d = decide({ status, level }, action, actor, input);
        const what = `${action} from ${status} by ${label(actor)}`;
        if (!cell) {
          expect(d, what).toMatchObject({ ok: false, code: 'TICKET_TRANSITION_NOT_ALLOWED' });
        } else if (expectedAllowed(cell[2], actor)) {
          expect(d, what).toMatchObject({ ok: true, from: status, to: cell[0], event: cell[1] });
        } else {
          expect(d, what).toMatchObject({ ok: false, code: 'TICKET_ACTION_FORBIDDEN' });
        }
      }
    });
  });
});

describe('inputs the machine insists on', () => {
  const worker: TicketActor = { role: 'worker', handler: true, regionLevel: 'grid' };
  const desk: TicketActor = { role: 'dispatcher', handler: false, regionLevel: 'street' };
  const at = (status: TicketStatus) => ({ status, level: 'grid' as const });

  it('declining, returning, cancelling and reopening need a reason (blank does not count)', () => {
    for (const [status, action, actor] of [
      ['dispatched', 'decline', worker],
      ['in_progress', 'return', worker],
      ['resolved', 'return', desk],
      ['received', 'cancel', desk],
      ['closed', 'reopen', desk],
    ] as const) {
      expect(decide(at(status), action, actor, {}), action).toMatchObject({ ok: false, code: 'TICKET_REASON_REQUIRED' });
      expect(decide(at(status), action, actor, { reason: '   ' }), action).toMatchObject({ ok: false, code: 'TICKET_REASON_REQUIRED' });
      expect(decide(at(status), action, actor, { reason: '不属于本网格' }), action).toMatchObject({ ok: true });
    }
  });

  it('dispatching needs a worker', () => {
    expect(decide(at('registered'), 'dispatch', desk, {})).toMatchObject({ ok: false, code: 'TICKET_WORKER_REQUIRED' });
    expect(decide(at('registered'), 'dispatch', desk, { workerId: 0 })).toMatchObject({ ok: false, code: 'TICKET_WORKER_REQUIRED' });
    expect(decide(at('registered'), 'dispatch', desk, { workerId: 7 })).toMatchObject({ ok: true, to: 'dispatched' });
  });

  it('checks who before what: a stranger learns nothing about missing inputs', () => {
    const other: TicketActor = { role: 'worker', handler: false, regionLevel: 'grid' };
    expect(decide(at('dispatched'), 'decline', other, {})).toMatchObject({ ok: false, code: 'TICKET_ACTION_FORBIDDEN' });
  });
});

describe('the escalation ladder', () => {
  const system: TicketActor = { role: 'system', handler: false };
  const handler: TicketActor = { role: 'worker', handler: true, regionLevel: 'grid' };

  it('the scheduler and the handler move a ticket one level up', () => {
    const ladder: [EscalationLevel, EscalationLevel][] = [['grid', 'community'], ['community', 'street'], ['street', 'district'], ['district', 'department']];
    for (const [from, to] of ladder) {
      expect(decide({ status: 'dispatched', level: from }, 'escalate', system), from).toMatchObject({ ok: true, level: to });
      expect(decide({ status: 'in_progress', level: from }, 'escalate', handler), from).toMatchObject({ ok: true, level: to });
    }
  });

  it('a desk above the ticket sends it above itself', () => {
    expect(escalationTarget('grid', 'street')).toBe('district');
    expect(escalationTarget('grid', 'community')).toBe('street');
    expect(escalationTarget('grid', 'district')).toBe('department');
    expect(escalationTarget('street', 'street')).toBe('district');
    expect(escalationTarget('grid')).toBe('community');
    expect(decide({ status: 'registered', level: 'grid' }, 'escalate', { role: 'dispatcher', handler: false, regionLevel: 'street' }))
      .toMatchObject({ ok: true, level: 'district' });
  });

  it('stops at the departments', () => {
    expect(escalationTarget('department')).toBeNull();
    expect(escalationTarget('department', 'district')).toBeNull();
    expect(decide({ status: 'escalated', level: 'department' }, 'escalate', system)).toMatchObject({ ok: false, code: 'TICKET_ESCALATION_EXHAUSTED' });
  });

  it('a desk cannot act on what was escalated above it; the handler still can', () => {
    const street: TicketActor = { role: 'dispatcher', handler: false, regionLevel: 'street' };
    expect(decide({ status: 'escalated', level: 'district' }, 'dispatch', street, { workerId: 1 })).toMatchObject({ ok: false, code: 'TICKET_ACTION_FORBIDDEN' });
    expect(decide({ status: 'escalated', level: 'street' }, 'dispatch', street, { workerId: 1 })).toMatchObject({ ok: true });
    expect(decide({ status: 'dispatched', level: 'district' }, 'accept', handler)).toMatchObject({ ok: true });
    expect(withinReach('street', 'grid')).toBe(true);
    expect(withinReach('street', 'street')).toBe(true);
    expect(withinReach('street', 'district')).toBe(false);
    expect(withinReach('community', 'street')).toBe(false);
    expect(withinReach('district', 'department')).toBe(true);
    expect(withinReach(null, 'department')).toBe(true);
  });

  it('a department reply needs a ticket referred to a department', () => {
    const operator: TicketActor = { role: 'operator', handler: false, regionLevel: 'district' };
    expect(decide({ status: 'escalated', level: 'district' }, 'reply', operator)).toMatchObject({ ok: false, code: 'TICKET_TRANSITION_NOT_ALLOWED' });
    expect(decide({ status: 'escalated', level: 'department' }, 'reply', operator)).toMatchObject({ ok: true, to: 'in_progress' });
  });

  it('the scheduler escalates only from the statuses a desk is waiting on', () => {
    expect([...SYSTEM_ESCALATABLE].sort()).toEqual(['accepted', 'dispatched', 'escalated', 'in_progress', 'registered', 'returned']);
  });
});

describe('what a screen offers', () => {
  it('the assigned worker sees accept and decline on a dispatched ticket, a colleague nothing', () => {
    const t = { status: 'dispatched' as const, level: 'grid' as const };
    expect(availableActions(t, { role: 'worker', handler: true, regionLevel: 'grid' })).toEqual(['accept', 'decline']);
    expect(availableActions(t, { role: 'worker', handler: false, regionLevel: 'grid' })).toEqual([]);
    expect(availableActions(t, { role: 'dispatcher', handler: false, regionLevel: 'street' })).toEqual(['dispatch', 'escalate', 'cancel']);
  });

  it('the transitions endpoint takes every action but the department reply', () => {
    expect([...TRANSITION_ACTIONS]).toEqual(TICKET_ACTIONS.filter((a) => a !== 'reply'));
  });
});
