/**
 * The OsmAnd protocol as Traccar speaks it (Traccar Client phone app and many GPS trackers),
 * decoded exactly as traccar/traccar's OsmAndProtocolDecoder does. See ../shared/protocols.md.
 */
import { isPlausibleDeviceId, type DeviceFix } from '../positions/ingest';

const KNOTS_TO_MS = 0.514444;
const BAD_ID = 'The device id must be 1–64 characters without control characters.';

export class OsmAndError extends Error {
  constructor(
    readonly code: 'DEVICE_UNKNOWN' | 'POSITION_INVALID',
    message: string,
  ) {
    super(message);
  }
}

/** `timestamp`: integer < 2^31 = seconds, larger = milliseconds, with 'T' = ISO-8601, else 'yyyy-MM-dd HH:mm:ss' (UTC). */
export function parseOsmAndTime(value: string): number {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    return n < 2 ** 31 ? n * 1000 : n;
  }
  if (value.includes('T')) return Date.parse(value);
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(value.trim());
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7] ? Math.round(Number(m[7]) * 1000) : 0);
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};
const bool = (v: string | undefined): boolean | undefined =>
  v === undefined ? undefined : v === 'true' || v === '1';

/** Query-string or form parameters → a fix. */
export function decodeOsmAndParams(params: URLSearchParams): DeviceFix {
  const device = params.get('id') ?? params.get('deviceid');
  if (!device) throw new OsmAndError('DEVICE_UNKNOWN', 'Missing device id: send id=<your device identifier>.');
  if (!isPlausibleDeviceId(device)) throw new OsmAndError('DEVICE_UNKNOWN', BAD_ID);
  let lat = num(params.get('lat') ?? undefined);
  let lon = num(params.get('lon') ?? undefined);
  const location = params.get('location');
  if (location) {
    const [a, b] = location.split(',');
    lat = num(a);
    lon = num(b);
  }
  if (lat === undefined || lon === undefined) {
    throw new OsmAndError('POSITION_INVALID', 'Missing position: send lat and lon (or location=lat,lon) in decimal degrees.');
  }
  const ts = params.get('timestamp');
  const time = ts ? parseOsmAndTime(ts) : undefined;
  if (time !== undefined && Number.isNaN(time)) throw new OsmAndError('POSITION_INVALID', `Unreadable timestamp "${ts}".`);
  const speedKnots = num(params.get('speed') ?? undefined);
  return {
    device,
    time,
    lat,
    lon,
    speed: speedKnots !== undefined && speedKnots >= 0 ? speedKnots * KNOTS_TO_MS : undefined,
    heading: num(params.get('bearing') ?? params.get('heading') ?? undefined),
    accuracy: num(params.get('accuracy') ?? undefined),
    battery: num(params.get('batt') ?? undefined),
    charging: bool(params.get('charge') ?? undefined),
    valid: bool(params.get('valid') ?? undefined),
    alarm: params.get('alarm') ?? undefined,
  };
}

interface OsmAndJson {
  device_id?: unknown;
  location?: {
    timestamp?: unknown;
    coords?: { latitude?: unknown; longitude?: unknown; accuracy?: unknown; speed?: unknown; heading?: unknown; altitude?: unknown };
    battery?: { level?: unknown; is_charging?: unknown };
  };
  alarm?: unknown;
}

const jnum = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

const jsonTime = (n: number) => (Math.abs(n) < 2 ** 31 ? n * 1000 : n);

/** Traccar Client 9+ JSON body → a fix. */
export function decodeOsmAndJson(body: unknown): DeviceFix {
  const b = (body ?? {}) as OsmAndJson;
  if (typeof b.device_id !== 'string' || b.device_id === '') {
    throw new OsmAndError('DEVICE_UNKNOWN', 'Missing device_id.');
  }
  if (!isPlausibleDeviceId(b.device_id)) throw new OsmAndError('DEVICE_UNKNOWN', BAD_ID);
  const coords = b.location?.coords;
  const lat = jnum(coords?.latitude);
  const lon = jnum(coords?.longitude);
  if (lat === undefined || lon === undefined) throw new OsmAndError('POSITION_INVALID', 'Missing location.coords latitude/longitude.');
  const ts = b.location?.timestamp;
  // Numbers in OsmAnd's rule (below 2^31 seconds, else milliseconds); strings as ISO-8601.
  const time = typeof ts === 'string' ? Date.parse(ts) : typeof ts === 'number' ? (Number.isFinite(ts) ? jsonTime(ts) : NaN) : undefined;
  if (time !== undefined && Number.isNaN(time)) throw new OsmAndError('POSITION_INVALID', 'Unreadable location.timestamp.');
  const speed = jnum(coords?.speed);
  const heading = jnum(coords?.heading);
  const level = jnum(b.location?.battery?.level);
  return {
    device: b.device_id,
    time,
    lat,
    lon,
    speed: speed !== undefined && speed >= 0 ? speed : undefined,
    heading: heading !== undefined && heading >= 0 ? heading : undefined,
    accuracy: jnum(coords?.accuracy),
    battery: level !== undefined ? Math.round(level * 1000) / 10 : undefined,
    charging: typeof b.location?.battery?.is_charging === 'boolean' ? b.location.battery.is_charging : undefined,
    alarm: typeof b.alarm === 'string' ? b.alarm : undefined,
  };
}
