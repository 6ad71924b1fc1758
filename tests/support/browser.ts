/**
 * A real browser for end-to-end tests: Debian's Chromium driven by playwright-core (no browser
 * downloads), WebGL on Mesa's llvmpipe through ANGLE, which draws deck.gl's instanced layers about
 * six times faster than SwiftShader. Each browser gets a fresh profile directory, removed on close.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const RESULTS_DIR = path.resolve('test-results');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebGL2 on llvmpipe (not SwiftShader: no --disable-gpu).
  '--use-gl=angle',
  '--use-angle=gl-egl',
  '--ignore-gpu-blocklist',
  // Background tabs must keep animating: a test page is never "visible".
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export interface TestBrowser {
  context: BrowserContext;
  /** Opens a new page at this viewport (CSS pixels, device scale factor 1). */
  open(width: number, height: number): Promise<Page>;
  /** Console errors and uncaught page errors seen on any page so far. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(options: { locale?: string; timezoneId?: string } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'gridline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    locale: options.locale ?? 'zh-CN',
    timezoneId: options.timezoneId ?? 'Asia/Shanghai',
    viewport: { width: 1920, height: 1080 },
  });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (msg: ConsoleMessage) => {
      // With the URL: "Failed to load resource" alone does not say which.
      if (msg.type() === 'error') errors.push(`${msg.text()} [${msg.location().url}]`);
    });
    page.on('pageerror', (error) => errors.push(`${error.name}: ${error.message}`));
  };
  context.on('page', watch);
  for (const page of context.pages()) watch(page);

  return {
    context,
    errors,
    async open(width, height) {
      // A persistent context starts with one blank page: use it first.
      const blank = context.pages().find((p) => p.url() === 'about:blank');
      const page = blank ?? (await context.newPage());
      await page.setViewportSize({ width, height });
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Clip {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Saves a PNG of the viewport (or of `clip`, in CSS pixels, to inspect a 4K page at native
 * resolution) as test-results/<name>.png and returns its path.
 */
export async function screenshot(page: Page, name: string, clip?: Clip): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide', ...(clip ? { clip } : {}) });
  return file;
}
