/**
 * The desk's queue while a load is in flight: a ticket filed (or changed) between the moment the
 * desk asked for its queue and the moment the answer arrives reaches the desk over the socket
 * before that answer, which predates it. The answer must not drop it (the desk would not see the
 * new ticket until the next reload — CI caught this as a row that never appeared) nor put back an
 * older status. The store is the real one; the list request is held open to order the two.
 */
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { TicketList, TicketSummary } from '../../shared/tickets-api';
import { ticketsApi, useTicketsStore } from '../../client/stores/tickets';

function ticket(id: number, over: Partial<TicketSummary> = {}): TicketSummary {
  const at = '2026-12-05T06:00:00.000Z';
  return {
    id,
    number: `GD-20261205-${String(id).padStart(4, '0')}`,
    status: 'registered',
    urgency: 'immediate',
    deadline: new Date(Date.parse(at) + id * 60_000).toISOString(),
    closeDeadline: new Date(Date.parse(at) + 86_400_000).toISOString(),
    updatedAt: at,
    category: { code: 'patrol.sanitation', parentCode: 'patrol', name: '环境卫生' },
    ...over,
  } as unknown as TicketSummary;
}

/** The list request, answered when the test says so. */
function holdList(): { answer: (list: TicketList) => void } {
  let answer!: (list: TicketList) => void;
  vi.spyOn(ticketsApi, 'list').mockImplementation(() => new Promise<TicketList>((resolve) => (answer = resolve)));
  vi.spyOn(ticketsApi, 'categories').mockResolvedValue([]);
  return { answer: (list) => answer(list) };
}

beforeEach(() => setActivePinia(createPinia()));
afterEach(() => vi.restoreAllMocks());

describe('the desk queue while its load is in flight', () => {
  test('a ticket created during the first load is listed once the answer (which predates it) arrives', async () => {
    const store = useTicketsStore();
    const held = holdList();
    const loading = store.loadQueue();
    store.onCreated(ticket(3));
    held.answer({ total: 2, items: [ticket(1), ticket(2)], reoffers: [] });
    await loading;
    expect(store.queue.map((t) => t.id)).toEqual([1, 2, 3]);
    expect(store.queueTotal).toBe(3);
  });

  test('a ticket created during a reload (a resync) stays, in the server’s order, counted once', async () => {
    const store = useTicketsStore();
    let held = holdList();
    const first = store.loadQueue();
    held.answer({ total: 2, items: [ticket(2), ticket(4)], reoffers: [] });
    await first;
    held = holdList();
    const reload = store.loadQueue();
    store.onCreated(ticket(3));
    expect(store.queue.map((t) => t.id)).toEqual([2, 3, 4]);
    held.answer({ total: 2, items: [ticket(2), ticket(4)], reoffers: [] });
    await reload;
    expect(store.queue.map((t) => t.id)).toEqual([2, 3, 4]);
    expect(store.queueTotal).toBe(3);
  });

  test('a ticket the answer already holds is not added twice', async () => {
    const store = useTicketsStore();
    const held = holdList();
    const loading = store.loadQueue();
    store.onCreated(ticket(3));
    held.answer({ total: 3, items: [ticket(1), ticket(2), ticket(3)], reoffers: [] });
    await loading;
    expect(store.queue.map((t) => t.id)).toEqual([1, 2, 3]);
    expect(store.queueTotal).toBe(3);
  });

  test('a change heard during the load wins over the older version in the answer', async () => {
    const store = useTicketsStore();
    const held = holdList();
    const loading = store.loadQueue();
    const accepted = ticket(1, { status: 'accepted', updatedAt: '2026-12-05T06:05:00.000Z' } as Partial<TicketSummary>);
    store.onUpdated({ ticket: accepted } as Parameters<typeof store.onUpdated>[0]);
    held.answer({ total: 1, items: [ticket(1)], reoffers: [] });
    await loading;
    expect(store.queue[0]!.status).toBe('accepted');
    // Once the load is over, nothing heard then lingers: a later answer is taken as it is.
    const again = holdList();
    const reload = store.loadQueue();
    again.answer({ total: 1, items: [ticket(1, { status: 'in_progress', updatedAt: '2026-12-05T06:09:00.000Z' } as Partial<TicketSummary>)], reoffers: [] });
    await reload;
    expect(store.queue[0]!.status).toBe('in_progress');
  });
});

describe('the queue rows’ re-offer marks after a load (issue 14)', () => {
  const declined = {
    ticketId: 1,
    trigger: 'declined' as const,
    from: { workerId: 7, name: '王芳' },
    reason: '正在处理另一起纠纷',
    at: '2026-12-05T06:01:00.000Z',
    to: { workerId: 8, name: '李强', rank: 1, distanceM: 120, etaS: 96 },
  };

  test('a reload marks the row from the list, as the live event did, without a toast', async () => {
    const store = useTicketsStore();
    const held = holdList();
    const loading = store.loadQueue();
    held.answer({ total: 2, items: [ticket(1, { status: 'dispatched' } as Partial<TicketSummary>), ticket(2)], reoffers: [declined] });
    await loading;
    expect(store.reoffers.get(1)).toEqual({
      ticketId: 1, number: 'GD-20261205-0001', trigger: 'declined', from: declined.from, reason: declined.reason, to: declined.to, at: Date.parse(declined.at),
    });
    expect(store.reoffers.has(2)).toBe(false);
    expect(store.reofferNotices).toEqual([]);
  });

  test('a reload drops a mark the server no longer has, but keeps one the socket brought during the load', async () => {
    const store = useTicketsStore();
    let held = holdList();
    const first = store.loadQueue();
    held.answer({ total: 2, items: [ticket(1, { status: 'dispatched' } as Partial<TicketSummary>), ticket(2, { status: 'dispatched' } as Partial<TicketSummary>)], reoffers: [declined, { ...declined, ticketId: 2 }] });
    await first;
    expect([...store.reoffers.keys()]).toEqual([1, 2]);

    held = holdList();
    const reload = store.loadQueue();
    // Ticket 2 times out again while the answer (which predates it) is on its way.
    const later = ticket(2, { status: 'dispatched', updatedAt: '2026-12-05T06:09:00.000Z' } as Partial<TicketSummary>);
    store.onReoffered({ ticket: later, event: null, trigger: 'timeout', from: { workerId: 8, name: '李强' }, at: '2026-12-05T06:09:00.000Z', to: null });
    // Ticket 1 was accepted while the desk was away: the server no longer marks it.
    held.answer({ total: 2, items: [ticket(1, { status: 'accepted' } as Partial<TicketSummary>), ticket(2, { status: 'dispatched' } as Partial<TicketSummary>)], reoffers: [{ ...declined, ticketId: 2 }] });
    await reload;
    expect(store.reoffers.has(1)).toBe(false);
    expect(store.reoffers.get(2)).toMatchObject({ trigger: 'timeout', to: null });
  });
});
