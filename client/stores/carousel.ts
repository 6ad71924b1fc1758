/**
 * The wall's rotation (轮播): the views an operator chose (全区, streets, 指标), each shown for
 * `seconds`, kept on the server per account so a reloaded wall goes on rotating. A person at the
 * wall pauses it (any pointer or key; it goes on `idleSeconds` after the last touch), and so does
 * any alarm waiting for a person (raised, not yet acknowledged): the wall then keeps the alarm's
 * view until someone takes it. An active emergency (应急) pauses it too: the wall shows the
 * emergency's area until the emergency is closed, then the rotation goes on where it was. The wall
 * page starts and stops it; nothing rotates elsewhere.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import { DEFAULT_CAROUSEL, type CarouselView, type WallCarousel } from '@shared/wall-api';
import { request } from '@client/api';
import { useNow } from '@client/composables/use-now';
import { useAlarmsStore } from './alarms';
import { useEmergenciesStore } from './emergencies';
import { useSessionStore } from './session';

export const carouselApi = {
  get: () => request<WallCarousel>('/api/wall/carousel'),
  save: (carousel: WallCarousel) => request<WallCarousel>('/api/wall/carousel', { method: 'PUT', body: carousel }),
};

/**
 * - off: no rotation configured (the wall stays where people put it);
 * - running: moving through the views;
 * - interaction / alarm / emergency / settings: paused by a person, a waiting alarm, an active
 *   emergency, the settings being edited.
 */
export type CarouselState = 'off' | 'running' | 'interaction' | 'alarm' | 'emergency' | 'settings';

/** Events that mean a person is at the wall. */
const INTERACTIONS = ['pointerdown', 'pointermove', 'wheel', 'keydown', 'touchstart'] as const;

export const useCarouselStore = defineStore('carousel', () => {
  const session = useSessionStore();
  const alarms = useAlarmsStore();
  const emergencies = useEmergenciesStore();
  const now = useNow();
  const config = shallowRef<WallCarousel>(DEFAULT_CAROUSEL);
  const loaded = ref(false);
  const index = ref(0);
  /** Bumped whenever the current view must be shown again (the map fits it anew). */
  const seq = ref(0);
  /** Client ms: the last touch, and when the current view started showing. */
  const touchedAt = ref(0);
  const shownAt = ref(Date.now());
  const settingsOpen = ref(false);
  /** Views shown since the wall page opened (tests and support read it). */
  const advances = ref(0);
  let timer: ReturnType<typeof setInterval> | undefined;
  let previousState: CarouselState = 'off';

  const views = computed<readonly CarouselView[]>(() => config.value.views);
  const current = computed<CarouselView>(() => views.value[index.value % Math.max(1, views.value.length)] ?? { kind: 'district' });
  const pausedUntil = computed(() => touchedAt.value + config.value.idleSeconds * 1000);

  const state = computed<CarouselState>(() => {
    if (!config.value.enabled || views.value.length === 0) return 'off';
    if (settingsOpen.value) return 'settings';
    if (alarms.ringing) return 'alarm';
    if (emergencies.current) return 'emergency';
    if (now.value < pausedUntil.value) return 'interaction';
    return 'running';
  });
  /** Whole seconds until the rotation goes on after a touch. */
  const resumesInS = computed(() => Math.min(config.value.idleSeconds, Math.max(0, Math.ceil((pausedUntil.value - now.value) / 1000))));
  /** Whole seconds until the next view while running. */
  const nextInS = computed(() =>
    Math.min(config.value.seconds, Math.max(0, Math.ceil((shownAt.value + config.value.seconds * 1000 - now.value) / 1000))),
  );

  function show(i: number): void {
    index.value = views.value.length > 0 ? ((i % views.value.length) + views.value.length) % views.value.length : 0;
    shownAt.value = Date.now();
    seq.value++;
  }

  function step(): void {
    const s = state.value;
    if (s === 'running') {
      // Back from a pause: the view the pause interrupted is shown again, for its full time (the
      // person or the alarm may have moved the map).
      if (previousState !== 'running') show(index.value);
      else if (Date.now() >= shownAt.value + config.value.seconds * 1000) {
        show(index.value + 1);
        advances.value++;
      }
    }
    previousState = s;
  }

  function touched(): void {
    touchedAt.value = Date.now();
  }

  async function load(): Promise<void> {
    if (!session.user) return;
    apply(await carouselApi.get());
    loaded.value = true;
  }

  function apply(next: WallCarousel): void {
    config.value = next;
    previousState = 'off';
    show(0);
  }

  async function save(next: WallCarousel): Promise<void> {
    apply(await carouselApi.save(next));
  }

  /** The wall page opened: load the rotation, listen for people, tick. */
  function start(): void {
    for (const type of INTERACTIONS) window.addEventListener(type, touched, { capture: true, passive: true });
    timer ??= setInterval(step, 250);
    void load().catch(() => {});
  }

  function stop(): void {
    for (const type of INTERACTIONS) window.removeEventListener(type, touched, { capture: true });
    if (timer) clearInterval(timer);
    timer = undefined;
  }

  // Another account's rotation never lingers.
  watch(
    () => session.user?.id ?? null,
    () => {
      config.value = DEFAULT_CAROUSEL;
      loaded.value = false;
      index.value = 0;
    },
  );

  return {
    config, loaded, views, current, state, seq, index, advances, resumesInS, nextInS, settingsOpen,
    start, stop, load, save, touched,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useCarouselStore, import.meta.hot));
