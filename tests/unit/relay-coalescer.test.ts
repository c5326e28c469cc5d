/**
 * A relay's gathering of the room's live frames (PROTOCOL R54): what waits goes on as one frame, a window after
 * the first waiting event's COMMIT (not after the relay got to read it), never later than a window from now,
 * and never sooner than half a window after the last flush.
 */
import { test, mock, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Coalescer, type Gathered } from "../../party/relay/coalescer.ts";
import type { RoomEvent } from "../../party/protocol/index.ts";

const WINDOW = 600;

function event(seq: number, ts: number): RoomEvent {
  return { kind: "message", seq, ts, author: { id: "op", name: "Operator" }, clientId: `c${seq}`, text: `m${seq}` };
}

/** One `events` frame as the room serialises it, holding the given events. */
function frame(events: RoomEvent[]): [string, RoomEvent[]] {
  return [JSON.stringify({ type: "events", events }), events];
}

/** A coalescer on the mocked timers, its clock the mocked `Date.now()`, every delivery recorded with its time. */
function harness() {
  const delivered: Array<Gathered & { at: number }> = [];
  const coalescer = new Coalescer(WINDOW, (gathered) => delivered.push({ ...gathered, at: Date.now() }), () => Date.now());
  return { coalescer, delivered };
}

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 100_000 }));
afterEach(() => mock.timers.reset());

test("PROTOCOL R54: frames within the window go on as one frame, the events in seq order, as the room serialised them", () => {
  const { coalescer, delivered } = harness();
  coalescer.add(...frame([event(1, 100_000)]));
  mock.timers.tick(50);
  coalescer.add(...frame([event(2, 100_050), event(3, 100_050)]));
  mock.timers.tick(WINDOW - 51);
  assert.equal(delivered.length, 0, "nothing goes on before the window ends");
  mock.timers.tick(1);
  assert.equal(delivered.length, 1);
  const { from, to, frame: merged, events, at } = delivered[0]!;
  assert.deepEqual([from, to, at], [1, 3, 100_000 + WINDOW]);
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual((JSON.parse(merged) as { events: RoomEvent[] }).events, events, "the merged frame is a plain events frame of the same events");
});

test("PROTOCOL R54: the window runs from the first waiting event's commit, so a relay that read the frame late does not add its lateness", () => {
  const { coalescer, delivered } = harness();
  // Committed 400 ms ago (the relay was busy broadcasting): it waits the window's remaining 200 ms, not 600.
  coalescer.add(...frame([event(1, 100_000 - 400)]));
  mock.timers.tick(199);
  assert.equal(delivered.length, 0);
  mock.timers.tick(1);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0]!.at, 100_000 + 200);
});

test("PROTOCOL R54: an event already older than the window goes on at once", () => {
  const { coalescer, delivered } = harness();
  coalescer.add(...frame([event(1, 100_000 - 2 * WINDOW)]));
  mock.timers.tick(0);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0]!.at, 100_000);
});

test("PROTOCOL R54: a room clock ahead of the relay's never makes a viewer wait longer than the window", () => {
  const { coalescer, delivered } = harness();
  coalescer.add(...frame([event(1, 100_000 + 5_000)]));
  mock.timers.tick(WINDOW);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0]!.at, 100_000 + WINDOW);
});

test("PROTOCOL R54: an event without a usable commit time waits the window from now, neither at once nor forever", () => {
  const { coalescer, delivered } = harness();
  coalescer.add(...frame([event(1, Number.NaN)]));
  mock.timers.tick(WINDOW - 1);
  assert.equal(delivered.length, 0);
  mock.timers.tick(1);
  assert.equal(delivered.length, 1);
});

test("PROTOCOL R54: a relay behind the room flushes at most every half window, in larger frames, not once per room frame", () => {
  const { coalescer, delivered } = harness();
  coalescer.add(...frame([event(1, 100_000 - 5_000)]));
  mock.timers.tick(0);
  assert.equal(delivered.length, 1, "the first old event goes on at once");
  // The next frames are as old (the relay reads a backlog): they wait until half a window after that flush.
  for (let seq = 2; seq <= 6; seq++) coalescer.add(...frame([event(seq, 100_000 - 5_000 + seq)]));
  mock.timers.tick(WINDOW / 2 - 1);
  assert.equal(delivered.length, 1);
  mock.timers.tick(1);
  assert.equal(delivered.length, 2);
  assert.deepEqual(delivered[1]!.events.map((e) => e.seq), [2, 3, 4, 5, 6]);
  assert.equal(delivered[1]!.at, 100_000 + WINDOW / 2);
});

test("PROTOCOL R54: a frame of another shape goes on at once, after what waits, so order is kept", () => {
  const { coalescer, delivered } = harness();
  coalescer.add(...frame([event(1, 100_000)]));
  const replay = JSON.stringify({ type: "events", events: [event(2, 100_000)], replay: true });
  coalescer.add(replay, [event(2, 100_000)]);
  assert.deepEqual(delivered.map((d) => [d.from, d.to]), [[1, 1], [2, 2]]);
  assert.equal(delivered[1]!.frame, replay, "the other frame goes on exactly as the room sent it");
  mock.timers.tick(WINDOW);
  assert.equal(delivered.length, 2, "the timer was cleared with what waited");
});

test("PROTOCOL R54: a single waiting frame goes on exactly as the room sent it; clear() forgets what waits", () => {
  const { coalescer, delivered } = harness();
  const [one, events] = frame([event(1, 100_000)]);
  coalescer.add(one, events);
  mock.timers.tick(WINDOW);
  assert.equal(delivered[0]!.frame, one);
  coalescer.add(...frame([event(2, 100_000 + WINDOW)]));
  assert.equal(coalescer.last, 2, "what waits counts in the relay's position");
  coalescer.clear();
  assert.equal(coalescer.last, undefined);
  mock.timers.tick(2 * WINDOW);
  assert.equal(delivered.length, 1, "nothing forgotten is delivered");
});
