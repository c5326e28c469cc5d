/**
 * A fixed-bucket latency histogram (pure). The room observes each ack's latency (accepted → durable,
 * PROTOCOL I2) on the commit path, which costs one comparison loop over ~12 buckets; the directory renders it
 * as a Prometheus histogram.
 */
import type { HistogramSnapshot } from "../protocol/admin-schema.ts";

/** Upper bounds in ms. A group commit is one timer tick plus one storage write (plus the one before it, under load). */
export const ACK_LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000] as const;

export class Histogram {
  private readonly counts: number[];
  private sumMs = 0;
  private count = 0;

  constructor(private readonly bucketsMs: readonly number[] = ACK_LATENCY_BUCKETS_MS) {
    this.counts = new Array(bucketsMs.length + 1).fill(0);
  }

  observe(ms: number, times = 1): void {
    let i = 0;
    while (i < this.bucketsMs.length && ms > this.bucketsMs[i]!) i++;
    this.counts[i]! += times;
    this.sumMs += ms * times;
    this.count += times;
  }

  snapshot(): HistogramSnapshot {
    return { bucketsMs: [...this.bucketsMs], counts: [...this.counts], sumMs: this.sumMs, count: this.count };
  }
}
