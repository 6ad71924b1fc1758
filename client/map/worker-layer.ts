/** The deck.gl layer that draws workers, straight from the workers store's typed arrays. */
import { ScatterplotLayer } from '@deck.gl/layers';
import type { LiveWorkers } from '@client/stores/workers';
import { LABEL_LAYERS } from './style';

export const WORKER_LAYER_ID = 'workers';

/**
 * A new layer (and a new binary-data wrapper) per update: deck.gl compares the wrappers by
 * identity to decide what to upload, while the arrays inside are the store's, reused.
 */
export function workerLayer(live: LiveWorkers, scale: number, interleaved: boolean, highlightIndex: number): ScatterplotLayer {
  return new ScatterplotLayer({
    id: WORKER_LAYER_ID,
    data: {
      length: live.n,
      attributes: {
        getPosition: { value: live.lonLat, size: 2 },
        // Bytes 0–255 meaning 0–1, as deck.gl's colour attributes expect.
        getFillColor: { value: live.colors, size: 4, normalized: true },
      },
    },
    // About a person's reach on the ground, clamped on screen: small dots when the whole district
    // is in view (thousands overlap in the old town), bigger ones as the operator zooms in.
    radiusUnits: 'meters',
    getRadius: 18,
    radiusMinPixels: 2.6 * scale,
    radiusMaxPixels: 7 * scale,
    stroked: true,
    lineWidthUnits: 'pixels',
    getLineWidth: 0.8 * scale,
    lineWidthMinPixels: 0.5,
    getLineColor: [3, 10, 22, 220],
    pickable: true,
    // Controlled, not autoHighlight: the ring follows the hover card, and goes when it goes.
    highlightedObjectIndex: highlightIndex,
    highlightColor: [255, 255, 255, 230],
    // Under the labels, so street and community names stay readable over dense crowds.
    ...(interleaved ? { beforeId: LABEL_LAYERS[0] } : {}),
    parameters: { depthCompare: 'always' },
  });
}
