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

type WeightsTransformShaders = Parameters<HeatmapLayer['_createWeightsTransform']>[0];
type ShaderInputs = { setProps(props: Record<string, Record<string, unknown> | undefined>): void };

/**
 * deck.gl 9.4's HeatmapLayer hands its weights texture to the weights pass among the `weight`
 * module's props (`weightsTexture`), but that pass renders *into* the texture and its shaders bind no
 * such sampler (`weightsTexture` there is a varying): luma.gl then logs "Binding weightsTexture not
 * set: Not found in shader layout" on every aggregation (each load, each zoom). The prop is dropped
 * before it reaches the pass; nothing else changes (the colour pass still samples the texture).
 */
class TicketHeatmapLayer extends HeatmapLayer {
  static override layerName = 'TicketHeatmapLayer';

  override _createWeightsTransform(shaders: WeightsTransformShaders): void {
    super._createWeightsTransform(shaders);
    const inputs = (this.state.weightsTransform as unknown as { model: { shaderInputs: ShaderInputs } } | undefined)?.model.shaderInputs;
    if (!inputs) return;
    const setProps = inputs.setProps.bind(inputs);
    inputs.setProps = (props) => {
      const weight = props.weight;
      if (weight && 'weightsTexture' in weight) {
        const { weightsTexture: _unbound, ...rest } = weight;
        setProps({ ...props, weight: rest });
      } else {
        setProps(props);
      }
    };
  }
}

/**
 * One layer per data set and scale: the caller keeps the instance while neither changes, so worker
 * updates (several a second) never make it re-aggregate.
 */
export function ticketHeatLayer(data: HeatData, scale: number, beforeId: string | undefined): HeatmapLayer {
  return new TicketHeatmapLayer({
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
    // The weights are blurred over radiusPixels anyway: a 512² texture (not deck's 2048²) draws
    // the same picture, and software GL (a wall PC without a GPU driver) fills and reduces 16×
    // fewer texels on every aggregation.
    weightsTextureSize: 512,
    // Re-aggregate soon after a zoom ends (the default waits half a second).
    debounceTimeout: 150,
    pickable: false,
    ...(beforeId ? { beforeId } : {}),
  });
}
