/**
 * The phone's ring for a new task offer: a two-note chime (Web Audio, nothing to download) and a
 * vibration, repeated until the offer is answered. Browsers keep audio silent until the page has
 * been touched, so the 上班 button arms it (armSound) — on duty, the ring can sound.
 */
import { readonly, ref } from 'vue';

let ctx: AudioContext | null = null;
let loop: ReturnType<typeof setInterval> | undefined;
const ringingRef = ref(false);
export const ringing = readonly(ringingRef);

function audioContextClass(): typeof AudioContext | undefined {
  return window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
}

/** Call from a click or touch: creates and resumes the audio context. */
export function armSound(): void {
  const Ctor = audioContextClass();
  if (!Ctor) return;
  ctx ??= new Ctor();
  void ctx.resume().catch(() => {});
}

function chime(): void {
  try {
    navigator.vibrate?.([400, 150, 400]);
  } catch {
    // Not every browser vibrates.
  }
  if (!ctx || ctx.state !== 'running') return;
  const at = ctx.currentTime + 0.02;
  for (const [i, freq] of [880, 1320].entries()) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const start = at + i * 0.28;
    osc.type = 'sine';
    osc.frequency.setValueAtTime(freq, start);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.5, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.26);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + 0.27);
  }
}

export function startRinging(): void {
  if (loop) return;
  ringingRef.value = true;
  chime();
  loop = setInterval(chime, 2_000);
}

export function stopRinging(): void {
  if (!loop) return;
  clearInterval(loop);
  loop = undefined;
  ringingRef.value = false;
  try {
    navigator.vibrate?.(0);
  } catch {
    // ignore
  }
}
