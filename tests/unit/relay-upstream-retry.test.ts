/**
 * A relay shard's resubscription after a failure (relay/upstream.ts, PROTOCOL R52): the shared full-jitter
 * backoff (protocol/backoff.ts), its window doubling per failure in a row from 100 ms to a 5 s cap, counted
 * from the last welcome; a deliberate drop resubscribes at once and is no failure.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "../../party/protocol/index.ts";
import { UPSTREAM_RETRY, Upstream } from "../../party/relay/upstream.ts";
import type { RoomLink } from "../../party/relay/room-link.ts";

test("PROTOCOL R52: a relay's retry delays lie in [0, min(5 s, 100 ms * 2^failures)), spread by full jitter", () => {
  const ceiling = (attempt: number) => Math.min(5_000, 100 * 2 ** attempt);
  for (let attempt = 0; attempt <= 12; attempt++) {
    assert.equal(backoffDelay(attempt, { ...UPSTREAM_RETRY, random: () => 0 }), 0, "full jitter: the window starts at 0");
    assert.equal(backoffDelay(attempt, { ...UPSTREAM_RETRY, random: () => 0.9999999 }), ceiling(attempt) - 1, `attempt ${attempt}: the window's top`);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(attempt, UPSTREAM_RETRY);
      assert.ok(delay >= 0 && delay < ceiling(attempt), `attempt ${attempt}: ${delay}`);
    }
  }
  // The cap is reached after 6 failures in a row (100 * 2^6 = 6,400 > 5,000), as the doubling did before.
  assert.equal(ceiling(5), 3_200);
  assert.equal(ceiling(6), 5_000);
  // Spread, not one wave: 200 shards' first retries do not land on a handful of instants.
  const first = new Set(Array.from({ length: 200 }, () => backoffDelay(0, UPSTREAM_RETRY)));
  assert.ok(first.size > 50, `only ${first.size} distinct delays`);
});

/** A socket the test drives: it delivers the room's frames and its close as a real one would. */
class FakeSocket extends EventTarget {
  closed = false;
  send(): void {}
  close(): void {
    this.closed = true;
  }
  deliver(data: string): void {
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }
  drop(): void {
    this.dispatchEvent(new Event("close"));
  }
}

/** A link to the room whose subscriptions fail while `failing`, and otherwise open a FakeSocket. */
function fakeLink() {
  const state = { failing: true, opened: [] as FakeSocket[], tries: 0 };
  const link = {
    async socket(): Promise<WebSocket> {
      state.tries++;
      if (state.failing) throw new Error("the room is unreachable");
      const socket = new FakeSocket();
      state.opened.push(socket);
      return socket as unknown as WebSocket;
    },
  } as unknown as RoomLink;
  return { link, state };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

test("PROTOCOL R52: the relay backs off by failures in a row, starts over after a welcome, and a deliberate drop is no failure", async () => {
  const { link, state } = fakeLink();
  const attempts: number[] = [];
  const welcomes: string[] = [];
  const upstream = new Upstream(link, "live", 0, () => undefined, { welcome: (epoch) => welcomes.push(epoch), events: () => undefined, config: () => undefined, signal: () => undefined }, (attempt) => {
    attempts.push(attempt);
    return 0;
  });
  try {
    upstream.start();
    await until(() => attempts.length >= 4, "four retries");
    state.failing = false;
    await until(() => state.opened.length === 1, "the subscription");
    assert.deepEqual(attempts.slice(0, 4), [0, 1, 2, 3], "each failure in a row widens the window");
    const failed = attempts.length;
    // Open but not yet welcomed: a drop now is one more failure in the same row.
    state.opened[0]!.drop();
    await until(() => state.opened.length === 2, "the second subscription");
    assert.deepEqual(attempts.slice(failed), [failed], "a drop before the welcome continues the row");
    // Welcomed: the row is over; the next drop starts from the first window again.
    state.opened[1]!.deliver(JSON.stringify({ type: "welcome", epoch: "e1", lastSeq: 0, resume: null }));
    assert.deepEqual(welcomes, ["e1"]);
    state.opened[1]!.drop();
    await until(() => state.opened.length === 3, "the third subscription");
    assert.equal(attempts.at(-1), 0, "after a welcome the backoff starts over");
    // A deliberate drop (a test, or a gap the relay saw) resubscribes at once, without a backoff.
    const before = attempts.length;
    upstream.drop(false);
    await until(() => state.opened.length === 4, "the resubscription after a drop");
    assert.equal(attempts.length, before, "no backoff for a deliberate drop");
    assert.ok(state.opened[2]!.closed, "the dropped socket was closed");
  } finally {
    upstream.drop(true);
  }
});
