/**
 * Preloaded into a server child (`node --import tsx --import tests/support/loop-probe.ts
 * server/main.ts`, spawned with an IPC channel) by benchmarks that watch a long run from outside.
 * It adds nothing to the server's code: it measures the process it is loaded into, and answers
 * `{ type: 'loop-probe.sample' }` with the event-loop delay since the previous sample
 * (perf_hooks.monitorEventLoopDelay, 10 ms resolution: how late a timer that should fire every
 * 10 ms actually fires, i.e. how long the loop was busy) and the memory figures of
 * process.memoryUsage(). Without an IPC channel it does nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopProbeSample {
  type: 'loop-probe';
  /** Event-loop delay over the window, ms. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** process.memoryUsage(), bytes. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

if (process.send) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on('message', (m: unknown) => {
    if ((m as { type?: string } | null)?.type !== 'loop-probe.sample') return;
    const mem = process.memoryUsage();
    const sample: LoopProbeSample = {
      type: 'loop-probe',
      p50: delay.percentile(50) / 1e6,
      p99: delay.percentile(99) / 1e6,
      max: delay.max / 1e6,
      mean: delay.mean / 1e6,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
    };
    delay.reset();
    process.send?.(sample);
  });
  // The probe must not keep a server alive that is otherwise done (Node refs the channel for a
  // 'message' listener on the next tick: unref after that).
  setImmediate(() => process.channel?.unref());
}
