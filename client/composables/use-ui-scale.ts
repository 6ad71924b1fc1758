import { onScopeDispose, shallowRef, type Ref } from 'vue';

/** Root font size over the design's 16 px: 1 at 1920×1080, 2 at 3840×2160 (see wall.css). */
function read(): number {
  const px = parseFloat(getComputedStyle(document.documentElement).fontSize);
  return Number.isFinite(px) && px > 0 ? px / 16 : 1;
}

/**
 * The wall's scale factor, for things CSS cannot size: canvas charts, map labels, dot radii.
 * Follows window resizes (a wall controller switching resolution).
 */
export function useUiScale(): Readonly<Ref<number>> {
  const scale = shallowRef(read());
  const update = () => {
    const next = read();
    if (Math.abs(next - scale.value) > 0.01) scale.value = next;
  };
  window.addEventListener('resize', update);
  // The root size depends on which page is mounted (html:has(.wall)); settle after the DOM has.
  requestAnimationFrame(update);
  onScopeDispose(() => window.removeEventListener('resize', update));
  return scale;
}
