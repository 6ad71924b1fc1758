/**
 * A least-recently-used cache of encoded tiles, bounded by bytes. Entries are never invalidated:
 * region boundaries only change when a region is re-seeded, which restarts the server. When
 * boundaries become editable at run time, editing must call `clear()` (or key on a version).
 * Concurrent requests for the same missing tile share one encoding.
 */
export class TileCache {
  private readonly entries = new Map<string, Buffer>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  private bytes = 0;

  constructor(
    /** Upper bound on the bytes held (each entry also counts a fixed overhead, so empty tiles count). */
    readonly maxBytes: number,
  ) {}

  async get(key: string, load: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert: Map iteration order is insertion order, so the oldest entry is first.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const loading = load().finally(() => this.pending.delete(key));
    this.pending.set(key, loading);
    const tile = await loading;
    this.put(key, tile);
    return tile;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private put(key: string, tile: Buffer): void {
    const cost = TileCache.cost(key, tile);
    if (cost > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= TileCache.cost(key, old);
    }
    this.entries.set(key, tile);
    this.bytes += cost;
    for (const [oldestKey, oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldestKey);
      this.bytes -= TileCache.cost(oldestKey, oldest);
    }
  }

  private static cost(key: string, tile: Buffer): number {
    return tile.byteLength + key.length * 2 + 64;
  }
}
