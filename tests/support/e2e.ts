import type { Page } from 'playwright-core';
import { TEST_DEMO_PASSWORD } from './template';

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
