/**
 * Security headers (@fastify/helmet) and the Content-Security-Policy the dashboard runs under.
 * What each allowance is for:
 * - script-src 'self': the built app is module scripts from our origin, nothing inline, no eval.
 * - style-src 'unsafe-inline': Vue style bindings, maplibre's and ECharts' positioned elements.
 * - worker-src 'self' blob:: maplibre's worker, loaded from a Vite asset URL (or a blob).
 * - img-src data: blob: + the basemap's origin: ticket photos are shown as object URLs, and an
 *   optional raster basemap (BASEMAP_URL) is fetched from its own server.
 * - connect-src 'self' data: + the basemap's origin: the API, the socket (same origin), tiles; data:
 *   because images inlined as data URLs are decoded with fetch() (loaders.gl does, and so does the
 *   wall's end-to-end pixel comparison). A data: URL carries nothing out, so it opens no channel.
 * No `upgrade-insecure-requests`: deployments on a LAN serve plain HTTP by IP address, where
 * upgrading every request to https would break the whole dashboard.
 */
import type { FastifyHelmetOptions } from '@fastify/helmet';
import type { Config } from './config';

type Directives = Record<string, string[]>;

function basemapSources(url: string | null): string[] {
  if (!url) return [];
  const match = /^(https?):\/\/([^/?#]+)/i.exec(url);
  if (!match) return [];
  // Templates such as https://{s}.tile.example.org/… : the subdomain placeholder becomes a wildcard.
  const host = match[2]!.replace(/^\{[^}]*\}\./, '*.');
  if (/[{}]/.test(host)) return [];
  return [`${match[1]!.toLowerCase()}://${host}`];
}

/** The dashboard's and the API's policy. */
export function dashboardCsp(config: Pick<Config, 'basemapUrl'>): Directives {
  const basemap = basemapSources(config.basemapUrl);
  return {
    'default-src': ["'self'"],
    'base-uri': ["'self'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:', 'blob:', ...basemap],
    'font-src': ["'self'", 'data:'],
    'connect-src': ["'self'", 'data:', ...basemap],
    'worker-src': ["'self'", 'blob:'],
    // Camera views: hls.js plays through Media Source Extensions (a blob: URL on the <video>).
    'media-src': ["'self'", 'blob:'],
    'object-src': ["'none'"],
    'frame-ancestors': ["'self'"],
    'form-action': ["'self'"],
  };
}

/**
 * The API docs page (/docs): Swagger UI sets inline styles, draws its icons from data: URLs and
 * has its "Try it out" call the API; nothing else of the dashboard's allowances.
 */
export const DOCS_CSP: Directives = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'frame-ancestors': ["'self'"],
  'form-action': ["'self'"],
};

/** The header value of a policy. */
export function cspHeader(directives: Directives): string {
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}

/** Options for @fastify/helmet: every route, with the dashboard's policy. */
export function helmetOptions(config: Pick<Config, 'basemapUrl'>): FastifyHelmetOptions {
  return {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: dashboardCsp(config) },
    // The maps load nothing cross-origin that would send CORP headers; COEP stays off (helmet's default).
    crossOriginEmbedderPolicy: false,
  };
}
