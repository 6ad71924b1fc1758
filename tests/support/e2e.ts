import type { Locator, Page } from 'playwright-core';
import { describe } from 'vitest';
import { TEST_DEMO_PASSWORD } from './template';

/**
 * Whether this run repeats the browser tests at 3840×2160. CI runs `npm test` twice, on the
 * PostgreSQL server (DATABASE_URL set) and on the embedded engine; how a page draws at 4K does not
 * depend on the database, so the 4K passes run once, in the embedded run (the default `npm test`,
 * what a developer runs), and the server run checks 1920×1080 only — shown as skipped there.
 * `E2E_4K=1` runs them on a server run too.
 */
export const WALL_4K = !process.env.DATABASE_URL || process.env.E2E_4K === '1';

/** `describe`, or `describe.skip` for a size this run leaves out (see WALL_4K). */
export function describeAtSize(width: number): (name: string, body: () => void) => void {
  return width > 1920 && !WALL_4K ? (name, body) => describe.skip(name, body) : (name, body) => describe(name, body);
}

/**
 * Polls `probe` until `ok` accepts its value (a probe that throws counts as not yet), then returns
 * the value; fails with what was last seen. The browser tests' one way to wait for the UI.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (ok(value)) return value;
      last = value;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Signs in through the real login page. */
export async function signIn(page: Page, base: string, username: string, password = TEST_DEMO_PASSWORD): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

/**
 * Draws a polygon on an area-drawing map (client/components/AreaDrawMap.vue: the notice composer,
 * the emergency dialog): zooms in with the wheel around `centre` until the first edge spans 60 px
 * (a district fits the map at some 30 m a pixel), clicks corner by corner, then 闭合. Returns the
 * screen point of `centre` once the map has settled, for further clicks.
 */
export async function drawArea(page: Page, map: Locator, centre: { lon: number; lat: number }, corners: readonly [number, number][]): Promise<[number, number]> {
  await map.scrollIntoViewIfNeeded();
  const project = (lon: number, lat: number) =>
    map.evaluate((el, [x, y]) => (el as HTMLElement & { gridlineProject?: (a: number, b: number) => [number, number] | null }).gridlineProject?.(x!, y!) ?? null, [lon, lat]);
  const settled = async () => {
    let last: [number, number] | null = null;
    return waitFor('the drawing map to settle', async () => {
      const before = last;
      await new Promise((r) => setTimeout(r, 300));
      last = await project(centre.lon, centre.lat);
      return before && last && Math.hypot(before[0] - last[0], before[1] - last[1]) < 0.01 ? last : null;
    }, (p) => p !== null);
  };
  for (let i = 0; i < 12; i++) {
    const at = (await settled())!;
    const [a, b] = [(await project(...corners[0]!))!, (await project(...corners[1]!))!];
    if (Math.hypot(b[0] - a[0], b[1] - a[1]) >= 60) break;
    await page.mouse.move(Math.round(at[0]), Math.round(at[1]));
    await page.mouse.wheel(0, -300);
  }
  await settled();
  for (const [lon, lat] of corners) {
    const [x, y] = (await project(lon, lat))!;
    await page.mouse.click(Math.round(x), Math.round(y));
  }
  await waitFor('the corners', () => map.getAttribute('data-corners'), (v) => v === String(corners.length));
  await map.locator('xpath=..').getByTestId('notice-area-close').click();
  await waitFor('the area closed', () => map.getAttribute('data-closed'), (v) => v === 'true');
  return (await project(centre.lon, centre.lat))!;
}
