import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, shallowRef } from 'vue';
import type { WorkerDto } from '@shared/api';
import { WORKER_ROLES, type WorkerRole } from '@shared/domain';
import { WORKER_FLAGS, viewWorkerFrame, type PresenceChange, type WorkerFrame } from '@shared/realtime';
import type { OnlineHistory } from '@shared/workers-api';
import { api, request } from '@client/api';
import { ALARM_COLOR, OFFLINE_COLOR, ROLE_COLORS, UNKNOWN_COLOR } from '@client/map/colors';

/** Speed value meaning "unknown" in LiveWorkers.speed (the wire's sentinel). */
export const NO_SPEED = 0xffff;
/** Battery value meaning "unknown" in LiveWorkers.battery. */
export const NO_BATTERY = 0xff;

/**
 * Every worker with a known position, struct-of-arrays: entry i of each array is one worker, the
 * first `n` entries are valid. The arrays are reused and written in place between updates (that is
 * what keeps 10k moving points cheap); each update publishes a new LiveWorkers object around them,
 * so watchers and deck.gl see a change. Read it, never keep a copy of a value across updates.
 */
export interface LiveWorkers {
  readonly n: number;
  readonly ids: Uint32Array;
  /** lon, lat interleaved: deck.gl's getPosition as is. */
  readonly lonLat: Float32Array;
  /** Time of the fix, seconds since epoch. */
  readonly time: Uint32Array;
  /** cm/s; NO_SPEED when unknown. */
  readonly speed: Uint16Array;
  /** Percent; NO_BATTERY when unknown. */
  readonly battery: Uint8Array;
  /** WORKER_FLAGS bits. */
  readonly flags: Uint8Array;
  /** RGBA per worker from role and state: deck.gl's getFillColor as is. */
  readonly colors: Uint8Array;
  /** Worker id → entry. */
  readonly index: ReadonlyMap<number, number>;
  /** Sequence number of the last frame applied, -1 before the first snapshot. */
  readonly seq: number;
  /** Server time of the last frame, ms. */
  readonly t: number;
}

export interface Tally {
  online: number;
  total: number;
}

export interface WorkerStats {
  /** Grid leaders, full-, part-time and auxiliary workers: the force in the field day to day. */
  field: Tally;
  byRole: Record<WorkerRole, Tally>;
  /** Field force per street code. */
  byStreet: ReadonlyMap<string, Tally>;
}

export interface PresenceEvent {
  t: number;
  id: number;
  online: boolean;
}

const HISTORY_STEP_MS = 10_000;
/** Panels refresh their figures at most this often: a wall shows numbers, not a 10 Hz blur. */
const PANEL_REFRESH_MS = 1000;
/** How far back the online trend reaches: the server's stored presence, then the live samples. */
export const ONLINE_HISTORY_HOURS = 2;
const HISTORY_WINDOW_MS = ONLINE_HISTORY_HOURS * 3_600_000;
const RECENT_EVENTS = 12;

function emptyLive(): LiveWorkers {
  return {
    n: 0,
    ids: new Uint32Array(0),
    lonLat: new Float32Array(0),
    time: new Uint32Array(0),
    speed: new Uint16Array(0),
    battery: new Uint8Array(0),
    flags: new Uint8Array(0),
    colors: new Uint8Array(0),
    index: new Map(),
    seq: -1,
    t: 0,
  };
}

/**
 * Drawing order by role: deck.gl draws later entries on top, so the scarce roles the centre looks
 * for (grid leaders, full-time workers) are not buried under the many auxiliary workers.
 */
const DRAW_RANK: Record<WorkerRole, number> = { party_member: 0, auxiliary: 1, part_time: 2, full_time: 3, grid_leader: 4 };
const UNKNOWN_RANK = 5;

