/** The pure parts of relay shards (PROTOCOL R51-R53): shard assignment, relay ids, the window, the automatic count. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_SHARDS, parseRelayId, relayId, shardOf } from "../../party/protocol/index.ts";
import { RelayWindow } from "../../party/core/relay-window.ts";
import { nextShardCount } from "../../party/core/shard-count.ts";

test("PROTOCOL R51: shardOf is stable, in range, and spreads users about evenly", () => {
  assert.equal(shardOf("alice", 4), shardOf("alice", 4));
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 80_000; i++) {
    const shard = shardOf(`user-${i}`, 8);
    assert.ok(shard >= 0 && shard < 8);
    counts[shard]++;
  }
  for (const count of counts) assert.ok(count > 9_000 && count < 11_000, `uneven: ${counts}`);
  assert.equal(shardOf("anyone", 1), 0);
});

test("PROTOCOL R51: relay ids round-trip; ids that name no shard are refused", () => {
  assert.deepEqual(parseRelayId(relayId("live:show", 3)), { roomId: "live:show", shard: 3 });
  for (const bad of ["live:show", "live:show~", "live:show~x", "live:show~01", `live:show~${MAX_SHARDS}`, "general~1", "live:~1", "live:a~b~1", "~1", "live:show~-1"]) {
    assert.equal(parseRelayId(bad), undefined, bad);
  }
});

test("PROTOCOL R52: the relay window replays what a viewer lacks, bounded by events and bytes", () => {
  const window = new RelayWindow(10, 1_000_000);
  window.reset("e1", 0);
  for (let seq = 1; seq <= 25; seq += 5) assert.equal(window.append(seq, seq + 4, `f${seq}`), true);
  assert.equal(window.last, 25);
  assert.equal(window.append(20, 25, "old"), false, "nothing new");
  assert.equal(window.first(), 16, "the oldest frames went past 10 events");
  assert.equal(window.covers(15), true);
  assert.equal(window.covers(14), false);
  assert.deepEqual(window.since(17), ["f16", "f21"], "the first frame may overlap the viewer's position");
  assert.deepEqual(window.since(25), []);
  window.prepend([{ from: 11, to: 15, frame: "f11" }]);
  assert.equal(window.first(), 16, "older frames stay only while the window has room for them");
  const roomy = new RelayWindow(100, 1_000_000);
  roomy.reset("e", 20);
  roomy.append(21, 25, "f21");
  roomy.prepend([{ from: 11, to: 20, frame: "f11" }]);
  assert.deepEqual(roomy.since(12), ["f11", "f21"]);
  const small = new RelayWindow(1_000, 10);
  small.reset("e", 0);
  small.append(1, 1, "xxxxxx");
  small.append(2, 2, "yyyyyy");
  assert.equal(small.first(), 2, "bytes bound the window too");
  small.reset("e2", 7);
  assert.equal(small.first(), 8);
  assert.equal(small.covers(7), true);
});

test("PROTOCOL R53: the automatic shard count grows at once and shrinks only well below", () => {
  const base = { perShard: 100, least: 1, most: 64 };
  assert.equal(nextShardCount({ ...base, current: 1, viewers: 50 }), 1);
  assert.equal(nextShardCount({ ...base, current: 1, viewers: 101 }), 2);
  assert.equal(nextShardCount({ ...base, current: 1, viewers: 10_000 }), 64);
  assert.equal(nextShardCount({ ...base, current: 3, viewers: 190 }), 3, "just below: stays");
  assert.equal(nextShardCount({ ...base, current: 3, viewers: 150 }), 2, "well below: shrinks");
  assert.equal(nextShardCount({ ...base, current: 3, viewers: 0, least: 2 }), 2, "never below the least");
});
