import { TripsLayer } from '@deck.gl/geo-layers';
import { GeoJsonLayer, PathLayer, ScatterplotLayer } from '@deck.gl/layers';
import type { Layer } from '@deck.gl/core';
import type { Feature, FeatureCollection } from 'geojson';
import type { TrackCollection, TrackEvent } from '@shared/tracks-api';

/** One continuous stretch of one worker's track, times relative to the replay's start (s) so float32 keeps them exact. */
export interface ReplayPath {
  workerId: number;
  path: [number, number][];
  timestamps: number[];
  color: [number, number, number];
}

const PALETTE: [number, number, number][] = [
  [64, 196, 255], [255, 183, 77], [129, 199, 132], [240, 98, 146], [186, 104, 200], [255, 241, 118], [77, 208, 225], [255, 138, 101],
];

export const workerColor = (index: number): [number, number, number] => PALETTE[index % PALETTE.length]!;

/** The tracks' segments as TripsLayer paths, times in seconds after `origin` (ms). */
export function replayPaths(tracks: readonly TrackCollection[], origin: number): ReplayPath[] {
  return tracks.flatMap((fc, i) => fc.features.map((f) => ({
    workerId: f.properties.workerId,
    path: f.geometry.coordinates.map((c) => [c[0]!, c[1]!] as [number, number]),
    timestamps: f.properties.timestamps.map((t) => (t - origin) / 1000),
    color: workerColor(i),
  })));
}

/**
 * The replay's layers: each whole route drawn faint (so a paused or finished replay still shows where
 * the worker went), trails fading behind each worker over `trailS` seconds of replay time, the
 * workers' current heads, and their tickets' moments appearing when the replay passes them.
 */
export function replayLayers(opts: {
  paths: readonly ReplayPath[];
  heads: readonly { position: [number, number]; color: [number, number, number] }[];
  events: readonly (TrackEvent & { s: number })[];
  currentS: number;
  trailS: number;
}): Layer[] {
  return [
    new PathLayer<ReplayPath>({
      id: 'replay-routes',
      data: opts.paths as ReplayPath[],
      getPath: (d) => d.path,
      getColor: (d) => [...d.color, 90] as [number, number, number, number],
      widthMinPixels: 2,
      capRounded: true,
      jointRounded: true,
    }),
    new TripsLayer<ReplayPath>({
      id: 'replay-trips',
      data: opts.paths as ReplayPath[],
      getPath: (d) => d.path,
      getTimestamps: (d) => d.timestamps,
      getColor: (d) => d.color,
      widthMinPixels: 4,
      capRounded: true,
      jointRounded: true,
      fadeTrail: true,
      trailLength: opts.trailS,
      currentTime: opts.currentS,
    }),
    new ScatterplotLayer({
      id: 'replay-heads',
      data: opts.heads as { position: [number, number]; color: [number, number, number] }[],
      getPosition: (d) => d.position,
      getFillColor: (d) => d.color,
      getLineColor: [255, 255, 255],
      stroked: true,
      lineWidthMinPixels: 2,
      radiusMinPixels: 7,
      updateTriggers: { getPosition: opts.currentS },
    }),
    new ScatterplotLayer<TrackEvent & { s: number }>({
      id: 'replay-events',
      data: opts.events.filter((e) => e.s <= opts.currentS),
      getPosition: (d) => [d.lon, d.lat],
      getFillColor: [255, 82, 82],
      getLineColor: [255, 255, 255],
      stroked: true,
      lineWidthMinPixels: 2,
      radiusMinPixels: 9,
      pickable: true,
    }),
  ];
}

/** Micro-grids shaded by how many worker-hours touched them today (white → green), unvisited ones outlined. */
export function coverageLayer(fc: FeatureCollection, visits: ReadonlyMap<string, number>): Layer {
  const max = Math.max(1, ...visits.values());
  return new GeoJsonLayer({
    id: 'replay-coverage',
    data: fc,
    filled: true,
    stroked: true,
    getFillColor: (f: Feature) => {
      const v = visits.get(String(f.properties?.code)) ?? 0;
      return v === 0 ? [255, 82, 82, 40] : [46, 204, 113, 70 + Math.round((160 * v) / max)];
    },
    getLineColor: [200, 220, 255, 90],
    lineWidthMinPixels: 1,
    updateTriggers: { getFillColor: visits },
  });
}

/** Where each path's worker is at `currentS` (interpolated between vertices), for the heads. */
export function headsAt(paths: readonly ReplayPath[], currentS: number): { position: [number, number]; color: [number, number, number] }[] {
  const heads = [];
  for (const p of paths) {
    const ts = p.timestamps;
    if (ts.length === 0 || currentS < ts[0]! || currentS > ts[ts.length - 1]!) continue;
    let lo = 0;
    let hi = ts.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (ts[mid]! <= currentS) lo = mid;
      else hi = mid;
    }
    const a = p.path[lo]!;
    const b = p.path[hi]!;
    const span = ts[hi]! - ts[lo]!;
    const u = span > 0 ? Math.min(1, Math.max(0, (currentS - ts[lo]!) / span)) : 0;
    heads.push({ position: [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u] as [number, number], color: p.color });
  }
  return heads;
}