/** The state with its entries in `order` (a permutation of 0…n−1), in new arrays. */
function permute(state: LiveWorkers, order: Int32Array): LiveWorkers {
  const capacity = state.ids.length;
  const next = {
    ...state,
    ids: new Uint32Array(capacity),
    lonLat: new Float32Array(2 * capacity),
    time: new Uint32Array(capacity),
    speed: new Uint16Array(capacity),
    battery: new Uint8Array(capacity),
    flags: new Uint8Array(capacity),
    colors: new Uint8Array(4 * capacity),
    index: new Map<number, number>(),
  };
  const index = next.index;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const id = state.ids[i]!;
    next.ids[k] = id;
    index.set(id, k);
    next.lonLat[2 * k] = state.lonLat[2 * i]!;
    next.lonLat[2 * k + 1] = state.lonLat[2 * i + 1]!;
    next.time[k] = state.time[i]!;
    next.speed[k] = state.speed[i]!;
    next.battery[k] = state.battery[i]!;
    next.flags[k] = state.flags[i]!;
    next.colors.set(state.colors.subarray(4 * i, 4 * i + 4), 4 * k);
  }
  return next;
}

/** Copies the first `n` entries into arrays with room for `capacity`. */
function grow(live: LiveWorkers, capacity: number): LiveWorkers {
  const next = {
    ...live,
    ids: new Uint32Array(capacity),
    lonLat: new Float32Array(2 * capacity),
    time: new Uint32Array(capacity),
    speed: new Uint16Array(capacity),
    battery: new Uint8Array(capacity),
    flags: new Uint8Array(capacity),
    colors: new Uint8Array(4 * capacity),
  };
  const n = live.n;
  next.ids.set(live.ids.subarray(0, n));
  next.lonLat.set(live.lonLat.subarray(0, 2 * n));
  next.time.set(live.time.subarray(0, n));
  next.speed.set(live.speed.subarray(0, n));
  next.battery.set(live.battery.subarray(0, n));
  next.flags.set(live.flags.subarray(0, n));
  next.colors.set(live.colors.subarray(0, 4 * n));
  return next;
}

/**
 * The work force: who they are (the roster, from the API, once) and where they are (live state,
 * from the socket, every tick). Only the socket module writes live state.
 */
