import { getCurrentScope, onScopeDispose, shallowRef, type Ref } from 'vue';

const now = shallowRef(Date.now());
let users = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

function tick(): void {
  now.value = Date.now();
  // Align to the wall-clock second so every clock on the wall flips together.
  timer = setTimeout(tick, 1000 - (now.value % 1000) + 5);
}

/**
 * The current time, ms, updated on every second boundary. One timer serves the whole page;
 * it stops when the last component or store using it goes away.
 */
export function useNow(): Readonly<Ref<number>> {
  if (users++ === 0) tick();
  if (getCurrentScope()) {
    onScopeDispose(() => {
      if (--users === 0) clearTimeout(timer);
    });
  }
  return now;
}
