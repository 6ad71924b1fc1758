/**
 * The camera layer on the wall's and the desk's map: a dot per camera (offline greyed) and, for
 * cameras whose bearing and field of view are known, a cone 80 m long in that direction. The cone
 * is sized on the ground, so it only shows at close zoom (a few pixels at district zoom). Clicking
 * a camera opens it on the video wall.
 */
import { PolygonLayer, ScatterplotLayer } from '@deck.gl/layers';
import type { Layer, PickingInfo } from '@deck.gl/core';
import type { CameraFeature } from '@shared/cameras-api';
import { CAMERA_COLORS } from '@client/map/colors';

export const CAMERA_LAYER_ID = 'cameras';
const CONE_M = 80;

type Rgba = [number, number, number, number];
const color = (f: CameraFeature, alpha: number): Rgba => {
  const [r, g, b] = CAMERA_COLORS[f.properties.status];
  return [r, g, b, alpha];
};

/** A fan of points from the camera out to CONE_M metres, over its field of view. */
export function cone(f: CameraFeature): [number, number][] {
  const [lon, lat] = f.geometry.coordinates as [number, number];
  const bearing = f.properties.bearing ?? 0;
  const fov = Math.min(f.properties.fovDeg ?? 0, 359);
  const mPerDegLat = 111_320;
  const mPerDegLon = 111_320 * Math.cos((lat * Math.PI) / 180);
  const ring: [number, number][] = [[lon, lat]];
  const steps = Math.max(4, Math.ceil(fov / 10));
  for (let i = 0; i <= steps; i++) {
    const a = ((bearing - fov / 2 + (fov * i) / steps) * Math.PI) / 180;
    ring.push([lon + (Math.sin(a) * CONE_M) / mPerDegLon, lat + (Math.cos(a) * CONE_M) / mPerDegLat]);
  }
  ring.push([lon, lat]);
  return ring;
}

export function cameraLayers(cameras: readonly CameraFeature[], scale: number, onPick: (id: number) => void, beforeId?: string): Layer[] {
  const withCone = cameras.filter((f) => f.properties.bearing !== null && f.properties.fovDeg !== null);
  const click = (info: PickingInfo) => {
    const f = info.object as CameraFeature | undefined;
    if (f) onPick(f.id);
    return Boolean(f);
  };
  return [
    new PolygonLayer<CameraFeature>({
      id: `${CAMERA_LAYER_ID}-cones`,
      data: withCone,
      getPolygon: cone,
      getFillColor: (f) => color(f, 60),
      getLineColor: (f) => color(f, 160),
      getLineWidth: 1,
      lineWidthUnits: 'pixels',
      stroked: true,
      pickable: false,
      ...(beforeId ? { beforeId } : {}),
    }),
    new ScatterplotLayer<CameraFeature>({
      id: CAMERA_LAYER_ID,
      data: cameras as CameraFeature[],
      getPosition: (f) => f.geometry.coordinates as [number, number],
      getRadius: 4.5 * scale,
      radiusUnits: 'pixels',
      getFillColor: (f) => color(f, 235),
      getLineColor: [10, 16, 24, 255],
      getLineWidth: 1.5 * scale,
      lineWidthUnits: 'pixels',
      stroked: true,
      pickable: true,
      onClick: click,
      ...(beforeId ? { beforeId } : {}),
    }),
  ];
}
