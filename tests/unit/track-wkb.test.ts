import { describe, expect, it } from 'vitest';
import { decodeLineXYZM } from '../../server/modules/tracks/repository';

describe('decodeLineXYZM', () => {
  it('reads PostGIS’s WKB LineString ZM: one fix with no speed (NaN → null)', () => {
    // SELECT ST_AsBinary(ST_MakeLine(ST_MakePoint(1, 2, 'NaN', 5)))
    const wkb = Buffer.from('01ba0b000001000000000000000000f03f0000000000000040000000000000f87f0000000000001440', 'hex');
    expect(decodeLineXYZM(wkb)).toEqual([{ lon: 1, lat: 2, speed: null, t: 5 }]);
  });

  it('reads big-endian WKB and several fixes at an offset inside a larger buffer', () => {
    const n = 3;
    const buf = Buffer.alloc(7 + 9 + n * 32);
    const o = 7;
    buf.writeUInt8(0, o);
    buf.writeUInt32BE(3002, o + 1);
    buf.writeUInt32BE(n, o + 5);
    for (let i = 0; i < n; i++) {
      const p = o + 9 + i * 32;
      buf.writeDoubleBE(112.5 + i, p);
      buf.writeDoubleBE(37.8 + i, p + 8);
      buf.writeDoubleBE(1.25 * i, p + 16);
      buf.writeDoubleBE(1_795_000_000_000 + i * 10_000, p + 24);
    }
    const fixes = decodeLineXYZM(new Uint8Array(buf.buffer, buf.byteOffset + o, buf.length - o));
    expect(fixes.map((f) => f.t)).toEqual([1_795_000_000_000, 1_795_000_010_000, 1_795_000_020_000]);
    expect(fixes[2]).toEqual({ lon: 114.5, lat: 39.8, speed: 2.5, t: 1_795_000_020_000 });
  });

  it('refuses anything but a LineString ZM', () => {
    const point = Buffer.from('0101000000000000000000f03f0000000000000040', 'hex');
    expect(() => decodeLineXYZM(point)).toThrow(/3002/);
  });
});
