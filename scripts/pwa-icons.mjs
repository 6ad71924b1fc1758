/**
 * Draws the phone app's icons (client/public/icons/*.png): a grid (网格) with a position dot, on
 * the dashboard's deep blue. Plain PNG encoding with zlib, no image tools needed. Run after a design
 * change: `node scripts/pwa-icons.mjs`.
 */
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const OUT = path.resolve(import.meta.dirname, '../client/public/icons');
const BG = [11, 42, 74];
const GRID = [94, 234, 212];
const DOT = [249, 115, 22];
const WHITE = [255, 255, 255];

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
const crc32 = (buf) => {
  let c = -1;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
};
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      // 4×4 supersampling for smooth edges.
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) {
        const p = pixel((x + (sx + 0.5) / 4) / size, (y + (sy + 0.5) / 4) / size);
        if (p) { r += p[0] * p[3]; g += p[1] * p[3]; b += p[2] * p[3]; a += p[3]; }
      }
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = a ? Math.round(r / a) : 0; raw[o + 1] = a ? Math.round(g / a) : 0; raw[o + 2] = a ? Math.round(b / a) : 0;
      raw[o + 3] = Math.round((a / 16) * 255);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** The design in unit coordinates; `inset` shrinks the motif into the maskable safe zone. */
function design({ rounded, inset }) {
  const lo = 0.5 - inset, hi = 0.5 + inset, w = 0.028 * inset / 0.28;
  const lines = [0, 1, 2, 3].map((i) => lo + ((hi - lo) * i) / 3);
  return (x, y) => {
    if (rounded) {
      const r = 0.19, cx = Math.min(Math.max(x, r), 1 - r), cy = Math.min(Math.max(y, r), 1 - r);
      if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return null;
    }
    const d = Math.hypot(x - 0.5, y - 0.5);
    if (d < inset * 0.14) return [...WHITE, 1];
    if (d < inset * 0.34) return [...DOT, 1];
    const inBox = x > lo - w && x < hi + w && y > lo - w && y < hi + w;
    if (inBox && (lines.some((l) => Math.abs(x - l) < w) || lines.some((l) => Math.abs(y - l) < w))) return [...GRID, 1];
    return [...BG, 1];
  };
}

mkdirSync(OUT, { recursive: true });
for (const size of [192, 512]) {
  writeFileSync(path.join(OUT, `icon-${size}.png`), png(size, design({ rounded: true, inset: 0.3 })));
  writeFileSync(path.join(OUT, `maskable-${size}.png`), png(size, design({ rounded: false, inset: 0.22 })));
}
writeFileSync(path.join(OUT, 'apple-touch-icon.png'), png(180, design({ rounded: false, inset: 0.28 })));
console.log(`icons written to ${OUT}`);
