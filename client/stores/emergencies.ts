/**
 * Emergency mode (平战结合) as the dashboard sees it: the active emergencies meeting the desk's
 * jurisdiction with their per-grid call-up counts (only the grids inside the jurisdiction: the
 * server scopes them), kept live by the socket (client/realtime.ts routes `emergency.declared`,
 * `emergency.mobilisation` and `emergency.closed` here); the situation in the area (open tickets by
 * status, alarms), refreshed when tickets or alarms move; the resources nearest a clicked point; the
 * after-action report once closed. On a worker's phone: their own call-ups.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type {
  CallUpState,
  DeclareEmergencyBody,
  DeclaredEmergency,
  EmergencyClosed,
  EmergencyDetail,
  EmergencyGridRow,
  EmergencyList,
  EmergencyMobilisationChange,
  EmergencyReport,
  EmergencySituation,
  EmergencySummary,
  MobilisationCounts,
  Resource,
  ResourceList,
} from '@shared/emergencies-api';
import { request, requestBlob } from '@client/api';
import { useSessionStore } from '@client/stores/session';

export const emergenciesApi = {
  active: () => request<EmergencyList>('/api/emergencies', { query: { status: 'active' } }),
  detail: (id: number) => request<EmergencyDetail>(`/api/emergencies/${id}`),
  declare: (body: DeclareEmergencyBody) => request<DeclaredEmergency>('/api/emergencies', { method: 'POST', body }),
  close: (id: number) => request<EmergencyReport>(`/api/emergencies/${id}/close`, { method: 'POST' }),
  report: (id: number) => request<EmergencyReport>(`/api/emergencies/${id}/report`),
  reportXlsx: (id: number) => requestBlob(`/api/emergencies/${id}/report`, { query: { format: 'xlsx' } }),
  situation: (id: number) => request<EmergencySituation>(`/api/emergencies/${id}/situation`),
  nearest: (lon: number, lat: number) => request<ResourceList>('/api/emergency-resources/nearest', { query: { lon, lat, limit: 5 } }),
  acknowledge: (id: number) => request<CallUpState>(`/api/emergencies/${id}/acknowledge`, { method: 'POST' }),
  reportIn: (id: number, lon: number, lat: number, accuracy?: number) =>
    request<CallUpState>(`/api/emergencies/${id}/report-in`, { method: 'POST', body: { lon, lat, ...(accuracy === undefined ? {} : { accuracy }) } }),
};

/** One active emergency on the desk: its summary and its grids by code. */
export interface LiveEmergency {
  summary: EmergencySummary;
  grids: Map<string, EmergencyGridRow>;
  /** When the dashboard learnt of it (performance.now()): the wall's switch is timed from the event. */
  seenAt: number;
}

