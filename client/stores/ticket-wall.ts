/**
 * Tickets as the wall shows them: a heatmap over a chosen window and class, today's counters, and
 * the open tickets that need attention (立刻办理, or past a deadline) as map markers.
 *
 * Loaded when the wall mounts and kept live by the socket's ticket events (client/realtime.ts routes
 * them here): an event moves its marker at once, and one re-fetch shortly after a burst of events
 * brings the counters, the attention list and — when a ticket was filed — the heatmap up to date.
 * Nothing polls; the only other timer fires at midnight in Shanghai, when "today" starts over.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import { FINAL_STATUSES, deadlineAlert, type DeadlineAlert } from '@shared/tickets';
import type { TicketCategoryDto, TicketHeat, TicketStats, TicketSummary, TicketWindow } from '@shared/tickets-api';
import { useNow } from '@client/composables/use-now';
import { useConnectionStore } from './connection';
import { ticketsApi } from './tickets';

const PREFS_KEY = 'gridline.wall.tickets';
/** Events come in bursts (a filing, its registration, a dispatch): one re-fetch covers a burst. */
const REFRESH_DELAY_MS = 1200;
/** A new ticket moves the heatmap by one; re-aggregating it can wait a little longer. */
const HEAT_DELAY_MS = 5000;
/** A re-fetch that failed (server busy, a network blip) is tried again after this long. */
const RETRY_DELAY_MS = 5000;
const DAY_MS = 86_400_000;
const CST_OFFSET_MS = 8 * 3_600_000;

/**
 * The windows the wall offers, in the contract's order. Restated here rather than imported: the
 * contract's module carries its TypeBox schemas, which the browser never needs. The check below
 * fails to compile if the contract gains a window this list lacks.
 */
export const TICKET_WINDOWS = ['today', '7d', '30d'] as const satisfies readonly TicketWindow[];
type MissingWindow = Exclude<TicketWindow, (typeof TICKET_WINDOWS)[number]>;
const everyWindowListed: [MissingWindow] extends [never] ? true : never = true;
void everyWindowListed;

/** The attention list's size limit on the server (TicketsQuery.limit's maximum): the first 500, most pressing first. */
export const ATTENTION_LIMIT = 500;

export type MarkerAlert = Exclude<DeadlineAlert, 'none'>;

export interface AttentionMarker {
  ticket: TicketSummary;
  /** ok: immediate and in time; amber: 80 % of a deadline gone; red: past one. */
  alert: MarkerAlert;
}

interface Prefs {
  window: TicketWindow;
  category: string | null;
  visible: boolean;
}

function readPrefs(): Prefs {
  const fallback: Prefs = { window: '7d', category: null, visible: true };
  try {
    const stored = JSON.parse(localStorage.getItem(PREFS_KEY) ?? 'null') as Partial<Prefs> | null;
    if (!stored) return fallback;
    return {
      window: (TICKET_WINDOWS as readonly string[]).includes(stored.window ?? '') ? stored.window! : fallback.window,
      category: typeof stored.category === 'string' ? stored.category : null,
      visible: typeof stored.visible === 'boolean' ? stored.visible : true,
    };
  } catch {
    return fallback;
  }
}

const ALERT_RANK: Record<MarkerAlert, number> = { ok: 0, amber: 1, red: 2 };
const isOpen = (t: TicketSummary): boolean => !FINAL_STATUSES.includes(t.status);
/** The later of two versions of a ticket (events and fetches may arrive out of order). */
const newer = (a: TicketSummary | undefined, b: TicketSummary): TicketSummary =>
  a && Date.parse(a.updatedAt) > Date.parse(b.updatedAt) ? a : b;

