/**
 * The wall's ticket markers (tickets needing attention) and the heatmap's binary data; the
 * HeatmapLayer itself is in ticket-heat-layer.ts.
 */
import { ScatterplotLayer } from '@deck.gl/layers';
import type { TicketHeat } from '@shared/tickets-api';
import type { AttentionMarker } from '@client/stores/ticket-wall';
import { TICKET_ALERT_COLORS } from './colors';

export const TICKET_LAYER_ID = 'ticket-markers';

/** The heatmap's input as deck.gl binary attributes, converted once per response. */
export interface HeatData {
  length: number;
  attributes: {
    getPosition: { value: Float32Array; size: 2 };
    getWeight: { value: Float32Array; size: 1 };
  };
  /** The response it came from (what diagnostics report). */
  source: TicketHeat;
}

export function heatData(heat: TicketHeat): HeatData {
  const n = Math.min(heat.lon.length, heat.lat.length, heat.weight.length);
  const positions = new Float32Array(2 * n);
  const weights = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    positions[2 * i] = heat.lon[i]!;
    positions[2 * i + 1] = heat.lat[i]!;
    weights[i] = heat.weight[i]!;
  }
  return {
    length: n,
    attributes: { getPosition: { value: positions, size: 2 }, getWeight: { value: weights, size: 1 } },
    source: heat,
  };
}

const position = (m: AttentionMarker): [number, number] => [m.ticket.location.lon, m.ticket.location.lat];
type Color = [number, number, number, number];
const color = (m: AttentionMarker, alpha?: number): Color => {
  const [r, g, b, a] = TICKET_ALERT_COLORS[m.alert];
  return [r, g, b, alpha ?? a];
};
const DARK_CENTRE: Color = [4, 10, 22, 215];

/** The amber and red markers of a marker list: kept per list, so its layer's data stays the same object between redraws. */
const urgentOf = new WeakMap<readonly AttentionMarker[], AttentionMarker[]>();

/**
 * Tickets needing attention as rings (not dots, so they never read as workers): a soft glow for
 * amber and red, a dark rim so the ring holds its edge on a bright heatmap, the coloured ring with a
 * dark centre, and a bright core. Red ones are the largest. Sized in pixels, so they stay visible at
 * district zoom, and drawn above the heat and the workers but under the map's labels (`beforeId`,
 * interleaved): street and community names keep priority over the rings, which they cross with a
 * dark halo. `focusId`: the hovered or pinned ticket, drawn with a heavier ring.
 */
export function ticketMarkerLayers(
  markers: readonly AttentionMarker[],
  scale: number,
  focusId: number | null,
  beforeId?: string,
): ScatterplotLayer<AttentionMarker>[] {
  let urgent = urgentOf.get(markers);
  if (!urgent) urgentOf.set(markers, (urgent = markers.filter((m) => m.alert !== 'ok')));
  const common = {
    radiusUnits: 'pixels',
    lineWidthUnits: 'pixels',
    getPosition: position,
    parameters: { depthCompare: 'always' },
    ...(beforeId ? { beforeId } : {}),
  } as const;
  const ring = (m: AttentionMarker) => (m.alert === 'red' ? 10.5 : 8.5) * scale;
  const width = (m: AttentionMarker) => (m.ticket.id === focusId ? 4.6 : 3) * scale;
  return [
    new ScatterplotLayer<AttentionMarker>({
      ...common,
      id: 'ticket-glow',
      data: urgent,
      getRadius: (m) => (m.alert === 'red' ? 21 : 16) * scale,
      getFillColor: (m) => color(m, m.alert === 'red' ? 85 : 60),
      updateTriggers: { getRadius: scale },
    }),
    new ScatterplotLayer<AttentionMarker>({
      ...common,
      id: 'ticket-rim',
      data: markers,
      getRadius: (m) => ring(m) + width(m) / 2 + 1.6 * scale,
      getFillColor: DARK_CENTRE,
      updateTriggers: { getRadius: [focusId, scale] },
    }),
    new ScatterplotLayer<AttentionMarker>({
      ...common,
      id: TICKET_LAYER_ID,
      data: markers,
      stroked: true,
      getRadius: ring,
      getFillColor: DARK_CENTRE,
      getLineColor: (m) => color(m),
      getLineWidth: width,
      pickable: true,
      updateTriggers: { getRadius: scale, getLineWidth: [focusId, scale] },
    }),
    new ScatterplotLayer<AttentionMarker>({
      ...common,
      id: 'ticket-core',
      data: markers,
      getRadius: (m) => (m.alert === 'red' ? 3.8 : 3.2) * scale,
      getFillColor: (m) => color(m),
      updateTriggers: { getRadius: scale },
    }),
  ];
}
