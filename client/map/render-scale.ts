/**
 * How many pixels the map draws. A wall PC with a GPU draws every device pixel. One without (a
 * virtual machine, a remote desktop, a splicing controller's PC: the browser falls back to
 * SwiftShader or llvmpipe) rasterises on the CPU, where the cost grows with the pixels: at
 * 3840×2160 the territory's first frame took ~8 s of the wall's 11.5 s (docs/benchmarks.md).
 * There the map draws at most a 1920×1080 frame's pixels and the browser scales it up, as games
 * lower their render resolution on weak hardware; text stays legible (the wall's labels are
 * scaled with the screen). `?pixelRatio=<n>` on the page's address overrides it (0.25–4), for a
 * wall that prefers sharpness to speed and for the benchmark's comparison.
 */

/** Renderers that draw on the CPU. */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render/i;
/** The most pixels a software-rendered map draws per frame: one 1080p frame. */
export const SOFTWARE_MAX_PIXELS = 1920 * 1080;

export interface GlProbe {
  /** The largest canvas the GPU can draw, [width, height]. */
  maxCanvas: [number, number];
  /** The renderer's name as the browser reports it ('' when hidden). */
  renderer: string;
  software: boolean;
}

let probed: GlProbe | undefined;

/** Asks a throwaway WebGL2 context once per page what it can do. */
export function probeGl(): GlProbe {
  if (probed) return probed;
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return (probed = { maxCanvas: [4096, 4096], renderer: '', software: false });
  const viewport = gl.getParameter(gl.MAX_VIEWPORT_DIMS) as Int32Array;
  const size = Math.min(gl.getParameter(gl.MAX_TEXTURE_SIZE) as number, gl.getParameter(gl.MAX_RENDERBUFFER_SIZE) as number);
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return (probed = { maxCanvas: [Math.min(size, viewport[0]!), Math.min(size, viewport[1]!)], renderer, software: SOFTWARE_RENDERER.test(renderer) });
}

/** The `?pixelRatio=` override of the page's address, when valid. */
function overridden(): number | null {
  const raw = new URLSearchParams(window.location.search).get('pixelRatio');
  const n = raw === null ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0.25 && n <= 4 ? n : null;
}

/**
 * The pixel ratio for a map of this CSS size: the device's, or on a software renderer the ratio
 * that keeps the frame within SOFTWARE_MAX_PIXELS (rounded to 1/64 so small resizes keep it).
 */
export function mapPixelRatio(cssWidth: number, cssHeight: number, probe: GlProbe = probeGl()): number {
  const forced = overridden();
  if (forced !== null) return forced;
  const device = window.devicePixelRatio || 1;
  const pixels = cssWidth * cssHeight * device * device;
  if (!probe.software || pixels <= SOFTWARE_MAX_PIXELS || pixels === 0) return device;
  return Math.floor(device * Math.sqrt(SOFTWARE_MAX_PIXELS / pixels) * 64) / 64;
}

/** How often a software-rendered map draws live positions, ms (see WorkerMap's live redraw). */
export const SOFTWARE_LIVE_REDRAW_MS = 1000;

/** The least time between two draws of live positions: 0 (every change) with a GPU; `?liveRedrawMs=` overrides. */
export function liveRedrawInterval(software: boolean): number {
  const raw = new URLSearchParams(window.location.search).get('liveRedrawMs');
  const n = raw === null ? NaN : Number(raw);
  if (Number.isFinite(n) && n >= 0 && n <= 10_000) return Math.round(n);
  return software ? SOFTWARE_LIVE_REDRAW_MS : 0;
}