export const useTicketWallStore = defineStore('ticket-wall', () => {
  const connection = useConnectionStore();
  const now = useNow();
  const prefs = readPrefs();

  const heatWindow = ref<TicketWindow>(prefs.window);
  const heatCategory = ref<string | null>(prefs.category);
  const heatVisible = ref(prefs.visible);
  /** The top-level classes (the five), in their order. */
  const classes = ref<TicketCategoryDto[]>([]);
  const heat = shallowRef<TicketHeat | null>(null);
  const heatError = ref<string | null>(null);
  /** Today's counters. */
  const stats = shallowRef<TicketStats | null>(null);
  const statsError = ref<string | null>(null);
  /** Open tickets the wall knows: the server's attention list, plus open ones seen in events since. */
  const open = shallowRef(new Map<number, TicketSummary>());
  const active = ref(false);

  /** The server's clock: deadlines are the server's, and the wall PC's clock may be off. */
  const serverNow = computed(() => now.value + connection.clockOffset);

  let lastSignature = '';
  let lastMarkers: AttentionMarker[] = [];
  /**
   * Tickets to mark, worst last (drawn on top). Re-evaluated every second, so a ticket turns amber
   * or red the second its deadline says so; the same array comes back while nothing visible
   * changed, so the map redraws only on a real change.
   */
  const markers = computed<AttentionMarker[]>(() => {
    const at = serverNow.value;
    const list: AttentionMarker[] = [];
    for (const ticket of open.value.values()) {
      const alert = deadlineAlert(ticket, at);
      if (alert === 'none') continue;
      if (ticket.urgency === 'immediate' || alert === 'red') list.push({ ticket, alert });
    }
    list.sort((a, b) => ALERT_RANK[a.alert] - ALERT_RANK[b.alert] || a.ticket.id - b.ticket.id);
    const signature = list.map((m) => `${m.ticket.id}:${m.alert}:${m.ticket.updatedAt}`).join();
    if (signature !== lastSignature) {
      lastSignature = signature;
      lastMarkers = list;
    }
    return lastMarkers;
  });

  // A ticket crossing its deadline is no event on the socket, but the wall sees it happen: the
  // counters (当前超期) are fetched again then, not at the next unrelated event.
  watch(markers, (now, before) => {
    if (!active.value) return;
    const was = new Map(before.map((m) => [m.ticket.id, m.alert]));
    if (now.some((m) => m.alert === 'red' && was.has(m.ticket.id) && was.get(m.ticket.id) !== 'red')) scheduleRefresh(false);
  });

  // Loading ------------------------------------------------------------------------------------

  let heatSeq = 0;
  async function loadHeat(): Promise<void> {
    if (!heatVisible.value) return;
    const seq = ++heatSeq;
    try {
      const result = await ticketsApi.heat(heatWindow.value, heatCategory.value);
      if (seq !== heatSeq) return;
      heat.value = result;
      heatError.value = null;
    } catch (error) {
      if (seq === heatSeq) heatError.value = (error as Error).message;
    }
  }

  let statsSeq = 0;
  /** Fetches today's counters; false when the fetch failed (the figures shown are then stale). */
  async function loadStats(): Promise<boolean> {
    const seq = ++statsSeq;
    try {
      const result = await ticketsApi.stats('today');
      if (seq !== statsSeq) return true;
      stats.value = result;
      statsError.value = null;
      return true;
    } catch (error) {
      if (seq === statsSeq) statsError.value = (error as Error).message;
      return false;
    }
  }

  /** Counts live events, so a fetch knows which tickets changed while it was under way. */
  let eventSeq = 0;
  const lastEventOf = new Map<number, number>();

  /**
   * Fetches the tickets needing attention now. `replace` (first load, after a reconnection) makes
   * the list the whole truth; otherwise it is merged in, because the events since have already
   * told us about changes, and a ticket seen in an event that is not urgent yet stays known, so it
   * turns red on the wall the moment its deadline passes.
   */
  async function loadAttention(replace: boolean): Promise<void> {
    const startedAt = eventSeq;
    const result = await ticketsApi.list({ attention: true, limit: ATTENTION_LIMIT });
    // What an event told us after the request left is newer than the list, absence included.
    const touched = (id: number) => (lastEventOf.get(id) ?? -1) > startedAt;
    const next = new Map<number, TicketSummary>(replace ? [] : open.value);
    for (const ticket of result.items) {
      if (!touched(ticket.id)) next.set(ticket.id, newer(open.value.get(ticket.id), ticket));
    }
    for (const [id, ticket] of open.value) if (touched(id)) next.set(id, ticket);
    for (const [id, ticket] of next) if (!isOpen(ticket)) next.delete(id);
    open.value = next;
  }

  async function loadClasses(): Promise<void> {
    const all = await ticketsApi.categories();
    classes.value = all.filter((c) => c.parentCode === null && c.active).sort((a, b) => a.sortOrder - b.sortOrder);
    if (heatCategory.value && !classes.value.some((c) => c.code === heatCategory.value)) {
      heatCategory.value = null;
      savePrefs();
    }
  }

  let midnightTimer: ReturnType<typeof setTimeout> | undefined;
  /** "Today" starts over at midnight in Shanghai (server time): fetch the new day's figures then. */
  function scheduleMidnight(): void {
    clearTimeout(midnightTimer);
    const at = serverNow.value;
    const next = (Math.floor((at + CST_OFFSET_MS) / DAY_MS) + 1) * DAY_MS - CST_OFFSET_MS;
    midnightTimer = setTimeout(() => {
      void loadStats();
      if (heatWindow.value === 'today') void loadHeat();
      scheduleMidnight();
    }, next - at + 1000);
  }

  /** Starts the wall's ticket view (the wall page calls it on mount); rejects if a first load fails. */
  async function start(): Promise<void> {
    active.value = true;
    scheduleMidnight();
    await Promise.all([loadClasses(), loadStats(), loadAttention(true)]);
    await loadHeat();
  }

  function stop(): void {
    active.value = false;
    clearTimeout(midnightTimer);
    clearTimeout(refreshTimer);
    clearTimeout(heatTimer);
    refreshTimer = heatTimer = undefined;
    open.value = new Map();
    lastEventOf.clear();
  }

  // The operator's choices ---------------------------------------------------------------------

  function savePrefs(): void {
    const value: Prefs = { window: heatWindow.value, category: heatCategory.value, visible: heatVisible.value };
    localStorage.setItem(PREFS_KEY, JSON.stringify(value));
  }

  function setWindow(value: TicketWindow): void {
    if (value === heatWindow.value) return;
    heatWindow.value = value;
    savePrefs();
    void loadHeat();
  }

  function setCategory(code: string | null): void {
    if (code === heatCategory.value) return;
    heatCategory.value = code;
    savePrefs();
    void loadHeat();
  }

  function setHeatVisible(visible: boolean): void {
    heatVisible.value = visible;
    savePrefs();
    // Hidden, it went stale: fetch afresh when shown again.
    if (visible) void loadHeat();
  }

  // Live events (routed here by client/realtime.ts) --------------------------------------------

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let heatTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * One re-fetch shortly after the first event of a burst, covering the whole burst: not a
   * debounce that restarts on each event, which a busy hour (an event a second) would starve.
   */
  function scheduleRefresh(filed: boolean, delayMs = REFRESH_DELAY_MS): void {
    refreshTimer ??= setTimeout(() => {
      refreshTimer = undefined;
      // A wall is left alone for hours: a failed re-fetch must not leave stale figures until the
      // next event happens to come, so it is tried again until it succeeds.
      void Promise.all([loadStats(), loadAttention(false).then(() => true, () => false)]).then((done) => {
        if (active.value && done.includes(false)) scheduleRefresh(false, RETRY_DELAY_MS);
      });
    }, delayMs);
    if (filed) {
      heatTimer ??= setTimeout(() => {
        heatTimer = undefined;
        void loadHeat();
      }, HEAT_DELAY_MS);
    }
  }

  /** A ticket was filed or changed (any ticket event): its marker follows at once. */
  function onTicket(ticket: TicketSummary, filed = false): void {
    if (!active.value) return;
    lastEventOf.set(ticket.id, ++eventSeq);
    const known = open.value.get(ticket.id);
    const latest = newer(known, ticket);
    if (latest !== known) {
      const next = new Map(open.value);
      if (isOpen(latest)) next.set(ticket.id, latest);
      else next.delete(ticket.id);
      open.value = next;
    }
    scheduleRefresh(filed);
  }

  /** After a (re)connection: events may have been missed while the link was down. */
  async function resync(): Promise<void> {
    if (!active.value) return;
    await Promise.all([loadStats(), loadAttention(true), loadHeat()]);
  }

  return {
    heatWindow,
    heatCategory,
    heatVisible,
    classes,
    heat,
    heatError,
    stats,
    statsError,
    open,
    markers,
    serverNow,
    active,
    start,
    stop,
    loadHeat,
    setWindow,
    setCategory,
    setHeatVisible,
    onTicket,
    resync,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useTicketWallStore, import.meta.hot));
