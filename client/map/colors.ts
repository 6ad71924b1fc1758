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

export function cssColor([r, g, b, a]: Rgba): string {
  return `rgba(${r}, ${g}, ${b}, ${(a / 255).toFixed(2)})`;
}
