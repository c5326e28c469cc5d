/**
 * Token buckets kept per key (a user id) for the keys seen recently, bounded so the map cannot grow with
 * input (PROTOCOL R18): past `max` keys the full buckets go first (a full bucket says nothing a new one
 * would not), then the oldest. Shared by the room's frame and message budgets, its upload slots and the
 * relay's frame budget. Pure: the clock comes in as `now`.
 */
import { TokenBucket } from "./token-bucket.ts";

export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.buckets.size;
  }

  /** The bucket of `key`; a new one holds `capacity` tokens refilled at `perSecond`. */
  of(key: string, capacity: number, perSecond: number, now: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.max) this.prune(now);
      this.buckets.set(key, (bucket = new TokenBucket(capacity, perSecond, now)));
    }
    return bucket;
  }

  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(key);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.max) break;
      this.buckets.delete(key);
    }
  }
}
