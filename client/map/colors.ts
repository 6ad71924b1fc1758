/**
 * One palette for the map dots and the panels' legends, so a colour means the same role everywhere
 * on the wall. Chosen to stay distinct on a dark background and for red–green colour blindness
 * (hue and lightness both differ); grey is reserved for "offline", red for alarms.
 */
import type { WorkerRole } from '@shared/domain';

export type Rgba = readonly [number, number, number, number];

export const ROLE_COLORS: Record<WorkerRole, Rgba> = {
  grid_leader: [250, 204, 21, 255],
  full_time: [34, 211, 238, 255],
  part_time: [129, 140, 248, 255],
  auxiliary: [74, 222, 128, 255],
  party_member: [251, 146, 60, 255],
};

/** A worker the dashboard has no roster entry for yet (just added on the server). */
export const UNKNOWN_COLOR: Rgba = [226, 232, 240, 255];
export const OFFLINE_COLOR: Rgba = [100, 116, 139, 150];
export const ALARM_COLOR: Rgba = [255, 45, 85, 255];

/** Cameras (视频监控) by status: blue online, amber unknown, grey offline (as every offline thing on the map). */
export const CAMERA_COLORS: Record<'online' | 'offline' | 'unknown', Rgba> = {
  online: [64, 196, 255, 255],
  unknown: [230, 170, 60, 255],
  offline: [128, 136, 148, 255],
};

export function cssColor([r, g, b, a]: Rgba): string {
  return `rgba(${r}, ${g}, ${b}, ${(a / 255).toFixed(2)})`;
}

/**
 * Ticket markers, by deadline alert: red once past a deadline, amber from 80 % of one, and a pale
 * ring for an immediate (立刻办理) ticket still in time. Rings, never filled dots, so a ticket never
 * reads as a worker.
 */
export const TICKET_ALERT_COLORS: Record<'ok' | 'amber' | 'red', Rgba> = {
  ok: [236, 244, 255, 255],
  amber: [255, 176, 32, 255],
  red: [255, 45, 85, 255],
};

/**
 * The ticket heatmap's ramp, low to high: violet to magenta to orange. Warm against the blue map,
 * translucent at the low end so the territory shows through, and darker than the worker dots so
 * they stay on top to the eye.
 */
export const HEAT_COLORS: Rgba[] = [
  [96, 30, 150, 150],
  [160, 36, 168, 200],
  [222, 48, 120, 215],
  [248, 104, 64, 230],
  [255, 170, 70, 240],
  [255, 226, 150, 250],
];
