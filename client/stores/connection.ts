import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { SessionInfo } from '@shared/realtime';
import { useNow } from '@client/composables/use-now';
import { useWorkersStore } from './workers';

/**
 * What the socket is doing, so an operator can tell live data from stale data at a glance:
 * - connecting: first contact after sign-in;
 * - live: connected and frames arriving on time;
 * - stale: connected, but no frame for several ticks (the server or its feed is stuck);
 * - reconnecting: the link dropped and socket.io is retrying;
 * - offline: it has been down for a while (or the browser says there is no network).
 */
export type LinkStatus = 'connecting' | 'live' | 'stale' | 'reconnecting' | 'offline';

/**
 * A dropped session coming back, as the wall says it in its corner: the link is down
 * ('reconnecting'), the socket is back and the stores fetch again ('refreshing'), everything was
 * fetched again ('recovered', shown for a while), or nothing to say ('none').
 */
export type Recovery = 'none' | 'reconnecting' | 'refreshing' | 'recovered';

/** How long "recovered · data refreshed" stays up, ms. */
const RECOVERED_SHOWN_MS = 15_000;

/** A dropped link counts as "offline" rather than "reconnecting" after this long. */
const OFFLINE_AFTER_MS = 30_000;
/**
 * The server sends a delta only when something changed, so silence alone means nothing. But an
 * online worker reports every few seconds: if workers are online and no frame came for this long,
 * the feed is stuck even though the socket is up.
 */
const STALE_AFTER_MS = 60_000;

export const useConnectionStore = defineStore('connection', () => {
  const connected = ref(false);
  /** Client time the link came up / went down / a frame arrived, ms. */
  const changedAt = ref(Date.now());
  const lastFrameAt = ref<number | null>(null);
  /** Server time of the last frame, ms: what the operator's data is as of. */
  const dataTime = ref<number | null>(null);
  const session = ref<SessionInfo | null>(null);
  /** serverTime − clientTime, ms, from session.ready. */
  const clockOffset = ref(0);
  const browserOnline = ref(typeof navigator === 'undefined' ? true : navigator.onLine);
  const started = ref(false);
  /** The link dropped after a session was ready; where its recovery stands, and when it finished (client ms). */
  const recoveryPhase = ref<Exclude<Recovery, 'none'> | null>(null);
  const recoveredAt = ref(0);
  /** Recoveries completed since the page loaded (tests and support read it). */
  const recoveries = ref(0);
  const now = useNow();
  const workers = useWorkersStore();

  if (typeof window !== 'undefined') {
    window.addEventListener('online', () => (browserOnline.value = true));
    window.addEventListener('offline', () => (browserOnline.value = false));
  }

  const status = computed<LinkStatus>(() => {
    if (!connected.value) {
      if (!started.value || lastFrameAt.value === null) return browserOnline.value ? 'connecting' : 'offline';
      if (!browserOnline.value || now.value - changedAt.value > OFFLINE_AFTER_MS) return 'offline';
      return 'reconnecting';
    }
    if (lastFrameAt.value === null) return 'connecting';
    const someoneOnline = workers.stats.field.online + workers.stats.byRole.party_member.online > 0;
    return someoneOnline && now.value - lastFrameAt.value > STALE_AFTER_MS ? 'stale' : 'live';
  });

  const recovery = computed<Recovery>(() => {
    const phase = recoveryPhase.value;
    if (phase === 'recovered' && now.value - recoveredAt.value > RECOVERED_SHOWN_MS) return 'none';
    return phase ?? 'none';
  });

  function linkUp(): void {
    connected.value = true;
    changedAt.value = Date.now();
  }

  function linkDown(): void {
    // Only a session that was up has something to recover (not a first connection still trying).
    if (session.value !== null || recoveryPhase.value === 'refreshing') recoveryPhase.value = 'reconnecting';
    connected.value = false;
    changedAt.value = Date.now();
  }

  function ready(info: SessionInfo): void {
    session.value = info;
    clockOffset.value = info.serverTime - Date.now();
    if (recoveryPhase.value === 'reconnecting') recoveryPhase.value = 'refreshing';
  }

  /** The stores fetched again after session.ready. */
  function refreshed(): void {
    if (recoveryPhase.value !== 'refreshing') return;
    recoveryPhase.value = 'recovered';
    recoveredAt.value = Date.now();
    recoveries.value++;
  }

  function frame(t: number): void {
    lastFrameAt.value = Date.now();
    dataTime.value = t;
  }

  function start(): void {
    started.value = true;
    changedAt.value = Date.now();
  }

  function reset(): void {
    connected.value = false;
    started.value = false;
    lastFrameAt.value = null;
    dataTime.value = null;
    session.value = null;
    clockOffset.value = 0;
    recoveryPhase.value = null;
  }

  return {
    connected, status, recovery, recoveries, dataTime, session, clockOffset, start, linkUp, linkDown, ready, refreshed, frame, reset,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useConnectionStore, import.meta.hot));
