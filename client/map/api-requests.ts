/**
 * The requests maplibre makes itself (vector tiles of the territory): they carry the session's
 * token like every other API call, and a 401 on one signs the user out like any other.
 */
import type { Map as MapLibreMap, MapOptions } from 'maplibre-gl';
import { currentToken, reportUnauthorized } from '@client/api';

/** Adds the bearer token to requests for our own API, and to nothing else (a basemap elsewhere). */
export const apiTransformRequest: NonNullable<MapOptions['transformRequest']> = (url) => {
  const token = currentToken();
  if (token && url.startsWith(`${window.location.origin}/api/`)) return { url, headers: { Authorization: `Bearer ${token}` } };
  return { url };
};

/** Signs out when the server refuses one of the map's requests with 401 (expired or revoked token). */
export function signOutOnUnauthorized(map: MapLibreMap): void {
  map.on('error', (event) => {
    const error = event.error as (Error & { status?: number; url?: string }) | undefined;
    if (error?.status === 401) reportUnauthorized(error.url ?? 'a map request');
  });
}
