/**
 * The emergency layout's map layers (deck.gl): the area outlined in red with a faint fill, each
 * grid's call-up as a dot at its interior point (red and larger when nobody has reported in yet,
 * amber while some have, green when all called have), and the resources nearest the clicked point.
 */
import type { Layer } from '@deck.gl/core';
import { GeoJsonLayer, ScatterplotLayer, TextLayer } from '@deck.gl/layers';
import type { EmergencyGridRow, Resource } from '@shared/emergencies-api';
import type { LiveEmergency } from '@client/stores/emergencies';

export const EMERGENCY_AREA_LAYER_ID = 'emergency-area';

const RED: [number, number, number, number] = [255, 59, 48, 255];
const AMBER: [number, number, number, number] = [251, 191, 36, 255];
const GREEN: [number, number, number, number] = [74, 222, 128, 255];
const RESOURCE_COLORS: Record<Resource['kind'], [number, number, number, number]> = {
  shelter: [56, 189, 248, 255],
  supply_point: [167, 139, 250, 255],
  team: [244, 114, 182, 255],
};

export function gridColor(g: EmergencyGridRow): [number, number, number, number] {
  if (g.reportedIn === 0) return RED;
  return g.reportedIn >= g.called ? GREEN : AMBER;
}

export function emergencyLayers(e: LiveEmergency, nearest: { lon: number; lat: number; items: Resource[] } | null, scale: number): Layer[] {
  const grids = [...e.grids.values()];
  const layers: Layer[] = [
    new GeoJsonLayer({
      id: EMERGENCY_AREA_LAYER_ID,
      data: { type: 'Feature', geometry: e.summary.area, properties: {} } as never,
      stroked: true,
      filled: true,
      getFillColor: [255, 59, 48, 28],
      getLineColor: [255, 59, 48, 230],
      lineWidthUnits: 'pixels',
      getLineWidth: 3 * scale,
      pickable: false,
    }),
    new ScatterplotLayer<EmergencyGridRow>({
      id: 'emergency-grids',
      data: grids,
      getPosition: (g) => [g.lon, g.lat],
      getRadius: (g) => (g.reportedIn === 0 ? 5 : 3.5) * scale,
      radiusUnits: 'pixels',
      stroked: true,
      filled: true,
      getFillColor: (g) => { const c = gridColor(g); return [c[0], c[1], c[2], g.reportedIn === 0 ? 90 : 200]; },
      getLineColor: (g) => gridColor(g),
      lineWidthUnits: 'pixels',
      getLineWidth: 1.5 * scale,
      updateTriggers: { getRadius: [grids, scale], getFillColor: grids, getLineColor: grids },
    }),
  ];
  if (nearest) {
    layers.push(
      new ScatterplotLayer({
        id: 'emergency-click',
        data: [nearest],
        getPosition: (p: { lon: number; lat: number }) => [p.lon, p.lat],
        getRadius: 6 * scale,
        radiusUnits: 'pixels',
        stroked: true,
        filled: false,
        getLineColor: [255, 255, 255, 230],
        lineWidthUnits: 'pixels',
        getLineWidth: 2 * scale,
      }),
      new ScatterplotLayer<Resource>({
        id: 'emergency-resources',
        data: nearest.items,
        getPosition: (r) => [r.lon, r.lat],
        getRadius: 7 * scale,
        radiusUnits: 'pixels',
        getFillColor: (r) => RESOURCE_COLORS[r.kind],
        stroked: true,
        getLineColor: [5, 13, 26, 255],
        lineWidthUnits: 'pixels',
        getLineWidth: 1.5 * scale,
      }),
      new TextLayer<Resource>({
        id: 'emergency-resource-names',
        data: nearest.items,
        getPosition: (r) => [r.lon, r.lat],
        getText: (r) => r.name,
        getSize: 13 * scale,
        getColor: [230, 240, 255, 255],
        getPixelOffset: [0, -14 * scale],
        characterSet: 'auto',
        fontFamily: '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif',
        outlineWidth: 2,
        outlineColor: [5, 13, 26, 255],
        fontSettings: { sdf: true },
      }),
    );
  }
  return layers;
}
