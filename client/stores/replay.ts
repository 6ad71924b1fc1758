import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CoverageList, MicroGridVisits, TrackCollection, TrackEvent } from '@shared/tracks-api';
import { request, requestBlob } from '@client/api';

/** Replay speeds offered: replay seconds per real second. */
export const REPLAY_SPEEDS = [1, 2, 5, 10, 30, 60] as const;

/**
 * Track replay (轨迹回放) for the wall and the desk: the chosen workers' tracks and ticket moments
 * over a window, a clock that plays them at 1×–60×, and the day's patrol coverage. Tracks are kept
 * in shallow refs (thousands of vertices; replaced whole, never deep-reactive).
 */
export const useReplayStore = defineStore('replay', () => {
  const tracks = shallowRef<TrackCollection[]>([]);
  const events = shallowRef<(TrackEvent & { workerId: number })[]>([]);
  const from = ref(0);
  const to = ref(0);
  /** Replay position, ms since epoch. */
  const current = ref(0);
  const playing = ref(false);
  const speed = ref<number>(60);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const coverage = shallowRef<CoverageList>([]);
  const microVisits = shallowRef<ReadonlyMap<string, number>>(new Map());

  const vertices = computed(() => tracks.value.reduce((n, t) => n + t.properties.vertices, 0));

  /** Loads the workers' tracks (simplified to `tolerance` m) and tickets over [fromMs, toMs). */
  async function load(workerIds: readonly number[], fromMs: number, toMs: number, tolerance = 2): Promise<void> {
    loading.value = true;
    error.value = null;
    pause();
    try {
      const query = { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };
      const [t, e] = await Promise.all([
        Promise.all(workerIds.map((id) => request<TrackCollection>(`/api/workers/${id}/track`, { query: { ...query, tolerance } }))),
        Promise.all(workerIds.map((id) => request<TrackEvent[]>(`/api/workers/${id}/track/events`, { query })
          .then((list) => list.map((ev) => ({ ...ev, workerId: id }))))),
      ]);
      tracks.value = t;
      events.value = e.flat().sort((a, b) => a.at.localeCompare(b.at));
      from.value = fromMs;
      to.value = toMs;
      // Start where the first fix is, not at an empty morning.
      const first = Math.min(...t.flatMap((fc) => fc.features.map((f) => f.properties.timestamps[0] ?? Infinity)));
      current.value = Number.isFinite(first) ? Math.max(fromMs, first) : fromMs;
    } catch (err) {
      error.value = (err as Error).message;
    } finally {
      loading.value = false;
    }
  }

  let frame = 0;
  let last = 0;
  function tick(now: number): void {
    if (!playing.value) return;
    const dt = last ? now - last : 0;
    last = now;
    current.value = Math.min(to.value, current.value + dt * speed.value);
    if (current.value >= to.value) {
      playing.value = false;
      return;
    }
    frame = requestAnimationFrame(tick);
  }
  function play(): void {
    if (playing.value || to.value <= from.value) return;
    if (current.value >= to.value) current.value = from.value;
    playing.value = true;
    last = 0;
    frame = requestAnimationFrame(tick);
  }
  function pause(): void {
    playing.value = false;
    cancelAnimationFrame(frame);
  }
  function seek(ms: number): void {
    current.value = Math.min(to.value, Math.max(from.value, ms));
  }

  /** Downloads one worker's track over the loaded window as GPX or GeoJSON (the server's file). */
  async function download(workerId: number, format: 'gpx' | 'geojson'): Promise<void> {
    const blob = await requestBlob(`/api/workers/${workerId}/track`, {
      query: { from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString(), format },
    });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `track-${workerId}-${new Date(from.value).toISOString().slice(0, 10)}.${format}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  /** The day's coverage per grid (the ranking) and per micro-grid (the layer). */
  async function loadCoverage(date: string, parent?: string): Promise<void> {
    const [rows, visits] = await Promise.all([
      request<CoverageList>('/api/patrol/coverage', { query: { date, level: 'grid', parent } }),
      request<MicroGridVisits>('/api/patrol/micro-grids', { query: { date, parent } }),
    ]);
    coverage.value = [...rows].sort((a, b) => b.coverage - a.coverage || a.code.localeCompare(b.code));
    microVisits.value = new Map(visits.map((v) => [v.code, v.visits]));
  }

  return { tracks, events, from, to, current, playing, speed, loading, error, vertices, coverage, microVisits, load, play, pause, seek, download, loadCoverage };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useReplayStore, import.meta.hot));
