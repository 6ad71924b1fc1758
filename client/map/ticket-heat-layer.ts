/**
 * The ticket heatmap: deck.gl's HeatmapLayer (GPU aggregation) over the server's ~50 m cells. Its
 * part of @deck.gl/aggregation-layers costs the deck chunk about 7 kB gzipped: no reason to split
 * it off (a separate chunk group would drag deck.gl's core along with it).
 */
import { HeatmapLayer } from '@deck.gl/aggregation-layers';
import { HEAT_COLORS } from './colors';
import type { HeatData } from './ticket-layers';

export const TICKET_HEAT_LAYER_ID = 'ticket-heat';

const COLOR_RANGE = HEAT_COLORS.map((c) => [...c]) as [number, number, number, number][];

/**
 * One layer per data set and scale: the caller keeps the instance while neither changes, so worker
 * updates (several a second) never make it re-aggregate.
 */
export function ticketHeatLayer(data: HeatData, scale: number, beforeId: string | undefined): HeatmapLayer {
  return new HeatmapLayer({
    id: TICKET_HEAT_LAYER_ID,
    data: { length: data.length, attributes: data.attributes },
    // Screen pixels: about half a kilometre at district zoom, and the same look on a 4K wall.
    radiusPixels: Math.min(100, 30 * scale),
    // Colours are relative to the densest spot in view, and the old town's tiny grids are many
    // times denser than the suburbs: lifting the intensity saturates the top so the rest of the
    // district still shows its own differences instead of a uniform faint wash.
    intensity: 2.2,
    // Below 5 % of the top the colour fades out, so a lone ticket does not tint a whole village.
    threshold: 0.05,
    colorRange: COLOR_RANGE,
    aggregation: 'SUM',
    opacity: 0.85,
    // Re-aggregate soon after a zoom ends (the default waits half a second).
    debounceTimeout: 150,
    pickable: false,
    ...(beforeId ? { beforeId } : {}),
  });
}
