/**
 * Tickets as the dashboard sees them: the desk's queue (dispatcher) or the worker's own tasks, the
 * selected ticket's detail and candidates. Kept live by the socket (client/realtime.ts routes the
 * ticket and task events here); nothing polls.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef } from 'vue';
import type {
  CreateTicketBody,
  DepartmentDto,
  DepartmentReplyBody,
  DispatchCandidate,
  TaskOffer,
  TaskWithdrawal,
  TicketCategoryDto,
  TicketChange,
  TicketDetail,
  TicketEscalationNotice,
  TicketHeat,
  TicketList,
  TicketPhotoDto,
  ReofferTrigger,
  TicketReoffer,
  TicketReofferMark,
  TicketStats,
  TicketSummary,
  TicketWindow,
  TransitionBody,
} from '@shared/tickets-api';
import { REOFFER_MARK_STATUSES } from '@shared/tickets-api';
import { request } from '@client/api';

export const ticketsApi = {
  list: (query: Record<string, string | number | boolean | undefined>) => request<TicketList>('/api/tickets', { query }),
  detail: (id: number) => request<TicketDetail>(`/api/tickets/${id}`),
  candidates: (id: number, limit = 10) => request<DispatchCandidate[]>(`/api/tickets/${id}/candidates`, { query: { limit } }),
  transition: (id: number, body: TransitionBody) => request<TicketDetail>(`/api/tickets/${id}/transitions`, { method: 'POST', body }),
  create: (body: CreateTicketBody) => request<TicketSummary>('/api/tickets', { method: 'POST', body }),
  photo: (id: number, file: Blob) => request<TicketPhotoDto>(`/api/tickets/${id}/photos`, {
      method: 'POST',
      // A camera capture without a type is a JPEG.
      raw: file.type ? file : file.slice(0, file.size, 'image/jpeg'),
    }),
  reply: (id: number, body: DepartmentReplyBody) => request<TicketDetail>(`/api/tickets/${id}/department-replies`, { method: 'POST', body }),
  categories: () => request<TicketCategoryDto[]>('/api/ticket-categories'),
  departments: () => request<DepartmentDto[]>('/api/departments'),
  heat: (window: TicketWindow, category?: string | null) => request<TicketHeat>('/api/tickets/heat', { query: { window, category: category ?? undefined } }),
  stats: (window: TicketWindow = 'today') => request<TicketStats>('/api/tickets/stats', { query: { window } }),
};

const URGENCY_ORDER = { immediate: 0, scheduled: 1, long_term: 2 } as const;
const due = (t: TicketSummary): number => Date.parse(t.deadline ?? t.closeDeadline);

/** Most pressing first: urgency, then the running deadline. */
export function compareTickets(a: TicketSummary, b: TicketSummary): number {
  const done = (t: TicketSummary) => (t.status === 'closed' || t.status === 'cancelled' ? 1 : 0);
  return done(a) - done(b) || URGENCY_ORDER[a.urgency] - URGENCY_ORDER[b.urgency] || due(a) - due(b) || a.id - b.id;
}

/**
 * The desk's queue filter, as the URL keeps it. `status`: 'open' (not closed or cancelled, the
 * default), 'all', 'done' (closed or cancelled) or one status.
 */
export interface QueueFilter {
  status: string;
  category: string;
  urgency: string;
  overdue: boolean;
}
export const DEFAULT_QUEUE_FILTER: QueueFilter = { status: 'open', category: '', urgency: '', overdue: false };
/** Tickets on one page of the desk's queue. */
export const QUEUE_PAGE_SIZE = 100;

const FINAL = new Set(['closed', 'cancelled']);

/** The server's order for the queue (repository listSummaries): open first, by running deadline, newest first. */
export function compareQueue(a: TicketSummary, b: TicketSummary): number {
  const done = (t: TicketSummary) => (FINAL.has(t.status) ? 1 : 0);
  const stage = (t: TicketSummary) => (t.deadline === null ? Number.POSITIVE_INFINITY : Date.parse(t.deadline));
  return done(a) - done(b) || stage(a) - stage(b) || b.id - a.id;
}

