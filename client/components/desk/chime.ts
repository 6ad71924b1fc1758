/**
 * The desk's short chime for a decline or an unanswered offer: two soft sine notes from Web Audio
 * (no file to load). As with the alarm siren (client/composables/alarm-siren.ts), a browser keeps
 * audio suspended until the page has been clicked or typed into, so the context is made at the
 * dispatcher's first click or key press and the chime sounds from then on; before that a toast is
 * silent and says so.
 */
import { readonly, ref } from 'vue';

export type ChimeState = 'off' | 'suspended' | 'running';

const state = ref<ChimeState>('off');
/** How many chimes were played (tests and the toast's data-sound read it). */
const played = ref(0);
let ctx: AudioContext | null = null;
let armed = false;

function audioContextClass(): typeof AudioContext | undefined {
  return window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
}

function track(): void {
  state.value = !ctx ? 'off' : ctx.state === 'running' ? 'running' : 'suspended';
}

/** Inside a click or key handler: makes (or resumes) the context; the browser allows it there. */
function onGesture(): void {
  const Ctor = audioContextClass();
  if (!Ctor) return;
  if (!ctx) {
    ctx = new Ctor();
    ctx.onstatechange = track;
  }
  void ctx.resume().then(track, track);
  track();
}

/** Listens for the dispatcher's first interaction (once per page; later calls do nothing). */
export function armChimeOnInteraction(): void {
  if (armed || typeof document === 'undefined') return;
  armed = true;
  document.addEventListener('pointerdown', onGesture, { capture: true });
  document.addEventListener('keydown', onGesture, { capture: true });
}

/** Plays the chime if audio runs; returns whether it did. */
export function chime(): boolean {
  if (!ctx || ctx.state !== 'running') return false;
  const t0 = ctx.currentTime + 0.02;
  for (const [i, freq] of [880, 660].entries()) {
    const start = t0 + i * 0.18;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(freq, start);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.32);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + 0.34);
  }
  played.value++;
  return true;
}

export const chimeState = readonly(state);
export const chimesPlayed = readonly(played);
