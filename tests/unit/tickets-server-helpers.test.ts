import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PhotoStore, detectImageType } from '../../server/modules/tickets/photos';
import { roomsCovering } from '../../server/modules/tickets/broadcast';
import { regionCodeAtLevel, regionLevelOfPath } from '../../server/modules/tickets/service';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 ')]);

describe('photo type by magic bytes', () => {
  it('recognises JPEG, PNG and WebP', () => {
    expect(detectImageType(JPEG)).toBe('image/jpeg');
    expect(detectImageType(PNG)).toBe('image/png');
    expect(detectImageType(WEBP)).toBe('image/webp');
  });

  it('refuses what only looks like one', () => {
    expect(detectImageType(Buffer.from('%PDF-1.7\n'))).toBeNull();
    expect(detectImageType(Buffer.from('GIF89a'))).toBeNull();
    expect(detectImageType(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeNull(); // a RIFF that is audio
    expect(detectImageType(Buffer.from([0xff, 0xd8]))).toBeNull(); // truncated
    expect(detectImageType(new Uint8Array())).toBeNull();
  });
});

describe('photo storage', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'gridline-photos-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes under its root by keys it makes, and never resolves a key it did not', async () => {
    const store = new PhotoStore(root);
    const { key, sha256 } = await store.save(7, JPEG, 'image/jpeg');
    expect(key).toMatch(/^7\/[0-9a-f-]{36}\.jpg$/);
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(store.file(key))).toEqual(JPEG);
    expect(() => store.file('../../etc/passwd')).toThrow();
    expect(() => store.file('7/../../x.jpg')).toThrow();
    await store.remove(key);
    expect(() => readFileSync(store.file(key))).toThrow();
  });
});

describe('where ticket events go', () => {
  const grid = '/140106/140106001/140106001001/140106001001001/';

  it('to the room of every jurisdiction holding the grid, and no other', () => {
    expect(roomsCovering(grid)).toEqual([
      'scope:/140106/',
      'scope:/140106/140106001/',
      'scope:/140106/140106001/140106001001/',
      `scope:${grid}`,
    ]);
  });

  it('names the desk that holds an escalated ticket', () => {
    expect(regionCodeAtLevel(grid, 'grid')).toBe('140106001001001');
    expect(regionCodeAtLevel(grid, 'community')).toBe('140106001001');
    expect(regionCodeAtLevel(grid, 'street')).toBe('140106001');
    expect(regionCodeAtLevel(grid, 'district')).toBe('140106');
    expect(regionCodeAtLevel(grid, 'department')).toBe('140106');
  });

  it('reads a jurisdiction’s level from its path', () => {
    expect(regionLevelOfPath('/140106/')).toBe('district');
    expect(regionLevelOfPath('/140106/140106001/')).toBe('street');
    expect(regionLevelOfPath(grid)).toBe('grid');
    expect(regionLevelOfPath(null)).toBeNull();
  });
});
