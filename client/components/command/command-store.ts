/**
 * The leader's screen (/command): the KPIs of the region being looked at (the jurisdiction, or a
 * street or community drilled into) and of its children, the lists beside them, and the exports.
 * Kept live by the socket: `stats.update` (pushed after ticket changes, throttled by the server)
 * makes it fetch again — it never polls.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { request, requestBlob } from '@client/api';
import type { RegionFeatureCollection } from '@shared/api';
import type { KpiList, KpiRow, StatsLevel, StatsUpdate, StatsWindow } from '@shared/stats-api';
import { useSessionStore } from '@client/stores/session';

export interface Crumb {
  code: string;
  name: string;
  level: 'district' | 'street' | 'community' | 'grid';
}

export interface Overview {
  parent: { code: string; name: string; level: string };
  at: string;
  overdueTickets: { id: number; number: string; category: string; status: string; level: string; gridName: string; streetName: string; dueAt: string; overdueMin: number }[];
  workersByRole: { role: string; online: number; onShift: number; total: number }[];
  receivedByHour: { today: number[]; lastWeek: number[]; hourNow: number; todaySoFar: number; lastWeekSoFar: number };
}

const CHILD: Record<Crumb['level'], StatsLevel> = { district: 'street', street: 'community', community: 'grid', grid: 'worker' };
/** A burst of pushes becomes one reload. */
const RELOAD_DEBOUNCE_MS = 300;

export const useCommandStore = defineStore('command', () => {
  const session = useSessionStore();
  const trail = ref<Crumb[]>([]);
  const window = ref<Exclude<StatsWindow, 'range'>>('today');
  const total = ref<KpiRow | null>(null);
  const children = ref<KpiList>([]);
  const worstGrids = ref<KpiList>([]);
  const overview = ref<Overview | null>(null);
  const shapes = ref<RegionFeatureCollection | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  /** When the last `stats.update` arrived and when the figures were last loaded (ms). */
  const lastPushAt = ref(0);
  const loadedAt = ref(0);
  const pushes = ref(0);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let active = false;
  let generation = 0;

  const current = computed<Crumb | null>(() => trail.value.at(-1) ?? null);
  const childLevel = computed<StatsLevel>(() => CHILD[current.value?.level ?? 'district']);

  function kpis(level: StatsLevel, parent: string, win = window.value) {
    return request<KpiList>('/api/stats/kpis', { query: { window: win, level, parent } });
  }

  async function load(): Promise<void> {
    const here = current.value;
    if (!here) return;
    const gen = ++generation;
    loading.value = true;
    error.value = null;
    try {
      const child = childLevel.value;
      const [tot, kids, grids, ov, geo] = await Promise.all([
        kpis(here.level, here.code),
        kpis(child, here.code),
        child === 'grid' ? Promise.resolve(null) : here.level === 'grid' ? Promise.resolve([]) : kpis('grid', here.code),
        request<Overview>('/api/stats/overview', { query: { parent: here.code } }),
        child === 'worker'
          ? Promise.resolve(null)
          : request<RegionFeatureCollection>('/api/regions', { query: { level: child, parent: here.code } }),
      ]);
      if (gen !== generation) return;
      total.value = tot.find((r) => r.code === here.code) ?? tot[0] ?? null;
      children.value = kids;
      const gridRows = grids ?? kids;
      // The worst grids: lowest 按期结案率 among those with something due, most overdue first on ties.
      worstGrids.value = [...gridRows]
        .filter((g) => g.values.closedOnTimeRate.den > 0)
        .sort((a, b) => (a.values.closedOnTimeRate.rate ?? 1) - (b.values.closedOnTimeRate.rate ?? 1) || b.values.overdue.num - a.values.overdue.num)
        .slice(0, 8);
      overview.value = ov;
      shapes.value = geo;
      loadedAt.value = Date.now();
    } catch (e) {
      if (gen === generation) error.value = (e as Error).message;
    } finally {
      if (gen === generation) loading.value = false;
    }
  }

  async function start(): Promise<void> {
    active = true;
    const user = session.user;
    if (!user) return;
    if (trail.value.length === 0) {
      trail.value = [{ code: user.region.code, name: user.region.name, level: user.region.level as Crumb['level'] }];
    }
    await load();
  }

  function stop(): void {
    active = false;
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  /** Drill into a child region (a street on the map, a bar in the chart). */
  async function drill(code: string): Promise<void> {
    const level = childLevel.value;
    if (level === 'worker') return;
    const row = children.value.find((r) => r.code === code);
    if (!row) return;
    trail.value = [...trail.value, { code, name: row.name, level }];
    await load();
  }

  async function back(index: number): Promise<void> {
    trail.value = trail.value.slice(0, index + 1);
    await load();
  }

  async function setWindow(w: Exclude<StatsWindow, 'range'>): Promise<void> {
    window.value = w;
    await load();
  }

  /** `stats.update` from the socket: reload what is shown (debounced). */
  function onUpdate(update: StatsUpdate): void {
    lastPushAt.value = Date.now();
    pushes.value++;
    if (!active) return;
    const here = current.value;
    // Only pushes about the region on screen or around it matter.
    if (here && !update.regionPath.includes(`/${here.code}/`) && !trail.value.some((c) => update.regionPath.endsWith(`/${c.code}/`))) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void load();
    }, RELOAD_DEBOUNCE_MS);
  }

  /** Downloads a table the server builds (xlsx or csv) under the name the server gives it. */
  async function download(kind: 'kpis' | 'assessment', format: 'xlsx' | 'csv'): Promise<void> {
    const here = current.value;
    if (!here) return;
    const url = kind === 'kpis' ? '/api/stats/kpis' : '/api/stats/assessment';
    const query = kind === 'kpis'
      ? { window: window.value, level: childLevel.value, parent: here.code, format }
      : { parent: here.code, format };
    const blob = await requestBlob(url, { query });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().slice(0, 10);
    a.download = kind === 'kpis' ? `指标-${here.name}-${stamp}.${format}` : `网格考核-${here.name}-${stamp}.${format}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  return {
    trail, window, total, children, worstGrids, overview, shapes, loading, error, lastPushAt, loadedAt, pushes,
    current, childLevel, start, stop, load, drill, back, setWindow, onUpdate, download,
  };
});