/** Whether a ticket belongs in the queue under `f` at `now` (as the server filters it). */
export function matchesQueue(t: TicketSummary, f: QueueFilter, now: number): boolean {
  const final = FINAL.has(t.status);
  if (f.status === 'open' && final) return false;
  if (f.status === 'done' && !final) return false;
  if (f.status !== 'open' && f.status !== 'done' && f.status !== 'all' && t.status !== f.status) return false;
  if (f.category && t.category.code !== f.category && t.category.parentCode !== f.category) return false;
  if (f.urgency && t.urgency !== f.urgency) return false;
  if (f.overdue && (final || !((t.deadline !== null && Date.parse(t.deadline) < now) || Date.parse(t.closeDeadline) < now))) return false;
  return true;
}

function queueQuery(f: QueueFilter, offset: number): Record<string, string | number | boolean | undefined> {
  return {
    open: f.status === 'open' ? true : f.status === 'done' ? false : undefined,
    status: f.status === 'open' || f.status === 'done' || f.status === 'all' ? undefined : f.status,
    category: f.category || undefined,
    urgency: f.urgency || undefined,
    overdue: f.overdue || undefined,
    limit: QUEUE_PAGE_SIZE,
    offset,
  };
}

/**
 * A decline or an unanswered offer the desk is told about: who let it go (and why, for a decline),
 * and whom the system offered it to next (null: nobody free was left, a dispatcher must decide).
 */
export interface ReofferMark {
  ticketId: number;
  number: string;
  trigger: ReofferTrigger;
  from: { workerId: number; name: string };
  /** The decliner's reason, from the 拒单 timeline entry. */
  reason: string | null;
  to: TicketReoffer['to'];
  /** When the worker declined or the offer ran out (the server's clock), ms. */
  at: number;
}
/** A toast of the desk: a mark with its own key (the same ticket may be let go twice). */
export interface ReofferNotice extends ReofferMark {
  key: number;
}
/** Statuses in which a queue row keeps its mark: nobody has taken the ticket on yet (as the server derives it). */
const UNTAKEN = new Set<string>(REOFFER_MARK_STATUSES);

/** A stored mark from the list API as the desk keeps it (the same fields the live event gives). */
function storedMark(m: TicketReofferMark, number: string): ReofferMark {
  return { ticketId: m.ticketId, number, trigger: m.trigger, from: m.from, reason: m.reason, to: m.to, at: Date.parse(m.at) };
}

/** Statuses in which a ticket is the worker's task. */
const TASK_STATUSES = new Set(['dispatched', 'accepted', 'in_progress']);

/**
 * Whether the desk is shown whom to send: the ticket can be dispatched now, or it is a received one
 * the desk may register (立案并派遣 does both).
 */
export function canSendFrom(d: TicketDetail): boolean {
  return d.actions.includes('dispatch') || (d.status === 'received' && d.actions.includes('register'));
}

