/**
 * Alarms (一键报警) as the centre sees them: the open alarms of the jurisdiction (raised first, the
 * longest waiting first), the one the takeover shows, its timeline and the worker's trail. Kept live
 * by the socket (client/realtime.ts routes `alarm.raised` and `alarm.updated` here) and re-read on
 * every (re)connect. A routine fix never clears an alarm here: only its own events do.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef, watch } from 'vue';
import {
  ALARM_DESK_ROLES,
  ALARM_DISPATCH_ROLES,
  OPEN_ALARM_STATUSES,
  type AlarmDetail,
  type AlarmDispatchBody,
  type AlarmDispatchResult,
  type AlarmList,
  type AlarmSummary,
  type RaiseAlarmBody,
} from '@shared/alarms-api';
import { request } from '@client/api';
import { useSessionStore } from '@client/stores/session';

export const alarmsApi = {
  list: (status: 'open' | 'all' = 'open') => request<AlarmList>('/api/alarms', { query: { status } }),
  detail: (id: number) => request<AlarmDetail>(`/api/alarms/${id}`),
  transition: (id: number, action: 'acknowledge' | 'resolve' | 'false_alarm', note?: string) =>
    request<AlarmDetail>(`/api/alarms/${id}/transitions`, { method: 'POST', body: { action, ...(note ? { note } : {}) } }),
  dispatch: (id: number, body: AlarmDispatchBody = {}) => request<AlarmDispatchResult>(`/api/alarms/${id}/dispatch`, { method: 'POST', body }),
  /** The phone app's SOS. */
  raise: (body: RaiseAlarmBody) => request<AlarmSummary>('/api/alarms', { method: 'POST', body }),
};

/** How often the focused alarm's trail is re-read while it is open, ms. */
const TRAIL_REFRESH_MS = 10_000;

const isOpen = (a: AlarmSummary) => OPEN_ALARM_STATUSES.includes(a.status);

/** Raised before acknowledged; then the longest waiting first. */
function queueOrder(a: AlarmSummary, b: AlarmSummary): number {
  if (a.status !== b.status) return a.status === 'raised' ? -1 : 1;
  return Date.parse(a.raisedAt) - Date.parse(b.raisedAt) || a.id - b.id;
}

