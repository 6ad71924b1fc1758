/**
 * Alarms on the map: a pulsing marker per open alarm (a DOM marker animated by CSS, so the map does
 * not redraw every frame for it) and the focused worker's trail of the last 10 minutes as a line,
 * and the camera flying to the focused alarm. Plain maplibre objects, created with the map and
 * removed with it; nothing here is reactive.
 */
import { Marker, type GeoJSONSource, type Map as MapLibreMap } from 'maplibre-gl';
import type { AlarmStatus } from '@shared/alarms-api';

export interface AlarmPin {
  id: number;
  lon: number;
  lat: number;
  status: AlarmStatus;
  /** Shown beside the marker (the worker's name). */
  label: string;
}

export interface AlarmFocus {
  id: number;
  lon: number;
  lat: number;
  status: AlarmStatus;
  /** [lon, lat, ms] oldest first. */
  trail: readonly (readonly number[])[];
}

const TRAIL_SOURCE = 'alarm-trail';
const TRAIL_LAYER = 'alarm-trail-line';
const TRAIL_HALO = 'alarm-trail-halo';
/** Close enough to see the street the worker is in. */
const FOCUS_ZOOM = 16.5;

const STYLE_ID = 'gridline-alarm-marker-style';
const CSS = `
.alarm-marker { position: relative; width: 0; height: 0; pointer-events: none; }
.alarm-marker .dot { position: absolute; left: -0.7em; top: -0.7em; width: 1.4em; height: 1.4em; border-radius: 50%;
  background: #ff2d55; border: 0.2em solid #fff; box-shadow: 0 0 1em #ff2d55; }
.alarm-marker .ring { position: absolute; left: -0.7em; top: -0.7em; width: 1.4em; height: 1.4em; border-radius: 50%;
  border: 0.25em solid #ff2d55; animation: alarm-pulse 1.2s ease-out infinite; }
.alarm-marker .ring.late { animation-delay: 0.6s; }
.alarm-marker.acknowledged .dot { background: #f59e0b; box-shadow: 0 0 0.8em #f59e0b; }
.alarm-marker.acknowledged .ring { border-color: #f59e0b; animation-duration: 2.4s; }
.alarm-marker .label { position: absolute; left: 1.2em; top: -0.75em; white-space: nowrap; padding: 0.1em 0.4em;
  background: rgba(120, 0, 20, 0.85); color: #fff; border-radius: 0.2em; font-weight: 700; }
@keyframes alarm-pulse { from { transform: scale(1); opacity: 0.95; } to { transform: scale(5); opacity: 0; } }
@media (prefers-reduced-motion: reduce) { .alarm-marker .ring { animation-duration: 4s; } }
`;

function injectStyle(): void {
  if (document.getElementById(STYLE_ID)) return;
  const style = document.createElement('style');
  style.id = STYLE_ID;
  style.textContent = CSS;
  document.head.append(style);
}

function markerElement(): HTMLElement {
  const el = document.createElement('div');
  el.innerHTML = '<i class="ring"></i><i class="ring late"></i><i class="dot"></i><span class="label"></span>';
  return el;
}

/** The alarms drawn on one map. */
export class AlarmOverlay {
  private readonly markers = new Map<number, { marker: Marker; el: HTMLElement }>();
  private focusedKey: string | null = null;

  constructor(private readonly map: MapLibreMap) {
    injectStyle();
    map.addSource(TRAIL_SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({ id: TRAIL_HALO, type: 'line', source: TRAIL_SOURCE, paint: { 'line-color': '#ffffff', 'line-width': 7, 'line-opacity': 0.5 }, layout: { 'line-cap': 'round', 'line-join': 'round' } });
    map.addLayer({ id: TRAIL_LAYER, type: 'line', source: TRAIL_SOURCE, paint: { 'line-color': '#ff2d55', 'line-width': 4 }, layout: { 'line-cap': 'round', 'line-join': 'round' } });
  }

  /** Markers for the open alarms, the trail of the focused one; the camera flies to it when the focus changes. */
  update(pins: readonly AlarmPin[], focus: AlarmFocus | null, fontPx: number): void {
    const keep = new Set(pins.map((p) => p.id));
    for (const [id, m] of this.markers) {
      if (!keep.has(id)) {
        m.marker.remove();
        this.markers.delete(id);
      }
    }
    for (const pin of pins) {
      let m = this.markers.get(pin.id);
      if (!m) {
        const el = markerElement();
        m = { el, marker: new Marker({ element: el }).setLngLat([pin.lon, pin.lat]).addTo(this.map) };
        this.markers.set(pin.id, m);
      }
      m.marker.setLngLat([pin.lon, pin.lat]);
      m.el.className = `alarm-marker ${pin.status}`;
      m.el.style.fontSize = `${fontPx}px`;
      m.el.dataset.alarmId = String(pin.id);
      m.el.dataset.testid = 'alarm-marker';
      m.el.querySelector('.label')!.textContent = pin.label;
    }

    const coordinates = focus ? focus.trail.map((p) => [p[0]!, p[1]!]) : [];
    if (focus && coordinates.length > 0) coordinates.push([focus.lon, focus.lat]);
    (this.map.getSource(TRAIL_SOURCE) as GeoJSONSource | undefined)?.setData({
      type: 'FeatureCollection',
      features: coordinates.length >= 2 ? [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates } }] : [],
    });

    // Fly when the focus is a new alarm or the worker moved (a repeat carries the newest position).
    const key = focus ? `${focus.id}:${focus.lon.toFixed(5)}:${focus.lat.toFixed(5)}` : null;
    if (focus && key !== this.focusedKey) {
      this.map.flyTo({ center: [focus.lon, focus.lat], zoom: Math.max(this.map.getZoom(), FOCUS_ZOOM), speed: 1.6, essential: true });
    }
    this.focusedKey = key;
  }

  /** The markers drawn now (tests and diagnostics). */
  drawn(): number[] {
    return [...this.markers.keys()];
  }

  remove(): void {
    for (const m of this.markers.values()) m.marker.remove();
    this.markers.clear();
  }
}
