import { describe, expect, it } from 'vitest';
import { decodeOsmAndJson, decodeOsmAndParams, OsmAndError, parseOsmAndTime } from '../../server/modules/devices/osmand';

const q = (s: string) => new URLSearchParams(s.replace(/^\/\?/, ''));

describe('OsmAnd decoder (requests from Traccar’s own tests)', () => {
  it('decodes ISO time, hdop, altitude, speed in knots', () => {
    const fix = decodeOsmAndParams(q('/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0'));
    expect(fix).toMatchObject({ device: '902064', lat: 42.06288, lon: -88.23412, time: Date.parse('2016-01-27T18:55:47Z'), speed: 0 });
  });

  it('decodes "yyyy-MM-dd HH:mm:ss" as UTC', () => {
    const fix = decodeOsmAndParams(q('/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681'));
    expect(fix.time).toBe(Date.UTC(2014, 5, 4, 9, 10, 11));
    expect(fix.device).toBe('353861053849681');
  });

  it('reads seconds below 2^31 and milliseconds above', () => {
    expect(parseOsmAndTime('1377177267')).toBe(1377177267000);
    expect(parseOsmAndTime('1377177267123')).toBe(1377177267123);
  });

  it('rejects a request without id', () => {
    expect(() => decodeOsmAndParams(q('/?timestamp=1377177267&lat=60.0&lon=30.0'))).toThrow(OsmAndError);
  });

  it('rejects a cell/wifi-only report with no position as invalid, not as a crash', () => {
    const call = () => decodeOsmAndParams(q('/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80'));
    expect(call).toThrow(expect.objectContaining({ code: 'POSITION_INVALID' }));
  });

  it('converts knots to m/s, reads location=lat,lon, battery, alarm=sos', () => {
    const fix = decodeOsmAndParams(q('/?deviceid=abc&location=37.86,112.56&speed=10&batt=42&charge=true&alarm=sos&valid=false'));
    expect(fix.lat).toBe(37.86);
    expect(fix.lon).toBe(112.56);
    expect(fix.speed).toBeCloseTo(5.14444, 4);
    expect(fix).toMatchObject({ battery: 42, charging: true, alarm: 'sos', valid: false });
  });

  it('decodes the Traccar Client 9 JSON body; negative speed and heading mean absent', () => {
    const fix = decodeOsmAndJson({
      device_id: 'phone-1',
      location: {
        timestamp: '2026-11-22T03:00:00.000Z',
        coords: { latitude: 37.86, longitude: 112.56, accuracy: 5, speed: -1, heading: -1, altitude: 800 },
        battery: { level: 0.57, is_charging: false },
      },
    });
    expect(fix).toMatchObject({ device: 'phone-1', lat: 37.86, lon: 112.56, accuracy: 5, battery: 57, charging: false });
    expect(fix.speed).toBeUndefined();
    expect(fix.heading).toBeUndefined();
    expect(() => decodeOsmAndJson({ location: {} })).toThrow(OsmAndError);
  });

  it('reads a numeric JSON location.timestamp in OsmAnd’s unit: below 2^31 seconds, else milliseconds', () => {
    const at = (timestamp: unknown) => decodeOsmAndJson({ device_id: 'p', location: { timestamp, coords: { latitude: 37.86, longitude: 112.56 } } }).time;
    expect(at(1_764_000_000)).toBe(1_764_000_000_000);
    expect(at(1_764_000_000_123)).toBe(1_764_000_000_123);
    expect(at('2026-11-22T03:00:00.000Z')).toBe(Date.parse('2026-11-22T03:00:00.000Z'));
    expect(() => at('soon')).toThrow(expect.objectContaining({ code: 'POSITION_INVALID' }));
  });

  it('refuses a device id with NUL or control characters, or longer than 64, as DEVICE_UNKNOWN', () => {
    for (const id of ['a\u0000b', '\u0007', 'line\nbreak', 'x'.repeat(65)]) {
      expect(() => decodeOsmAndParams(new URLSearchParams({ id, lat: '37.86', lon: '112.56' }))).toThrow(expect.objectContaining({ code: 'DEVICE_UNKNOWN' }));
      expect(() => decodeOsmAndJson({ device_id: id, location: { coords: { latitude: 37.86, longitude: 112.56 } } })).toThrow(expect.objectContaining({ code: 'DEVICE_UNKNOWN' }));
    }
  });
});
