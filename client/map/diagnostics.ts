/**
 * A window into the maps on the page, at `window.__gridline.maps` (read-only but for `showLayers`): what deck.gl drew and
 * which territory the tiles delivered. The end-to-end tests check the wall through it, and support
 * staff can use it from the browser console on a wall that "shows nothing".
 */
export interface MapDiagnostics {
  element: HTMLElement;
  /** Workers in the layer handed to deck.gl for drawing. */
  drawnWorkers(): number;
  /** A worker's drawn position, or null if it is not drawn. */
  workerLonLat(id: number): [number, number] | null;
  /** Where the worker is drawn, in page (CSS) pixels, or null if not drawn. */
  screenPoint(id: number): [number, number] | null;
  /** Picks (GPU picking, as a hover does) at the worker's drawn position: the id found there. */
  pickWorkerNear(id: number): number | null;
  /** Distinct region codes in the loaded vector tiles of one source layer. */
  territoryCodes(sourceLayer: string): string[];
  /** The style and every visible tile have loaded. */
  idle(): boolean;
  zoom(): number;
  /** What the map shows now, [west, south, east, north], or null before it exists. */
  viewBounds(): [number, number, number, number] | null;
  /**
   * When each part of the map was first on screen, ms since the page's navigation started (the GPU
   * finished that frame); absent until it has been.
   */
  firstFrames(): Partial<Record<FirstFramePart, number>>;
  /** How the map draws: its pixel ratio and the GPU's renderer (client/map/render-scale.ts). */
  render(): { pixelRatio: number; renderer: string; software: boolean; frames: number; liveRedrawMs: number };
  /** The style's layers in drawing order, deck.gl's interleaved groups included (`deck-maplibre-layer-group-…`). */
  layerOrder(): string[];
  /** Shows or hides the map's label layers and deck.gl's layers (workers, heat, tickets), for support and tests. */
  showLayers(what: { labels?: boolean; overlays?: boolean }): void;
  /**
   * The labels a symbol layer drew (after collision), one per name, at their anchors in page (CSS)
   * pixels. A label's placed text may sit off its anchor (variable anchors).
   */
  renderedLabels(layerId: string): { name: string; x: number; y: number }[];
  /** Names of the labels of one level ('street', 'community', 'grid') whose point lies in view, drawn or not. */
  labelsInView(level: string): string[];
  /**
   * The ticket heatmap: the response handed to the map (cells, tickets counted, window, class) and
   * whether its layer is among those deck.gl draws now (false while hidden or still loading).
   */
  heat(): HeatDiagnostics;
  /** Ticket markers in the layer handed to deck.gl, worst last. */
  ticketMarkers(): { id: number; number: string; alert: 'ok' | 'amber' | 'red' }[];
  /** Where a ticket's marker is drawn, in page (CSS) pixels, or null if it has none. */
  ticketScreenPoint(id: number): [number, number] | null;
  /** Picks (GPU picking, as a hover does) at the ticket's marker: the ticket id found there. */
  pickTicketNear(id: number): number | null;
}

/** The parts of a wall's first full frame: territory tiles, workers, ticket heat, ticket markers. */
export type FirstFramePart = 'tiles' | 'workers' | 'heat' | 'tickets';

export interface HeatDiagnostics {
  drawn: boolean;
  cells: number;
  /** Tickets the response counted. */
  total: number;
  window: string | null;
  category: string | null;
  /** Sum of the weights handed to the layer (equals total when every cell arrived). */
  weightSum: number;
}

declare global {
  interface Window {
    __gridline?: { maps: MapDiagnostics[] };
  }
}

/** Adds a map; returns its removal. */
export function registerMap(diagnostics: MapDiagnostics): () => void {
  const registry = (window.__gridline ??= { maps: [] });
  registry.maps.push(diagnostics);
  return () => {
    registry.maps = registry.maps.filter((m) => m !== diagnostics);
  };
}
