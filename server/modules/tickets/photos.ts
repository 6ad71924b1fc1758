/**
 * Ticket photos: the bytes live as files under DATA_DIR/photos (the database keeps metadata only),
 * and are checked by their magic bytes — the Content-Type a client claims is not trusted.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type PhotoType = (typeof PHOTO_TYPES)[number];

/** The largest photo accepted, bytes (a phone's full-resolution JPEG fits easily). */
export const PHOTO_MAX_BYTES = 10 * 1024 * 1024;

const EXTENSIONS: Record<PhotoType, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' };

const startsWith = (buf: Uint8Array, bytes: readonly number[], at = 0) =>
  buf.length >= at + bytes.length && bytes.every((b, i) => buf[at + i] === b);

/** What the bytes are, by their signature: JPEG (FF D8 FF), PNG (89 'PNG' 0D 0A 1A 0A), WebP ('RIFF' … 'WEBP'). */
export function detectImageType(buf: Uint8Array): PhotoType | null {
  if (startsWith(buf, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(buf, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(buf, [0x52, 0x49, 0x46, 0x46]) && startsWith(buf, [0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return null;
}

/** Files under one directory, named by keys this class makes (never by client input). */
export class PhotoStore {
  constructor(readonly root: string) {}

  /** Writes the bytes and returns the storage key and checksum. */
  async save(ticketId: number, bytes: Buffer, type: PhotoType): Promise<{ key: string; sha256: string }> {
    const key = `${ticketId}/${randomUUID()}.${EXTENSIONS[type]}`;
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes, { flag: 'wx' });
    return { key, sha256: createHash('sha256').update(bytes).digest('hex') };
  }

  async remove(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  file(key: string): string {
    if (!/^\d+\/[0-9a-f-]{36}\.(jpg|png|webp)$/.test(key)) throw new Error(`bad photo key ${key}`);
    return path.join(this.root, key);
  }
}
