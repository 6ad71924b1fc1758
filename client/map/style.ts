/**
 * The map's style, built in code so it can be fully offline: no `glyphs` (maplibre then draws
 * labels with the system's CJK font), no `sprite`, and tiles only from our own server. A raster
 * basemap goes underneath only when the deployment configures one.
 */
import type { MapOptions } from 'maplibre-gl';

export type StyleSpecification = Exclude<MapOptions['style'], string | undefined>;
type Layer = StyleSpecification['layers'][number];

/** Read as a CSS font list: the first one installed wins (Noto on Linux walls, YaHei on Windows). */
export const LABEL_FONT = ['Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC'];

export const TILE_SOURCE = 'territory';
/** Label layers: worker dots are drawn under the first of these so names stay readable. */
export const LABEL_LAYERS = ['label-grid', 'label-community', 'label-street'] as const;

export interface StyleOptions {
  /** Absolute URL template of our vector tiles. */
  tilesUrl: string;
  basemapUrl: string | null;
  /** Wall scale (1 at 1920×1080): text and lines grow with the screen so they read across a room. */
  scale: number;
}

/** Sizes of label text at a scale, by layer; also used to rescale a live map. */
export function labelSizes(scale: number): Record<(typeof LABEL_LAYERS)[number], unknown> {
  return {
    'label-street': ['interpolate', ['linear'], ['zoom'], 9, 15 * scale, 13, 20 * scale, 16, 24 * scale],
    'label-community': ['interpolate', ['linear'], ['zoom'], 12, 12.5 * scale, 15, 16 * scale],
    'label-grid': ['interpolate', ['linear'], ['zoom'], 14, 11 * scale, 17, 14 * scale],
  };
}

/**
 * Zoom at which the community and grid labels appear, at a scale. A wall twice as wide fits the
 * district one zoom level deeper with text twice as large: shifted by log₂(scale), the names appear
 * at the same density on every wall, so the fitted district view (the old town's dozens of small
 * communities in the west included) shows the streets' names alone, and zooming in brings the rest.
 */
export function labelMinZooms(scale: number): Record<'label-community' | 'label-grid', number> {
  const shift = Math.log2(Math.max(1, scale));
  return { 'label-community': 12 + shift, 'label-grid': 14 + shift };
}