export const useTicketsStore = defineStore('tickets', () => {
  /** Every ticket known, by id (shallow: replaced whole on each change). */
  const byId = shallowRef(new Map<number, TicketSummary>());
  const loaded = ref(false);
  const categories = ref<TicketCategoryDto[]>([]);
  /** The district's departments a ticket can be referred to (吹哨), loaded on first need. */
  const departments = ref<DepartmentDto[]>([]);
  const selectedId = ref<number | null>(null);
  const detail = ref<TicketDetail | null>(null);
  const candidates = ref<DispatchCandidate[]>([]);
  const candidatesError = ref<string | null>(null);
  /** Offers to the signed-in worker, by ticket id. */
  const offers = shallowRef(new Map<number, TaskOffer>());
  /** The signed-in worker's id when this store serves a phone (tasks), else null. */
  const workerId = ref<number | null>(null);
  /** Bumped on every live event, for tests and "last update" displays. */
  const lastEventAt = ref<number | null>(null);

  /** The desk's latest decline or timeout per ticket (queue rows are marked until someone accepts). */
  const reoffers = shallowRef(new Map<number, ReofferMark>());
  /** Toasts the desk has not dismissed, oldest first. */
  const reofferNotices = ref<ReofferNotice[]>([]);
  /** The reason of each ticket's latest decline, from its 拒单 entry (it comes before the re-offer). */
  const declineReasons = new Map<number, string | null>();
  let noticeKey = 0;

  /** The desk's queue: the filter, the page shown (ids in the server's order) and the server's total. */
  const queueFilter = ref<QueueFilter>({ ...DEFAULT_QUEUE_FILTER });
  const queueIds = ref<number[]>([]);
  const queueTotal = ref(0);
  const queueOffset = ref(0);
  const queue = computed(() => queueIds.value.map((id) => byId.value.get(id)).filter((t): t is TicketSummary => t !== undefined));

  const list = computed(() => [...byId.value.values()].sort(compareTickets));
  const tasks = computed(() =>
    list.value.filter((t) => TASK_STATUSES.has(t.status) && (workerId.value == null || t.assignedWorker?.id === workerId.value)),
  );

  function upsert(ticket: TicketSummary): void {
    byId.value.set(ticket.id, ticket);
    triggerRef(byId);
  }

  let queueSeq = 0;
  /**
   * Tickets the socket brought while a queue load was in flight (true: created), newest version
   * each. The load's answer may predate them: applied as it is, it would drop a ticket filed while
   * the desk was opening (until the next reload) or put back an older status.
   */
  const heardDuringLoad = new Map<number, { ticket: TicketSummary; created: boolean }>();
  let loadsInFlight = 0;
  function hear(ticket: TicketSummary, created: boolean): void {
    if (loadsInFlight === 0) return;
    const before = heardDuringLoad.get(ticket.id);
    heardDuringLoad.set(ticket.id, { ticket, created: created || (before?.created ?? false) });
  }
  const newer = (a: TicketSummary, b: TicketSummary | undefined): boolean => b === undefined || Date.parse(a.updatedAt) >= Date.parse(b.updatedAt);

  /**
   * Loads one page of the desk's queue under `filter` (default: the current filter and page) with
   * the server's true total. Tickets already known stay known (the selected one among them); what
   * the socket brought while the load was in flight is laid over its answer.
   */
  async function loadQueue(filter: QueueFilter = queueFilter.value, offset = queueOffset.value): Promise<void> {
    const seq = ++queueSeq;
    loadsInFlight++;
    try {
      const [result, cats] = await Promise.all([
        ticketsApi.list(queueQuery(filter, offset)),
        categories.value.length ? null : ticketsApi.categories(),
      ]);
      if (cats) categories.value = cats;
      if (seq !== queueSeq) return;
      const next = workerId.value == null ? new Map(byId.value) : new Map<number, TicketSummary>();
      for (const t of result.items) next.set(t.id, t);
      for (const { ticket } of heardDuringLoad.values()) if (newer(ticket, next.get(ticket.id))) next.set(ticket.id, ticket);
      byId.value = next;
      seedReoffers(result, next);
      queueFilter.value = { ...filter };
      queueOffset.value = offset;
      queueIds.value = result.items.map((t) => t.id);
      queueTotal.value = result.total;
      loaded.value = true;
      for (const { ticket, created } of heardDuringLoad.values()) if (created) placeInQueue(ticket);
    } finally {
      if (--loadsInFlight === 0) heardDuringLoad.clear();
    }
  }

  /**
   * The page's marks as the server derives them from the stored offers, so a reload (or a second
   * desk) shows the rows marked as the live events did; no toast, those are for the moment only. A
   * ticket the socket spoke of during the load keeps what it said; a newer live mark stays.
   */
  function seedReoffers(result: TicketList, known: Map<number, TicketSummary>): void {
    const stored = new Map(result.reoffers.map((m) => [m.ticketId, m]));
    const marks = new Map(reoffers.value);
    for (const t of result.items) {
      const mark = stored.get(t.id);
      const live = marks.get(t.id);
      if (mark) {
        if (!live || live.at <= Date.parse(mark.at)) marks.set(t.id, storedMark(mark, known.get(t.id)?.number ?? t.number));
      } else if (!heardDuringLoad.has(t.id) || !UNTAKEN.has(known.get(t.id)?.status ?? t.status)) {
        marks.delete(t.id);
      }
    }
    reoffers.value = marks;
  }

  async function loadMine(id: number): Promise<void> {
    workerId.value = id;
    loadsInFlight++;
    try {
      const [result, cats] = await Promise.all([ticketsApi.list({ mine: true, limit: 200 }), categories.value.length ? null : ticketsApi.categories()]);
      const next = new Map(result.items.map((t) => [t.id, t]));
      // An offer or a change heard while the list was on its way is newer than the list.
      for (const { ticket } of heardDuringLoad.values()) if (newer(ticket, next.get(ticket.id))) next.set(ticket.id, ticket);
      byId.value = next;
      if (cats) categories.value = cats;
      loaded.value = true;
    } finally {
      if (--loadsInFlight === 0) heardDuringLoad.clear();
    }
  }

  let detailSeq = 0;
  async function refreshDetail(): Promise<void> {
    const id = selectedId.value;
    if (id == null) return;
    const seq = ++detailSeq;
    const d = await ticketsApi.detail(id);
    if (seq !== detailSeq || selectedId.value !== id) return;
    detail.value = d;
    upsert(stripDetail(d));
    await refreshCandidates();
  }

  async function refreshCandidates(): Promise<void> {
    const d = detail.value;
    if (!d || workerId.value != null || !canSendFrom(d)) {
      candidates.value = [];
      candidatesError.value = null;
      return;
    }
    try {
      candidates.value = await ticketsApi.candidates(d.id, 10);
      candidatesError.value = null;
    } catch (error) {
      candidates.value = [];
      candidatesError.value = (error as Error).message;
    }
  }

  async function select(id: number | null): Promise<void> {
    selectedId.value = id;
    detail.value = null;
    candidates.value = [];
    if (id != null) await refreshDetail();
  }

  async function act(id: number, body: TransitionBody): Promise<TicketDetail> {
    const d = await ticketsApi.transition(id, body);
    upsert(stripDetail(d));
    if (selectedId.value === id) {
      detail.value = d;
      await refreshCandidates();
    }
    if (!TASK_STATUSES.has(d.status) || d.status === 'accepted' || d.status === 'in_progress') {
      if (offers.value.delete(id)) triggerRef(offers);
    }
    return d;
  }

  /**
   * 立案并派遣: registers a received ticket and sends it to `workerId` — the two transitions the
   * machine knows, one after the other. If the dispatch fails the ticket stays registered (the
   * error says why) and the candidates are there to pick another.
   */
  async function registerAndDispatch(id: number, dispatchTo: number): Promise<TicketDetail> {
    const registered = await act(id, { action: 'register' });
    if (registered.status !== 'registered') return registered;
    return act(id, { action: 'dispatch', workerId: dispatchTo });
  }

  /** Records a department's reply to a ticket referred to it; the ticket moves on to 处置中. */
  async function reply(id: number, body: DepartmentReplyBody): Promise<TicketDetail> {
    const d = await ticketsApi.reply(id, body);
    upsert(stripDetail(d));
    if (selectedId.value === id) detail.value = d;
    return d;
  }

  let departmentsLoading: Promise<void> | null = null;
  /** Loads the departments once (they change only when an administrator edits them). */
  function loadDepartments(): Promise<void> {
    if (departments.value.length) return Promise.resolve();
    departmentsLoading ??= ticketsApi
      .departments()
      .then((list) => {
        departments.value = list.filter((dep) => dep.active);
      })
      .finally(() => {
        departmentsLoading = null;
      });
    return departmentsLoading;
  }

  async function create(body: CreateTicketBody): Promise<TicketSummary> {
    const ticket = await ticketsApi.create(body);
    // A worker's own report is not their task; the desk's queue shows it via ticket.created too.
    if (workerId.value == null) upsert(ticket);
    return ticket;
  }

  async function uploadPhoto(id: number, file: Blob): Promise<TicketPhotoDto> {
    const photo = await ticketsApi.photo(id, file);
    if (selectedId.value === id) await refreshDetail();
    return photo;
  }

  // Live events (routed here by client/realtime.ts).

  function touched(id: number): void {
    lastEventAt.value = Date.now();
    if (selectedId.value === id) void refreshDetail().catch(() => {});
  }

  /** A new ticket counted in the queue, and shown where the server would list it when that is on this page. */
  function placeInQueue(ticket: TicketSummary): void {
    if (!loaded.value || queueIds.value.includes(ticket.id) || !matchesQueue(ticket, queueFilter.value, Date.now())) return;
    queueTotal.value += 1;
    const ids = queueIds.value;
    const at = ids.findIndex((id) => {
      const other = byId.value.get(id);
      return other !== undefined && compareQueue(ticket, other) < 0;
    });
    const lastPage = queueOffset.value + ids.length >= queueTotal.value - 1;
    if (at >= 0 && (queueOffset.value === 0 || at > 0)) queueIds.value = [...ids.slice(0, at), ticket.id, ...ids.slice(at)];
    else if (lastPage && ids.length < QUEUE_PAGE_SIZE) queueIds.value = [...ids, ticket.id];
  }

  function onCreated(ticket: TicketSummary): void {
    if (workerId.value != null) return;
    hear(ticket, true);
    upsert(ticket);
    placeInQueue(ticket);
    touched(ticket.id);
  }

  function onUpdated(change: TicketChange | TicketEscalationNotice): void {
    const t = change.ticket;
    if (workerId.value != null && t.assignedWorker?.id !== workerId.value && !byId.value.has(t.id)) return;
    if (workerId.value == null) {
      if ('event' in change && change.event?.kind === 'declined') declineReasons.set(t.id, change.event.reason);
      if (!UNTAKEN.has(t.status) && reoffers.value.delete(t.id)) triggerRef(reoffers);
    }
    hear(t, false);
    upsert(t);
    touched(t.id);
  }

  function onReoffered(reoffer: TicketReoffer): void {
    onUpdated({ ticket: reoffer.ticket } as TicketChange);
    if (workerId.value != null) return;
    const mark: ReofferMark = {
      ticketId: reoffer.ticket.id,
      number: reoffer.ticket.number,
      trigger: reoffer.trigger,
      from: reoffer.from,
      reason: reoffer.trigger === 'declined' ? (declineReasons.get(reoffer.ticket.id) ?? null) : null,
      to: reoffer.to,
      at: Date.parse(reoffer.at),
    };
    reoffers.value.set(mark.ticketId, mark);
    triggerRef(reoffers);
    // Newest last; a desk that looks away for long sees the latest few.
    reofferNotices.value = [...reofferNotices.value, { ...mark, key: ++noticeKey }].slice(-4);
  }

  function dismissNotice(key: number): void {
    reofferNotices.value = reofferNotices.value.filter((n) => n.key !== key);
  }

  function onOffered(offer: TaskOffer): void {
    hear(offer.ticket, false);
    offers.value.set(offer.ticket.id, offer);
    triggerRef(offers);
    upsert(offer.ticket);
    touched(offer.ticket.id);
  }

  function onWithdrawn(w: TaskWithdrawal): void {
    offers.value.delete(w.ticketId);
    triggerRef(offers);
    // No longer this worker's task: drop it from their list.
    if (workerId.value != null) heardDuringLoad.delete(w.ticketId);
    if (workerId.value != null && byId.value.delete(w.ticketId)) triggerRef(byId);
    touched(w.ticketId);
  }

  /** After a (re)connection: events may have been missed while the link was down, so reload. */
  async function resync(): Promise<void> {
    if (!loaded.value) return;
    if (workerId.value != null) await loadMine(workerId.value);
    else await loadQueue();
    await refreshDetail();
  }

  function reset(): void {
    byId.value = new Map();
    queueIds.value = [];
    queueTotal.value = 0;
    queueOffset.value = 0;
    queueFilter.value = { ...DEFAULT_QUEUE_FILTER };
    offers.value = new Map();
    reoffers.value = new Map();
    reofferNotices.value = [];
    declineReasons.clear();
    loaded.value = false;
    selectedId.value = null;
    detail.value = null;
    candidates.value = [];
    workerId.value = null;
  }

  return {
    byId,
    list,
    tasks,
    queue,
    queueFilter,
    queueTotal,
    queueOffset,
    loaded,
    categories,
    departments,
    selectedId,
    detail,
    candidates,
    candidatesError,
    offers,
    workerId,
    lastEventAt,
    loadQueue,
    loadMine,
    select,
    refreshDetail,
    act,
    registerAndDispatch,
    reply,
    loadDepartments,
    create,
    uploadPhoto,
    onCreated,
    onUpdated,
    onReoffered,
    reoffers,
    reofferNotices,
    dismissNotice,
    onOffered,
    onWithdrawn,
    resync,
    reset,
  };
});

function stripDetail(d: TicketDetail): TicketSummary {
  const { timeline: _t, photos: _p, departmentReplies: _r, actions: _a, ...summary } = d;
  return summary;
}

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useTicketsStore, import.meta.hot));
