import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyedBuckets } from "../../party/core/keyed-buckets.ts";

test("PROTOCOL R18: per-user buckets keep their state, and past the bound full ones go first, then the oldest", () => {
  const buckets = new KeyedBuckets(3);
  const t = 1_000;
  // A user who spent their burst stays limited when they come back.
  assert.equal(buckets.of("flooder", 2, 1, t).take(2, t), 0);
  assert.ok(buckets.of("flooder", 2, 1, t).take(1, t) > 0, "the same bucket, still empty");
  buckets.of("idle-1", 2, 1, t);
  buckets.of("idle-2", 2, 1, t);
  assert.equal(buckets.size, 3);
  // A fourth user: the two full (idle) buckets go, the flooder's does not.
  buckets.of("newcomer", 2, 1, t);
  assert.equal(buckets.size, 2);
  assert.ok(buckets.of("flooder", 2, 1, t).take(1, t) > 0, "pruning did not refill the flooder");
  // When no bucket is full, the oldest goes so the bound still holds.
  buckets.of("newcomer", 2, 1, t).take(2, t);
  buckets.of("third", 2, 1, t).take(2, t);
  buckets.of("fourth", 2, 1, t);
  assert.equal(buckets.size, 3);
  assert.equal(buckets.of("flooder", 2, 1, t).take(1, t), 0, "the oldest (the flooder) was forgotten: a new, full bucket");
});
