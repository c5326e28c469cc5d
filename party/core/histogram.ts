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

/**
 * Counts per bucket observed between two snapshots of one histogram (what a room acked in between).
 * A snapshot from another process (`sameProcess` false), fewer observations than before, or other
 * buckets mean the counters restarted: everything in `next` is new, as with a Prometheus counter reset.
 */
export function countsSince(previous: HistogramSnapshot | undefined, next: HistogramSnapshot, sameProcess: boolean): number[] {
  const comparable =
    previous !== undefined && sameProcess && next.count >= previous.count && previous.bucketsMs.length === next.bucketsMs.length && previous.bucketsMs.every((b, i) => b === next.bucketsMs[i]);
  if (!comparable) return [...next.counts];
  return next.counts.map((n, i) => Math.max(0, n - (previous.counts[i] ?? 0)));
}

/**
 * The q-quantile (0..1) of bucketed observations, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; observations above the last bound report that bound. undefined when empty.
 */
export function quantileMs(bucketsMs: readonly number[], counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && below + n >= rank) {
      const upper = bucketsMs[i];
      if (upper === undefined) return bucketsMs.at(-1) ?? 0; // the +Inf bucket
      const lower = i === 0 ? 0 : bucketsMs[i - 1]!;
      return lower + (upper - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return bucketsMs.at(-1) ?? 0;
}