export const useWorkersStore = defineStore('workers', () => {
  const roster = shallowRef<ReadonlyMap<number, WorkerDto>>(new Map());
  const rosterLoaded = shallowRef(false);
  const live = shallowRef<LiveWorkers>(emptyLive());
  /**
   * Field workers online over time, [t ms of server time, online]: the server's per-minute history
   * of the last hours (loadOnlineHistory), then one live sample per HISTORY_STEP_MS.
   */
  const onlineHistory = shallowRef<ReadonlyArray<readonly [number, number]>>([]);
  const recentPresence = shallowRef<readonly PresenceEvent[]>([]);
  let rosterRequest: Promise<void> | null = null;
  /** The latest state, outside reactivity: `stats` reads it when panelClock says it may. */
  let latest: LiveWorkers = live.value;
  const panelClock = shallowRef(0);
  let panelTimer: ReturnType<typeof setTimeout> | undefined;
  let panelRefreshedAt = 0;

  function refreshPanels(): void {
    if (panelTimer) return;
    const wait = panelRefreshedAt + PANEL_REFRESH_MS - Date.now();
    const bump = () => {
      panelTimer = undefined;
      panelRefreshedAt = Date.now();
      panelClock.value++;
    };
    if (wait <= 0) bump();
    else panelTimer = setTimeout(bump, wait);
  }

  function colorOf(id: number, flags: number, out: Uint8Array, at: number): void {
    const role = roster.value.get(id)?.role;
    const color = flags & WORKER_FLAGS.ALARM
      ? ALARM_COLOR
      : !(flags & WORKER_FLAGS.ONLINE)
        ? OFFLINE_COLOR
        : role
          ? ROLE_COLORS[role]
          : UNKNOWN_COLOR;
    out[at] = color[0];
    out[at + 1] = color[1];
    out[at + 2] = color[2];
    out[at + 3] = color[3];
  }

  /** Puts entries in drawing order (see DRAW_RANK); on snapshots and when the roster arrives. */
  function sortForDrawing(state: LiveWorkers): LiveWorkers {
    const rank = new Uint8Array(state.n);
    for (let i = 0; i < state.n; i++) {
      const role = roster.value.get(state.ids[i]!)?.role;
      rank[i] = role ? DRAW_RANK[role] : UNKNOWN_RANK;
    }
    const order = Int32Array.from({ length: state.n }, (_, i) => i).sort((a, b) => rank[a]! - rank[b]! || a - b);
    return permute(state, order);
  }

  function recolorAll(state: LiveWorkers): void {
    for (let i = 0; i < state.n; i++) colorOf(state.ids[i]!, state.flags[i]!, state.colors, 4 * i);
  }

  function publish(state: LiveWorkers): void {
    live.value = latest = { ...state };
    sampleHistory(state);
    refreshPanels();
  }

  function sampleHistory(state: LiveWorkers): void {
    // Before the roster arrives no one has a role, and "0 online" would be a lie in the chart.
    if (!rosterLoaded.value) return;
    const history = onlineHistory.value;
    const last = history[history.length - 1];
    if (last && state.t - last[0] < HISTORY_STEP_MS) return;
    let online = 0;
    for (let i = 0; i < state.n; i++) {
      if (!(state.flags[i]! & WORKER_FLAGS.ONLINE)) continue;
      const role = roster.value.get(state.ids[i]!)?.role;
      if (role && role !== 'party_member') online++;
    }
    const next = history.slice(firstInWindow(history, state.t));
    next.push([state.t, online]);
    onlineHistory.value = next;
  }

  /** Index of the first entry inside the window ending at `end`. */
  function firstInWindow(history: ReadonlyArray<readonly [number, number]>, end: number): number {
    let i = 0;
    while (i < history.length && history[i]![0] < end - HISTORY_WINDOW_MS) i++;
    return i;
  }

  /**
   * The last hours of the online count from the server's stored presence, so the trend is whole
   * the moment a wall (re)loads; live samples newer than the server's last minute are kept after it.
   */
  async function loadOnlineHistory(): Promise<void> {
    const h = await request<OnlineHistory>('/api/workers/online-history', { query: { hours: ONLINE_HISTORY_HOURS } });
    const stored: (readonly [number, number])[] = h.t.map((t, i) => [t, h.online[i]!] as const);
    const lastStored = stored[stored.length - 1]?.[0] ?? -Infinity;
    const merged = [...stored, ...onlineHistory.value.filter(([t]) => t > lastStored)];
    const end = merged[merged.length - 1]?.[0] ?? 0;
    onlineHistory.value = merged.slice(firstInWindow(merged, end));
  }

  /** Replaces everything with a snapshot frame. */
  function applySnapshot(frame: WorkerFrame): void {
    const view = viewWorkerFrame(frame.data, frame.n);
    let state = live.value;
    if (state.ids.length < view.n) state = grow({ ...state, n: 0 }, Math.ceil(view.n * 1.25));
    state.ids.set(view.ids);
    state.lonLat.set(view.lonLat);
    state.time.set(view.time);
    state.speed.set(view.speed);
    state.battery.set(view.battery);
    state.flags.set(view.flags);
    const index = new Map<number, number>();
    for (let i = 0; i < view.n; i++) index.set(view.ids[i]!, i);
    state = sortForDrawing({ ...state, n: view.n, index, seq: frame.seq, t: frame.t });
    recolorAll(state);
    publish(state);
  }

  /**
   * Applies a delta frame in place. Returns false, changing nothing, when its sequence number does
   * not follow the last frame's: a frame was lost and only a snapshot can repair the state.
   */
  function applyDelta(frame: WorkerFrame): boolean {
    let state = live.value;
    if (state.seq < 0 || frame.seq !== state.seq + 1) return false;
    const view = viewWorkerFrame(frame.data, frame.n);
    const index = state.index as Map<number, number>;
    let n = state.n;
    for (let k = 0; k < view.n; k++) {
      const id = view.ids[k]!;
      let i = index.get(id);
      if (i === undefined) {
        if (n >= state.ids.length) state = grow({ ...state, n }, Math.max(64, 2 * state.ids.length));
        i = n++;
        index.set(id, i);
        state.ids[i] = id;
      }
      state.lonLat[2 * i] = view.lonLat[2 * k]!;
      state.lonLat[2 * i + 1] = view.lonLat[2 * k + 1]!;
      state.time[i] = view.time[k]!;
      state.speed[i] = view.speed[k]!;
      state.battery[i] = view.battery[k]!;
      state.flags[i] = view.flags[k]!;
      colorOf(id, view.flags[k]!, state.colors, 4 * i);
    }
    publish({ ...state, n, seq: frame.seq, t: frame.t });
    return true;
  }

  /** Marks workers online/offline between frames. */
  function applyPresence(change: PresenceChange): void {
    const state = live.value;
    const events: PresenceEvent[] = [];
    const mark = (ids: number[], online: boolean) => {
      for (const id of ids) {
        events.push({ t: change.t, id, online });
        const i = state.index.get(id);
        if (i === undefined) continue;
        state.flags[i] = online ? state.flags[i]! | WORKER_FLAGS.ONLINE : state.flags[i]! & ~WORKER_FLAGS.ONLINE;
        colorOf(id, state.flags[i]!, state.colors, 4 * i);
      }
    };
    mark(change.online, true);
    mark(change.offline, false);
    if (events.length === 0) return;
    recentPresence.value = [...events.slice(-RECENT_EVENTS).reverse(), ...recentPresence.value].slice(0, RECENT_EVENTS);
    publish(state);
  }

  /** The roster in the jurisdiction; fetched once per session. */
  function loadRoster(): Promise<void> {
    rosterRequest ??= api.workers().then(
      (list) => {
        roster.value = new Map(list.map((w) => [w.id, w]));
        rosterLoaded.value = true;
        // Dots drawn before the roster arrived were coloured "unknown role".
        const state = sortForDrawing(live.value);
        recolorAll(state);
        publish(state);
      },
      (error: unknown) => {
        rosterRequest = null;
        throw error;
      },
    );
    return rosterRequest;
  }

  const stats = computed<WorkerStats>(() => {
    void panelClock.value;
    const byRole = Object.fromEntries(WORKER_ROLES.map((r) => [r, { online: 0, total: 0 }])) as Record<WorkerRole, Tally>;
    const byStreet = new Map<string, Tally>();
    const field: Tally = { online: 0, total: 0 };
    for (const w of roster.value.values()) {
      if (w.role !== 'party_member' && !w.active) continue;
      byRole[w.role].total++;
      if (w.role === 'party_member') continue;
      field.total++;
      let street = byStreet.get(w.streetCode);
      if (!street) byStreet.set(w.streetCode, (street = { online: 0, total: 0 }));
      street.total++;
    }
    const state = latest;
    for (let i = 0; i < state.n; i++) {
      if (!(state.flags[i]! & WORKER_FLAGS.ONLINE)) continue;
      const w = roster.value.get(state.ids[i]!);
      if (!w) continue;
      byRole[w.role].online++;
      if (w.role === 'party_member') continue;
      field.online++;
      const street = byStreet.get(w.streetCode);
      if (street) street.online++;
    }
    return { field, byRole, byStreet };
  });

  function reset(): void {
    roster.value = new Map();
    rosterLoaded.value = false;
    rosterRequest = null;
    live.value = latest = emptyLive();
    clearTimeout(panelTimer);
    panelTimer = undefined;
    panelClock.value++;
    onlineHistory.value = [];
    recentPresence.value = [];
  }

  return {
    roster,
    rosterLoaded,
    live,
    onlineHistory,
    recentPresence,
    stats,
    loadRoster,
    loadOnlineHistory,
    applySnapshot,
    applyDelta,
    applyPresence,
    reset,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useWorkersStore, import.meta.hot));
