/**
 * Latency histogram with 0.1 ms buckets up to 60 s: constant memory and O(1) record, so a run with
 * millions of deliveries costs the load generator almost nothing (an array of samples would not).
 */
const RESOLUTION = 10; // buckets per ms
const MAX_MS = 60_000;

export class Histogram {
  private readonly buckets = new Uint32Array(MAX_MS * RESOLUTION + 1);
  count = 0;
  max = 0;
  private sum = 0;

  record(ms: number): void {
    const value = ms < 0 ? 0 : ms;
    const index = Math.min(this.buckets.length - 1, Math.round(value * RESOLUTION));
    this.buckets[index]!++;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  /** The smallest recorded value v such that at least p% of samples are ≤ v (NaN when empty). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i / RESOLUTION;
    }
    return this.max;
  }

  mean(): number {
    return this.count ? this.sum / this.count : NaN;
  }

  /** The non-empty buckets and totals, small enough to send between processes (bench/live-viewers.ts). */
  toJSON(): HistogramData {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < this.buckets.length; i++) if (this.buckets[i]) buckets.push([i, this.buckets[i]!]);
    return { buckets, count: this.count, sum: this.sum, max: this.max };
  }

  /** Adds another process's histogram (its `toJSON`). */
  add(data: HistogramData): void {
    for (const [i, n] of data.buckets) this.buckets[i]! += n;
    this.count += data.count;
    this.sum += data.sum;
    if (data.max > this.max) this.max = data.max;
  }

  summary(): LatencySummary {
    return { count: this.count, p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99), max: this.max };
  }
}

export type LatencySummary = { count: number; p50: number; p95: number; p99: number; max: number };

export type HistogramData = { buckets: Array<[number, number]>; count: number; sum: number; max: number };
