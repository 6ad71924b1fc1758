import { describe, expect, it } from 'vitest';
import { decodeWorkerFrame, encodeWorkerFrame, viewWorkerFrame, WORKER_FLAGS, type WorkerRecord } from '@shared/realtime';

describe('packed worker frames', () => {
  const records: WorkerRecord[] = [
    { id: 1, lon: 112.5612345, lat: 37.8612345, time: Date.parse('2026-11-22T03:00:07Z'), speed: 1.25, battery: 87, flags: WORKER_FLAGS.ONLINE },
    { id: 4_000_000_000, lon: 112.7, lat: 37.79, time: Date.parse('2026-11-22T03:00:09.900Z'), speed: NaN, battery: -1, flags: WORKER_FLAGS.ONLINE | WORKER_FLAGS.ALARM },
  ];

  it('round-trips every field at wire precision', () => {
    const data = encodeWorkerFrame(records);
    expect(data.byteLength).toBe(40); // 20 bytes a worker, not a JSON object each
    const back = decodeWorkerFrame(data, 2);
    expect(back[0]!.id).toBe(1);
    expect(back[0]!.lon).toBeCloseTo(112.5612345, 5); // float32: < 1 m at this longitude
    expect(back[0]!.lat).toBeCloseTo(37.8612345, 5);
    expect(back[0]!.time).toBe(Date.parse('2026-11-22T03:00:07Z'));
    expect(back[0]!.speed).toBe(1.25);
    expect(back[0]!.battery).toBe(87);
    expect(back[1]!.id).toBe(4_000_000_000);
    expect(back[1]!.time).toBe(Date.parse('2026-11-22T03:00:09Z'));
    expect(back[1]!.speed).toBeNaN();
    expect(back[1]!.battery).toBe(-1);
    expect(back[1]!.flags & WORKER_FLAGS.ALARM).toBeTruthy();
  });

  it('gives zero-copy typed views and rejects a buffer of the wrong size', () => {
    const data = encodeWorkerFrame(records);
    const v = viewWorkerFrame(data, 2);
    expect(v.lonLat.buffer).toBe(data);
    expect(Array.from(v.ids)).toEqual([1, 4_000_000_000]);
    expect(() => viewWorkerFrame(data, 3)).toThrow(/does not hold 3 workers/);
  });

  it('reads frames that arrive as Node Buffers, aligned or not', () => {
    const data = encodeWorkerFrame(records);
    const pooled = Buffer.alloc(41);
    Buffer.from(data).copy(pooled, 1); // an unaligned slice, as socket.io hands them to Node clients
    expect(decodeWorkerFrame(pooled.subarray(1), 2)).toEqual(decodeWorkerFrame(data, 2));
    const aligned = Buffer.alloc(44);
    Buffer.from(data).copy(aligned, 4);
    expect(decodeWorkerFrame(aligned.subarray(4), 2)).toEqual(decodeWorkerFrame(data, 2));
  });
});
