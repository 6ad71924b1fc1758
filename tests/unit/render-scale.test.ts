/**
 * How many pixels the map draws and how often it draws live positions (client/map/render-scale.ts):
 * every device pixel and every change with a GPU; without one (SwiftShader, llvmpipe) at most a
 * 1080p frame's pixels and live positions once a second; the page's address overrides both.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { SOFTWARE_LIVE_REDRAW_MS, SOFTWARE_MAX_PIXELS, liveRedrawInterval, mapPixelRatio, type GlProbe } from '../../client/map/render-scale';

const gpu: GlProbe = { maxCanvas: [16384, 16384], renderer: 'ANGLE (NVIDIA GeForce RTX 3060)', software: false };
const cpu: GlProbe = { maxCanvas: [8192, 8192], renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (LLVM 10.0.0)))', software: true };

function page(search = '', devicePixelRatio = 1): void {
  vi.stubGlobal('window', { location: { search }, devicePixelRatio });
}
afterEach(() => vi.unstubAllGlobals());

describe('the map’s pixel ratio', () => {
  test('a GPU draws every device pixel, at any size', () => {
    page('', 2);
    expect(mapPixelRatio(3840, 2160, gpu)).toBe(2);
    page('', 1);
    expect(mapPixelRatio(7680, 2160, gpu)).toBe(1);
  });

  test('a software renderer draws at most a 1080p frame’s pixels', () => {
    page();
    expect(mapPixelRatio(1600, 900, cpu)).toBe(1);
    const r = mapPixelRatio(3840, 2160, cpu);
    expect(r).toBeCloseTo(0.5, 2);
    expect(3840 * r * 2160 * r).toBeLessThanOrEqual(SOFTWARE_MAX_PIXELS);
    const wide = mapPixelRatio(7680, 2160, cpu);
    expect(7680 * wide * 2160 * wide).toBeLessThanOrEqual(SOFTWARE_MAX_PIXELS);
    expect(7680 * wide * 2160 * wide).toBeGreaterThan(0.9 * SOFTWARE_MAX_PIXELS);
  });

  test('?pixelRatio= overrides it within 0.25–4; nonsense is ignored', () => {
    page('?pixelRatio=1');
    expect(mapPixelRatio(3840, 2160, cpu)).toBe(1);
    page('?pixelRatio=9');
    expect(mapPixelRatio(3840, 2160, cpu)).toBeCloseTo(0.5, 2);
  });
});

describe('how often live positions are drawn', () => {
  test('every change with a GPU, once a second without; ?liveRedrawMs= overrides', () => {
    page();
    expect(liveRedrawInterval(false)).toBe(0);
    expect(liveRedrawInterval(true)).toBe(SOFTWARE_LIVE_REDRAW_MS);
    page('?liveRedrawMs=0');
    expect(liveRedrawInterval(true)).toBe(0);
    page('?liveRedrawMs=-5');
    expect(liveRedrawInterval(true)).toBe(SOFTWARE_LIVE_REDRAW_MS);
  });
});