export const useEmergenciesStore = defineStore('emergencies', () => {
  const session = useSessionStore();
  /** Active emergencies by id; replaced whole on change (shallow), so views recompute. */
  const active = shallowRef<Map<number, LiveEmergency>>(new Map());
  const situation = ref<EmergencySituation | null>(null);
  const nearest = ref<{ lon: number; lat: number; items: Resource[] } | null>(null);
  const report = ref<EmergencyReport | null>(null);
  /** A worker's own call-ups (the phone). */
  const mine = ref<EmergencyDetail[]>([]);
  let situationTimer: ReturnType<typeof setTimeout> | null = null;

  /** The newest active emergency: the one the layout shows. */
  const current = computed<LiveEmergency | null>(() => {
    let best: LiveEmergency | null = null;
    for (const e of active.value.values()) if (!best || e.summary.id > best.summary.id) best = e;
    return best;
  });

  const counts = computed<MobilisationCounts>(() => {
    const c = { called: 0, acknowledged: 0, reportedIn: 0 };
    for (const g of current.value?.grids.values() ?? []) {
      c.called += g.called;
      c.acknowledged += g.acknowledged;
      c.reportedIn += g.reportedIn;
    }
    return c;
  });

  const isWorker = computed(() => session.user?.role === 'worker');

  function put(detail: EmergencyDetail | EmergencySummary, grids: EmergencyGridRow[] | null): void {
    const next = new Map(active.value);
    const known = next.get(detail.id);
    const { id, type, level, note, status, declaredAt, closedAt, declaredBy, region, areaRegions, drawn, area, noticeId } = detail;
    next.set(detail.id, {
      summary: { id, type, level, note, status, declaredAt, closedAt, declaredBy, region, areaRegions, drawn, area, noticeId },
      grids: grids ? new Map(grids.map((g) => [g.code, g])) : (known?.grids ?? new Map()),
      seenAt: known?.seenAt ?? performance.now(),
    });
    active.value = next;
  }

  /** What the server holds now (after connecting or reconnecting). */
  async function resync(): Promise<void> {
    if (isWorker.value) {
      mine.value = (await emergenciesApi.active()).items;
      return;
    }
    const { items } = await emergenciesApi.active();
    const next = new Map<number, LiveEmergency>();
    for (const e of items) {
      const known = active.value.get(e.id);
      next.set(e.id, { summary: e, grids: new Map(e.grids.map((g) => [g.code, g])), seenAt: known?.seenAt ?? performance.now() });
    }
    active.value = next;
    refreshSituation();
  }

  function onDeclared(e: EmergencySummary): void {
    if (isWorker.value) {
      void resync().catch(() => {});
      return;
    }
    // The layout switches on the event itself; the grid rows follow.
    put(e, null);
    report.value = null;
    void emergenciesApi.detail(e.id).then((d) => put(d, d.grids)).catch(() => {});
    refreshSituation();
  }

  function onMobilisation(change: EmergencyMobilisationChange): void {
    const e = active.value.get(change.id);
    if (!e) return;
    const grids = new Map(e.grids);
    for (const g of change.grids) grids.set(g.code, g);
    const next = new Map(active.value);
    next.set(change.id, { ...e, grids });
    active.value = next;
  }

  function onClosed(closed: EmergencyClosed): void {
    if (isWorker.value) {
      mine.value = mine.value.filter((e) => e.id !== closed.id);
      return;
    }
    if (!active.value.has(closed.id)) return;
    const next = new Map(active.value);
    next.delete(closed.id);
    active.value = next;
    // Everyone who watched it sees the after-action report.
    void emergenciesApi.report(closed.id).then((r) => (report.value = r)).catch(() => {});
  }

  /** Tickets or alarms moved: the area's situation is fetched again (at most once a second). */
  function refreshSituation(): void {
    if (isWorker.value || situationTimer) return;
    situationTimer = setTimeout(() => {
      situationTimer = null;
      const e = current.value;
      if (!e) {
        situation.value = null;
        return;
      }
      void emergenciesApi.situation(e.summary.id).then((s) => (situation.value = s)).catch(() => {});
    }, 1000);
  }

  async function declare(body: DeclareEmergencyBody): Promise<DeclaredEmergency> {
    const d = await emergenciesApi.declare(body);
    put(d, null);
    void emergenciesApi.detail(d.id).then((x) => put(x, x.grids)).catch(() => {});
    return d;
  }

  async function close(id: number): Promise<EmergencyReport> {
    const r = await emergenciesApi.close(id);
    report.value = r;
    onClosed({ id, closedAt: r.closedAt });
    return r;
  }

  async function findNearest(lon: number, lat: number): Promise<void> {
    nearest.value = { lon, lat, items: (await emergenciesApi.nearest(lon, lat)).items };
  }

  async function acknowledge(id: number): Promise<void> {
    const s = await emergenciesApi.acknowledge(id);
    mine.value = mine.value.map((e) => (e.id === id && e.me ? { ...e, me: { ...e.me, acknowledgedAt: s.acknowledgedAt } } : e));
  }

  async function reportIn(id: number, lon: number, lat: number, accuracy?: number): Promise<void> {
    const s = await emergenciesApi.reportIn(id, lon, lat, accuracy);
    mine.value = mine.value.map((e) => (e.id === id && e.me ? { ...e, me: { ...e.me, acknowledgedAt: s.acknowledgedAt, reportedInAt: s.reportedInAt } } : e));
  }

  function reset(): void {
    active.value = new Map();
    situation.value = null;
    nearest.value = null;
    report.value = null;
    mine.value = [];
  }

  return {
    active, current, counts, situation, nearest, report, mine,
    resync, onDeclared, onMobilisation, onClosed, refreshSituation, declare, close, findNearest, acknowledge, reportIn, reset,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useEmergenciesStore, import.meta.hot));
