/**
 * Frame sizes between the reference client and a room (PROTOCOL R11): whatever the client accepts from an app
 * leaves in frames within `maxFrameBytes`, as the room measures them; a frame the room would still see as too
 * large gets `frame_too_large` without being encoded needlessly; and the runtime's close 1009, which only a
 * frame over its 1 MiB limit causes, ends the client for good instead of resending the same frame forever.
 */
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import fc from "fast-check";
import { WebSocket } from "ws";
import { checkCommand } from "../../client/commands.ts";
import { Outbox } from "../../client/outbox.ts";
import { packCommands } from "../../client/frame-packer.ts";
import { describeClose } from "../../client/frames.ts";
import { KaiwaError, KaiwaRoom } from "../../client/index.ts";
import { CLOSE, ClientFrame, LIMITS, decodeFrame, isRetryableClose, type ServerFrame } from "../../party/protocol/index.ts";
import type { CommandBody } from "../../client/outbox.ts";
import { fakeServer, until, type Peer } from "../helpers/fake-ws-server.ts";
import { manualSchedule } from "../helpers/manual-schedule.ts";

const utf8 = (text: string) => new TextEncoder().encode(text).length;

// Texts near the limit, with what costs the most bytes on the wire: 3-byte characters, control characters
// (6 bytes escaped), lone surrogates (6 bytes escaped) and emoji.
const piece = fc.constantFrom("a", "é", "既", "😀", "\u0001", "\ud800", "\"", "\\", " ");
const text = fc.oneof(
  fc.array(piece, { maxLength: 60 }).map((p) => p.join("")),
  fc.tuple(piece, fc.integer({ min: 1000, max: 4000 })).map(([p, n]) => p.repeat(Math.ceil(n / p.length)).slice(0, n)),
);
const attachment = fc.record({
  id: fc.string({ minLength: 1, maxLength: 128 }),
  url: fc.constant("https://example.com/" + "p".repeat(1900)),
  name: fc.string({ maxLength: 256 }),
  mime: fc.constant("image/png"),
  size: fc.nat(),
});
const body: fc.Arbitrary<CommandBody> = fc.oneof(
  fc.record({ type: fc.constant("send" as const), text, attachments: fc.option(fc.array(attachment, { maxLength: 10 }), { nil: undefined }) }).map(
    ({ attachments, ...rest }) => (attachments ? { ...rest, attachments } : rest) as CommandBody,
  ),
  fc.record({ type: fc.constant("edit" as const), target: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), text }) as fc.Arbitrary<CommandBody>,
);

test("PROTOCOL R11: every frame the client packs from accepted commands is within maxFrameBytes as the room measures it", () => {
  fc.assert(
    fc.property(fc.array(body, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 40 }), (bodies, startN) => {
      let id = 0;
      const outbox = new Outbox({ maxInFlight: 256, newId: () => `${"c".repeat(40)}${++id}` });
      // The counter may be anywhere (a long-lived session): numbers are part of the size.
      for (let i = 0; i < startN % 1000; i++) outbox.enqueue({ type: "send", text: "x" });
      while (outbox.nextToSend()) {
        // drain the warm-up commands
      }
      const accepted = bodies.map((b) => checkCommand(b)).flatMap((checked) => (checked.ok ? [checked.body] : []));
      for (const b of accepted) outbox.enqueue(b);
      const wire: string[] = [];
      for (let c = outbox.nextToSend(); c; c = outbox.nextToSend()) wire.push(JSON.stringify(c));
      for (const frame of packCommands(wire)) {
        assert.ok(utf8(frame) <= LIMITS.maxFrameBytes, `a ${utf8(frame)}-byte frame`);
        const decoded = decodeFrame(frame, ClientFrame);
        assert.ok(decoded.ok || decoded.error.code !== "frame_too_large", "the room would not call it too large");
      }
    }),
    { numRuns: 150 },
  );
});

test("PROTOCOL R11: a frame longer than maxFrameBytes in UTF-16 units is frame_too_large at once, up to the runtime's limit", () => {
  const huge = JSON.stringify({ type: "send", clientId: "c1", n: 1, text: "x".repeat(LIMITS.runtimeMaxFrameBytes - 100) });
  // Not encoded: an encoder that throws stands in while it is decided (a wall-clock bound was flaky under load).
  const encoder = globalThis.TextEncoder;
  globalThis.TextEncoder = class {
    constructor() {
      throw new Error("the frame was encoded to measure it");
    }
  } as unknown as typeof TextEncoder;
  let decoded: ReturnType<typeof decodeFrame>;
  try {
    decoded = decodeFrame(huge, ClientFrame);
  } finally {
    globalThis.TextEncoder = encoder;
  }
  assert.equal(decoded.ok, false);
  assert.equal(!decoded.ok && decoded.error.code, "frame_too_large");
  assert.equal(!decoded.ok && decoded.error.ref, undefined, "no ref: the frame is not parsed");
  // Between a third of the limit and the limit in units, the UTF-8 size decides.
  const third = LIMITS.maxFrameBytes / 3;
  const wide = JSON.stringify({ type: "send", clientId: "c1", n: 1, text: "既".repeat(Math.ceil(third)) });
  assert.equal(decodeFrame(wide, ClientFrame).ok === false && (decodeFrame(wide, ClientFrame) as { ok: false; error: { code: string } }).error.code, "frame_too_large");
});

test("PROTOCOL R11: close 1009 is named frame_too_large and is not retryable", () => {
  assert.equal(CLOSE.tooBig, 1009);
  assert.equal(isRetryableClose(1009), false);
  assert.deepEqual(describeClose(1009, "Message is too large: 2097199 > 1048576"), {
    name: "frame_too_large",
    reason: "closed 1009 frame_too_large: Message is too large: 2097199 > 1048576",
  });
  assert.equal(isRetryableClose(1011), true, "other standard codes stay retryable");
});

let onPeer: (peer: Peer) => void = () => {};
const server = fakeServer({ onPeer: (p) => onPeer(p), onFrame: () => {} });

describe("KaiwaRoom and close 1009", () => {
  it("PROTOCOL R11: a 1009 close ends the client (status closed), rejects pending commands with frame_too_large, and never reconnects", async () => {
    server.peers.length = 0;
    const welcome: ServerFrame = {
      type: "welcome", room: "general", epoch: "e1", lastSeq: 0, bootId: "b", user: { id: "u1", name: "U" },
      sessionLastN: 0, resume: null, serverTime: 1,
    };
    onPeer = (p) => {
      p.ws.send(JSON.stringify(welcome));
      // What the runtime does to a socket whose frame is over its limit: close 1009, no error frame.
      setTimeout(() => p.ws.close(1009, "Message is too large: 1048633 > 1048576"), 50);
    };
    // The client's timers on a manual clock: an hour passing runs any retry it had scheduled at once, and a
    // retry changes the status in that same call, so "never reconnects" needs no wait.
    const { schedule, advance } = manualSchedule();
    const room = new KaiwaRoom({ host: `127.0.0.1:${server.port()}`, room: "general", token: "t", WebSocket, backoff: { random: () => 0 }, schedule });
    const pending = room.send("hello");
    await assert.rejects(pending, (e: unknown) => e instanceof KaiwaError && e.code === "frame_too_large" && !e.retryable);
    await until(() => room.status === "closed", "closed");
    advance(3_600_000);
    assert.equal(room.status, "closed", "no reconnect after 1009");
    assert.equal(server.peers.length, 1);
    room.close();
  });
});
