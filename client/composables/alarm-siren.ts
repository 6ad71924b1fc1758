/**
 * The centre's alarm sound: a looping two-tone siren made with Web Audio oscillators (no audio file
 * to load or cache). Browsers start an AudioContext suspended until the page has been clicked or
 * typed into, so the operator arms the sound once per shift; the choice is remembered for the
 * browser session, and a remembered arming resumes the context at the first click or key press.
 */
import { readonly, ref } from 'vue';

/** sessionStorage key: the operator armed the sound in this browser session. */
const ARMED_KEY = 'gridline.alarmSound';
/** One siren cycle: two tones, then a short silence, s. */
const CYCLE_S = 1.2;

export type SirenState = 'off' | 'suspended' | 'running';

const state = ref<SirenState>('off');
const sounding = ref(false);
let ctx: AudioContext | null = null;
let loop: ReturnType<typeof setInterval> | null = null;
let gestureListener: (() => void) | null = null;

function audioContextClass(): typeof AudioContext | undefined {
  return window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
}

function track(): void {
  state.value = !ctx ? 'off' : ctx.state === 'running' ? 'running' : 'suspended';
  if (state.value === 'running' && sounding.value) startLoop();
}

function ensureContext(): AudioContext | null {
  if (ctx) return ctx;
  const Ctor = audioContextClass();
  if (!Ctor) return null;
  ctx = new Ctor();
  ctx.onstatechange = track;
  track();
  return ctx;
}

/** One siren cycle scheduled from `at`: 960 Hz then 770 Hz, square-ish, with soft edges. */
function cycle(audio: AudioContext, at: number): void {
  for (const [i, freq] of [960, 770].entries()) {
    const start = at + i * 0.45;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.setValueAtTime(freq, start);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.setValueAtTime(0.25, start + 0.38);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.42);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.44);
  }
}

function startLoop(): void {
  if (loop || !ctx) return;
  const audio = ctx;
  cycle(audio, audio.currentTime + 0.05);
  loop = setInterval(() => {
    if (audio.state === 'running') cycle(audio, audio.currentTime + 0.05);
  }, CYCLE_S * 1000);
}

/**
 * Arms the sound. Must run inside a click or key handler: that is what lets the browser start
 * audio. A short chirp confirms it works. Resolves to whether audio now runs.
 */
export async function armSiren(): Promise<boolean> {
  const audio = ensureContext();
  if (!audio) return false;
  try {
    await audio.resume();
  } catch {
    // Refused: stays suspended, the hint stays up.
  }
  track();
  if (audio.state !== 'running') return false;
  sessionStorage.setItem(ARMED_KEY, '1');
  if (sounding.value) startLoop();
  else {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.12);
  }
  return true;
}

/**
 * Restores an arming made earlier in this browser session: the context is created at once (it
 * runs if the browser allows) and otherwise resumes at the first click or key press anywhere.
 */
export function restoreSiren(): void {
  if (sessionStorage.getItem(ARMED_KEY) !== '1' || gestureListener) return;
  const audio = ensureContext();
  if (!audio) return;
  void audio.resume().catch(() => undefined);
  gestureListener = () => void armSiren();
  document.addEventListener('pointerdown', gestureListener, { once: true, capture: true });
  document.addEventListener('keydown', gestureListener, { once: true, capture: true });
}

/** Starts the looping siren (it sounds once the context runs). */
export function startSiren(): void {
  sounding.value = true;
  if (ctx?.state === 'running') startLoop();
}

export function stopSiren(): void {
  sounding.value = false;
  if (loop) clearInterval(loop);
  loop = null;
}

/** Whether audio can sound now ('running'), waits for a click ('suspended'), or was never armed ('off'). */
export const sirenState = readonly(state);
/** Whether the siren is asked to loop (an alarm waits for acknowledgement). */
export const sirenSounding = readonly(sounding);