export function buildMapStyle({ tilesUrl, basemapUrl, scale }: StyleOptions): StyleSpecification {
  const sizes = labelSizes(scale);
  const minZooms = labelMinZooms(scale);
  const line = (width: number) => width * scale;
  const layers: Layer[] = [{ id: 'background', type: 'background', paint: { 'background-color': '#050d1a' } }];
  const sources: StyleSpecification['sources'] = {
    [TILE_SOURCE]: { type: 'vector', tiles: [tilesUrl], minzoom: 0, maxzoom: 16 },
  };

  if (basemapUrl) {
    sources.basemap = { type: 'raster', tiles: [basemapUrl], tileSize: 256, maxzoom: 18 };
    // Darkened and desaturated: the basemap is context, the territory and the workers are the data.
    layers.push({
      id: 'basemap',
      type: 'raster',
      source: 'basemap',
      paint: { 'raster-brightness-max': 0.42, 'raster-saturation': -0.65, 'raster-contrast': 0.1, 'raster-opacity': 0.9 },
    });
  }

  const fillOpacity = basemapUrl ? 0.35 : 1;
  layers.push(
    {
      id: 'district-fill',
      type: 'fill',
      source: TILE_SOURCE,
      'source-layer': 'district',
      paint: { 'fill-color': '#0a1a30', 'fill-opacity': fillOpacity },
    },
    {
      // Neighbouring streets alternate between two close tones so their shapes read without lines.
      id: 'street-fill',
      type: 'fill',
      source: TILE_SOURCE,
      'source-layer': 'street',
      paint: {
        'fill-color': ['case', ['==', ['%', ['to-number', ['slice', ['get', 'code'], 7], 0], 2], 0], '#0d2240', '#0b1d37'],
        'fill-opacity': fillOpacity,
      },
    },
    {
      id: 'micro-grid-line',
      type: 'line',
      source: TILE_SOURCE,
      'source-layer': 'micro_grid',
      minzoom: 15,
      paint: { 'line-color': '#1d3f63', 'line-width': line(0.6), 'line-dasharray': [2, 2] },
    },
    {
      id: 'grid-line',
      type: 'line',
      source: TILE_SOURCE,
      'source-layer': 'grid',
      minzoom: 12,
      paint: {
        'line-color': '#1f4f7d',
        'line-width': ['interpolate', ['linear'], ['zoom'], 12, line(0.5), 16, line(1.2)],
        'line-opacity': ['interpolate', ['linear'], ['zoom'], 12, 0.55, 14, 0.9],
      },
    },
    {
      id: 'community-line',
      type: 'line',
      source: TILE_SOURCE,
      'source-layer': 'community',
      minzoom: 11,
      paint: {
        'line-color': '#2f6fa6',
        'line-width': ['interpolate', ['linear'], ['zoom'], 11, line(0.8), 16, line(2)],
      },
    },
    {
      id: 'street-line',
      type: 'line',
      source: TILE_SOURCE,
      'source-layer': 'street',
      paint: {
        'line-color': '#4aa3df',
        'line-width': ['interpolate', ['linear'], ['zoom'], 9, line(1.2), 16, line(3)],
      },
    },
    {
      // A soft glow under the district edge marks the jurisdiction's limit, as wall maps do.
      id: 'district-glow',
      type: 'line',
      source: TILE_SOURCE,
      'source-layer': 'district',
      paint: { 'line-color': '#38bdf8', 'line-width': line(9), 'line-blur': line(7), 'line-opacity': 0.45 },
    },
    {
      id: 'district-line',
      type: 'line',
      source: TILE_SOURCE,
      'source-layer': 'district',
      paint: { 'line-color': '#7dd3fc', 'line-width': line(2.2) },
    },
    {
      id: 'label-grid',
      type: 'symbol',
      source: TILE_SOURCE,
      'source-layer': 'labels',
      minzoom: minZooms['label-grid'],
      filter: ['==', ['get', 'level'], 'grid'],
      layout: { 'text-field': ['get', 'name'], 'text-font': LABEL_FONT, 'text-size': sizes['label-grid'] as number, 'text-padding': 4 },
      paint: { 'text-color': '#8fb3d9', 'text-halo-color': '#050d1a', 'text-halo-width': 1.5 * scale },
    },
    {
      id: 'label-community',
      type: 'symbol',
      source: TILE_SOURCE,
      'source-layer': 'labels',
      minzoom: minZooms['label-community'],
      filter: ['==', ['get', 'level'], 'community'],
      layout: { 'text-field': ['get', 'name'], 'text-font': LABEL_FONT, 'text-size': sizes['label-community'] as number, 'text-padding': 6 },
      paint: { 'text-color': '#bcd7f5', 'text-halo-color': '#050d1a', 'text-halo-width': 1.6 * scale },
    },
    {
      id: 'label-street',
      type: 'symbol',
      source: TILE_SOURCE,
      'source-layer': 'labels',
      minzoom: 9,
      filter: ['==', ['get', 'level'], 'street'],
      layout: {
        'text-field': ['get', 'name'],
        'text-font': LABEL_FONT,
        'text-size': sizes['label-street'] as number,
        'text-letter-spacing': 0.12,
        'text-padding': 2,
        // The old-town streets are small at district zoom: let names move off-centre to fit, in any
        // direction, so each of them finds a place beside its neighbours'.
        'text-variable-anchor': ['center', 'top', 'bottom', 'left', 'right', 'top-left', 'top-right', 'bottom-left', 'bottom-right'],
        'text-radial-offset': 0.6,
      },
      paint: { 'text-color': '#e8f3ff', 'text-halo-color': '#03101f', 'text-halo-width': 2.2 * scale },
    },
  );
  return { version: 8, name: 'gridline-dark', sources, layers };
}