export const useAlarmsStore = defineStore('alarms', () => {
  const session = useSessionStore();
  /** Open alarms by id. */
  const byId = shallowRef(new Map<number, AlarmSummary>());
  /** Acknowledged alarms whose banner was put away on this screen (they stay in the queue). */
  const dismissed = ref(new Set<number>());
  const selectedId = ref<number | null>(null);
  const detail = shallowRef<AlarmDetail | null>(null);
  const loaded = ref(false);
  /** The last alarms closed on this screen, for a moment's notice; not a history. */
  const closed = shallowRef<AlarmSummary[]>([]);

  const open = computed(() => [...byId.value.values()].sort(queueOrder));
  /** The alarm the banner shows: the one picked from the queue, else the first raised, else the first acknowledged not put away. */
  const current = computed<AlarmSummary | null>(() => {
    const picked = selectedId.value === null ? undefined : byId.value.get(selectedId.value);
    if (picked) return picked;
    return open.value.find((a) => a.status === 'raised') ?? open.value.find((a) => !dismissed.value.has(a.id)) ?? null;
  });
  /** Something waits for a person: the siren loops. */
  const ringing = computed(() => open.value.some((a) => a.status === 'raised'));
  const isDesk = computed(() => (ALARM_DESK_ROLES as readonly string[]).includes(session.user?.role ?? ''));
  const mayDispatch = computed(() => (ALARM_DISPATCH_ROLES as readonly string[]).includes(session.user?.role ?? ''));
  /** The map's pulsing markers: every open alarm. */
  const pins = computed(() => open.value.map((a) => ({ id: a.id, lon: a.lon, lat: a.lat, status: a.status, label: a.worker.name })));
  /** Where the map goes: the current alarm with its trail (once loaded). */
  const focus = computed(() => {
    const a = current.value;
    if (!a) return null;
    const trail = detail.value?.id === a.id ? detail.value.trail : [];
    return { id: a.id, lon: a.lon, lat: a.lat, status: a.status, trail };
  });

  function upsert(a: AlarmSummary): void {
    // A worker's phone sits in its grid's room too: it keeps only its own alarms.
    const me = session.user;
    if (me?.role === 'worker' && a.worker.id !== me.workerId) return;
    const map = byId.value;
    if (isOpen(a)) {
      const known = map.get(a.id);
      // Events may cross an HTTP answer: never go back to an older state.
      if (known && known.status === 'acknowledged' && a.status === 'raised') return;
      map.set(a.id, a);
    } else {
      map.delete(a.id);
      dismissed.value.delete(a.id);
      if (selectedId.value === a.id) selectedId.value = null;
      closed.value = [a, ...closed.value.filter((c) => c.id !== a.id)].slice(0, 5);
    }
    triggerRef(byId);
    if (detail.value?.id === a.id) detail.value = { ...detail.value, ...a };
  }

  function onRaised(a: AlarmSummary): void {
    // A new alarm takes the banner back even if an earlier one was put away.
    dismissed.value.delete(a.id);
    upsert(a);
  }

  function onUpdated(a: AlarmSummary): void {
    upsert(a);
  }

  /** Re-reads the open alarms (on every connect: events missed while away are in it). */
  async function resync(): Promise<void> {
    if (!session.user) return;
    const list = await alarmsApi.list('open');
    byId.value = new Map(list.map((a) => [a.id, a]));
    loaded.value = true;
  }

  async function loadDetail(id: number): Promise<void> {
    const d = await alarmsApi.detail(id);
    if (current.value?.id === id) detail.value = d;
  }

  async function acknowledge(id: number): Promise<void> {
    upsert(await alarmsApi.transition(id, 'acknowledge'));
  }

  async function resolve(id: number, note?: string): Promise<void> {
    upsert(await alarmsApi.transition(id, 'resolve', note));
  }

  async function falseAlarm(id: number, note?: string): Promise<void> {
    upsert(await alarmsApi.transition(id, 'false_alarm', note));
  }

  async function dispatchNearest(id: number, count = 1): Promise<AlarmDispatchResult> {
    const result = await alarmsApi.dispatch(id, { count });
    upsert(result.alarm);
    void loadDetail(id).catch(() => undefined);
    return result;
  }

  function select(id: number | null): void {
    selectedId.value = id;
    if (id !== null) dismissed.value.delete(id);
  }

  /** Puts an acknowledged alarm's banner away on this screen. */
  function dismiss(id: number): void {
    dismissed.value.add(id);
    if (selectedId.value === id) selectedId.value = null;
  }

  // The focused alarm's trail: read when it changes, and again while it stays open.
  let refresh: ReturnType<typeof setInterval> | null = null;
  watch(
    () => current.value?.id ?? null,
    (id) => {
      if (refresh) clearInterval(refresh);
      refresh = null;
      if (id === null) {
        detail.value = null;
        return;
      }
      void loadDetail(id).catch(() => undefined);
      refresh = setInterval(() => void loadDetail(id).catch(() => undefined), TRAIL_REFRESH_MS);
    },
  );

  // Signing out forgets everything.
  watch(
    () => session.user?.id ?? null,
    () => {
      byId.value = new Map();
      dismissed.value = new Set();
      selectedId.value = null;
      detail.value = null;
      closed.value = [];
      loaded.value = false;
    },
  );

  return {
    byId,
    open,
    current,
    ringing,
    isDesk,
    mayDispatch,
    pins,
    focus,
    detail,
    loaded,
    closed,
    dismissed,
    onRaised,
    onUpdated,
    resync,
    acknowledge,
    resolve,
    falseAlarm,
    dispatchNearest,
    select,
    dismiss,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useAlarmsStore, import.meta.hot));
