/**
 * The phone's position while on duty: `watchPosition` with high accuracy, thinned to what the
 * centre needs — about every 8 s while moving, every 60 s standing still — and never a fix less
 * accurate than APP_FIX_MAX_ACCURACY_M. Standing still, browsers may stop calling back, so the
 * tracker also asks for a fresh position every half minute.
 */
import { ref, shallowRef, type Ref } from 'vue';
import { haversineM } from '@shared/geo';
import {
  APP_FIX_MAX_ACCURACY_M,
  APP_MOVING_DISTANCE_M,
  APP_MOVING_SPEED,
  APP_REPORT_MOVING_MS,
  APP_REPORT_STILL_MS,
} from '@shared/field';

export interface PhoneFix {
  /** ms since epoch: when the phone took it. */
  time: number;
  lon: number;
  lat: number;
  accuracy: number;
  speed: number | null;
  heading: number | null;
}

/** off; locating (no usable fix yet); ok; inaccurate (fixes arrive but are too coarse); denied; unavailable. */
export type TrackerStatus = 'off' | 'locating' | 'ok' | 'inaccurate' | 'denied' | 'unavailable';

export interface Tracker {
  readonly status: Readonly<Ref<TrackerStatus>>;
  /** The newest usable fix, reported or not (for a report's or an SOS's position). */
  readonly last: Readonly<Ref<PhoneFix | null>>;
  start(): void;
  stop(): void;
}

const OPTIONS: PositionOptions = { enableHighAccuracy: true, maximumAge: 5_000, timeout: 30_000 };

/** `report` is called with each fix worth sending. */
export function createTracker(report: (fix: PhoneFix) => void): Tracker {
  const status = ref<TrackerStatus>('off');
  const last = shallowRef<PhoneFix | null>(null);
  let watchId: number | null = null;
  let poll: ReturnType<typeof setInterval> | undefined;
  let reported: PhoneFix | null = null;

  function consider(position: GeolocationPosition): void {
    if (watchId === null) return;
    const c = position.coords;
    if (!Number.isFinite(c.latitude) || !Number.isFinite(c.longitude)) return;
    if (!(c.accuracy <= APP_FIX_MAX_ACCURACY_M)) {
      if (status.value !== 'ok') status.value = 'inaccurate';
      return;
    }
    const fix: PhoneFix = {
      time: Math.round(position.timestamp || Date.now()),
      lon: c.longitude,
      lat: c.latitude,
      accuracy: c.accuracy,
      speed: c.speed != null && Number.isFinite(c.speed) && c.speed >= 0 ? c.speed : null,
      heading: c.heading != null && Number.isFinite(c.heading) && c.heading >= 0 && c.heading <= 360 ? c.heading : null,
    };
    last.value = fix;
    status.value = 'ok';
    if (reported && fix.time <= reported.time) return;
    const since = reported ? fix.time - reported.time : Infinity;
    const moved = reported ? haversineM(reported.lon, reported.lat, fix.lon, fix.lat) : Infinity;
    const moving = (fix.speed ?? 0) >= APP_MOVING_SPEED || moved >= APP_MOVING_DISTANCE_M;
    if (since >= APP_REPORT_STILL_MS || (moving && since >= APP_REPORT_MOVING_MS)) {
      reported = fix;
      report(fix);
    }
  }

  function failed(error: GeolocationPositionError): void {
    if (watchId === null) return;
    if (error.code === error.PERMISSION_DENIED) status.value = 'denied';
    else if (status.value !== 'ok') status.value = error.code === error.TIMEOUT ? 'locating' : 'unavailable';
  }

  return {
    status,
    last,
    start() {
      if (watchId !== null) return;
      if (!('geolocation' in navigator)) {
        status.value = 'unavailable';
        return;
      }
      status.value = 'locating';
      reported = null;
      watchId = navigator.geolocation.watchPosition(consider, failed, OPTIONS);
      poll = setInterval(() => navigator.geolocation.getCurrentPosition(consider, failed, { ...OPTIONS, maximumAge: 10_000 }), APP_REPORT_STILL_MS / 2);
    },
    stop() {
      if (watchId !== null) navigator.geolocation.clearWatch(watchId);
      watchId = null;
      clearInterval(poll);
      status.value = 'off';
    },
  };
}
