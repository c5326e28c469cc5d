/**
 * Bounds on what input can grow (PROTOCOL §7), on plain data: typing users in RoomSignals, sockets per user
 * in SocketIndex, the idle sweep (sockets silent while the room keeps sending), and the inbox's
 * per-device flow (frames, pending requests).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RoomSignals } from "../../party/core/room-signals.ts";
import { SocketIndex } from "../../party/core/socket-index.ts";
import { sessionKey } from "../../party/core/room-keys.ts";
import { IdleSweep } from "../../party/core/idle-sweep.ts";
import { InboxFlow } from "../../party/inbox/flow.ts";
import { LIMITS } from "../../party/protocol/index.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

function signals(typingMaxUsers: number) {
  const clock = fakeClock();
  const frames: any[] = [];
  const s = new RoomSignals(
    {
      now: clock.now,
      schedule: clock.schedule,
      broadcast: (f) => frames.push(JSON.parse(f)),
      connections: () => 0,
      isPresent: () => true,
      presentCount: () => 0,
      presentUsers: () => [],
      alwaysNames: () => true,
    },
    250,
    5000,
    Infinity,
    0,
    typingMaxUsers,
  );
  return { s, frames, advance: clock.advance };
}

test("PROTOCOL §7: at most maxTypingUsers show as typing; a further typer shows once an entry expired", () => {
  assert.equal(LIMITS.maxTypingUsers, 100);
  const { s, frames, advance } = signals(3);
  for (const user of ["a", "b", "c", "d"]) s.typing(user);
  advance(300);
  assert.deepEqual(frames.at(-1), { type: "typing", users: ["a", "b", "c"] });
  assert.equal(s.counters.typingRefused, 1);
  s.typing("a"); // someone already shown keeps typing: refreshed, never refused
  assert.equal(s.counters.typingRefused, 1);
  advance(4900); // b and c expired at 5,000; a, refreshed at 300, lasts until 5,300
  s.typing("d");
  assert.deepEqual(s.typingNow(), ["a", "d"]);
  advance(10_000);
  assert.deepEqual(s.typingNow(), []);
  assert.deepEqual(frames.at(-1), { type: "typing", users: [] });
});

test("PROTOCOL §7: the default bound holds whatever the number of typers", () => {
  const { s, advance } = signals(LIMITS.maxTypingUsers);
  for (let i = 0; i < 10_000; i++) s.typing(`u${i}`);
  advance(300);
  assert.equal(s.typingNow().length, LIMITS.maxTypingUsers);
  assert.equal(s.counters.typingRefused, 10_000 - LIMITS.maxTypingUsers);
});

test("SocketIndex counts a user's sockets; a socket replacing its session's adds none", () => {
  const index = new SocketIndex();
  const entry = (session: string, observer = false) => ({ user: "alice", session, observer });
  assert.equal(index.adds(entry("s1")), true);
  index.add("c1", entry("s1"));
  index.add("c2", entry("s2"));
  assert.equal(index.socketsOf("alice"), 2);
  assert.equal(index.adds(entry("s1")), false, "replaces c1");
  assert.equal(index.adds(entry("s3")), true);
  assert.equal(index.adds(entry("s3", true)), false, "observers are not counted");
  index.add("c3", entry("s1"));
  assert.equal(index.socketsOf("alice"), 3, "c1 stays counted until the room removes it");
  index.remove("c1");
  assert.equal(index.socketsOf("alice"), 2);
  assert.equal(index.socketsOf("bob"), 0);
  assert.equal(index.holdsSession(sessionKey("alice", "s1")), true);
  assert.equal(index.holdsSession(sessionKey("alice", "s9")), false);
});

test("PROTOCOL §7: the idle sweep closes a socket silent for idleMs while the room sent it minBytes, at most once per everyMs", () => {
  const sweep = new IdleSweep({ idleMs: 60_000, minBytes: 1000, everyMs: 10_000 });
  sweep.heardFrom("quiet", 0);
  sweep.heardFrom("dead", 0);
  sweep.heardFrom("alive", 0);
  sweep.broadcast(600);
  assert.deepEqual(sweep.due(0), []);
  sweep.broadcast(600);
  sweep.heardFrom("alive", 50_000); // a healthy client is heard at least every ping interval
  assert.deepEqual(sweep.due(59_999), [], "nobody silent for idleMs yet");
  sweep.broadcast(100);
  assert.deepEqual(sweep.due(69_998), [], "a second look within everyMs finds nothing, due or not");
  assert.deepEqual(sweep.due(70_000).sort(), ["dead", "quiet"], "both silent 70 s and sent 1,300 bytes since");
  assert.equal(sweep.size, 1, "a socket returned is forgotten");
  sweep.broadcast(5000);
  assert.deepEqual(sweep.due(200_000), ["alive"], "alive went silent at 50 s");
  sweep.heardFrom("late", 200_000);
  sweep.forget("late");
  assert.equal(sweep.size, 0);
});

test("PROTOCOL §7: with minBytes 0 silence alone closes; a socket in a room that sends nothing is never closed otherwise", () => {
  const strict = new IdleSweep({ idleMs: 1000, minBytes: 0, everyMs: 0 });
  strict.heardFrom("a", 0);
  assert.deepEqual(strict.due(1000), ["a"]);
  const lenient = new IdleSweep({ idleMs: 1000, minBytes: 1, everyMs: 0 });
  lenient.heardFrom("a", 0);
  assert.deepEqual(lenient.due(1_000_000), [], "nothing was sent to it: no queue can grow");
});

test("PROTOCOL §7: the idle sweep costs O(1) per frame and per broadcast, whatever the sockets", () => {
  const sweep = new IdleSweep({ idleMs: LIMITS.idleCloseMs, minBytes: LIMITS.idleCloseBytes, everyMs: LIMITS.idleSweepMs });
  const sockets = 20_000;
  const rounds = 100_000;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    sweep.heardFrom(`s${i % sockets}`, i);
    sweep.broadcast(100);
  }
  assert.ok(performance.now() - started < 1000, "200,000 calls");
  // Socket k was last heard at i = k + 80,000; (rounds - i) broadcasts of 100 bytes followed.
  const expected = [...Array(sockets).keys()].filter((k) => (rounds - (k + rounds - sockets)) * 100 >= LIMITS.idleCloseBytes);
  assert.equal(sweep.due(rounds + LIMITS.idleCloseMs).length, expected.length);
});

test("PROTOCOL §7: the inbox refuses a device's frames over its bucket and requests over maxPendingPerSocket", () => {
  let now = 0;
  const flow = new InboxFlow(() => now);
  for (let i = 0; i < LIMITS.socketFrameBurst; i++) assert.equal(flow.frame("d1"), 0);
  const wait = flow.frame("d1");
  assert.ok(wait > 0 && wait <= 1000 / LIMITS.socketFramesPerSecond + 1, `wait ${wait}`);
  now += 1000;
  assert.equal(flow.frame("d1"), 0, "refilled");
  assert.equal(flow.frame("d2"), 0, "per socket");
  for (let i = 0; i < LIMITS.maxPendingPerSocket; i++) assert.equal(flow.begin("d1"), true);
  assert.equal(flow.begin("d1"), false);
  assert.equal(flow.pendingOf("d1"), LIMITS.maxPendingPerSocket, "a refusal counts nothing");
  flow.end("d1");
  assert.equal(flow.begin("d1"), true);
  flow.cutOff("d1");
  assert.equal(flow.isCut("d1"), true);
  assert.deepEqual(flow.counters, { framesRefused: 1, messagesRefused: 0, pendingRefused: 1, socketsRefused: 0 });
  flow.forget("d1");
  flow.forget("d2");
  assert.equal(flow.size, 0, "nothing outlives its socket");
  flow.end("d3"); // an answer for a forgotten socket changes nothing
  assert.equal(flow.size, 0);
});

test("PROTOCOL R18: an inbox holds its user's new DMs to the per-user rate over all devices; a resend and an operator are free", () => {
  let now = 0;
  const flow = new InboxFlow(() => now, { perSecond: 5, burst: 10 });
  for (let i = 0; i < 10; i++) assert.equal(flow.message(`c${i}`, false), 0);
  const wait = flow.message("c10", false);
  assert.equal(wait, 1000, "until half a burst (5 at 5/s) is back");
  assert.equal(flow.message("c3", false), 0, "a resend of a charged DM is free");
  assert.equal(flow.message("op1", true), 0, "operators are exempt");
  now += 200;
  assert.equal(flow.message("c10", false), 0, "one token back after 200 ms");
  assert.ok(flow.message("c11", false) > 0);
  assert.equal(flow.counters.messagesRefused, 2);
  const unlimited = new InboxFlow(() => now, { perSecond: 0, burst: 1 });
  for (let i = 0; i < 1_000; i++) assert.equal(unlimited.message(`u${i}`, false), 0, "0 per second is no limit");
});
