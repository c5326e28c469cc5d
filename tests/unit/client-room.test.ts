/**
 * KaiwaRoom against a scripted fake room (a bare `ws` server speaking the protocol), so the shell's
 * wiring is tested without PartyKit: URL/query, welcome handling, resend, dedupe, refusals, reset, ping.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import type { RoomEvent, ServerFrame } from "../../party/protocol/index.ts";
import { KaiwaError, KaiwaRoom, type KaiwaRoomOptions, type StatusChange } from "../../client/index.ts";
import { manualSchedule } from "../helpers/manual-schedule.ts";
import { fakeServer, until, type Frame, type Peer } from "../helpers/fake-ws-server.ts";

let onPeer: (peer: Peer) => void = () => {};
let onFrame: (peer: Peer, frame: Frame) => void = () => {};
const server = fakeServer({ onPeer: (p) => onPeer(p), onFrame: (p, f) => onFrame(p, f) });
const peers = server.peers;

function reset(): void {
  peers.length = 0;
  onPeer = () => {};
  onFrame = () => {};
}

const send = (peer: Peer, frame: ServerFrame) => peer.ws.send(JSON.stringify(frame));
const welcome = (o: Partial<Extract<ServerFrame, { type: "welcome" }>> = {}): ServerFrame => ({
  type: "welcome", room: "general", epoch: "e1", lastSeq: 0, bootId: "b", user: { id: "u1", name: "U" },
  sessionLastN: 0, resume: null, serverTime: 1, ...o,
});
const msg = (seq: number, clientId = `x${seq}`): RoomEvent => ({ kind: "message", seq, ts: seq, author: { id: "u1", name: "U" }, clientId, text: `m${seq}` });

function makeRoom(extra: Partial<KaiwaRoomOptions> = {}) {
  let i = 0;
  const room = new KaiwaRoom({
    host: `127.0.0.1:${server.port()}`, room: "general", token: "t", WebSocket,
    backoff: { random: () => 0 }, newId: () => `id${++i}`, ...extra,
  });
  const statuses: StatusChange[] = [];
  const events: number[] = [];
  const errors: KaiwaError[] = [];
  room.on("status", (s) => statuses.push(s));
  room.on("event", (e) => events.push(e.seq));
  room.on("error", (e) => errors.push(e));
  return { room, statuses, events, errors };
}


describe("KaiwaRoom", () => {
  it("connects with token and session, sends, and resolves on the ack; the echo is delivered once", async () => {
    reset();
    onPeer = (p) => send(p, welcome());
    onFrame = (p, f) => {
      if (f.type !== "send") return;
      const clientId = String(f.clientId);
      send(p, { type: "events", events: [msg(1, clientId)] });
      send(p, { type: "ack", acks: [{ clientId, seq: 1, ts: 1 }] });
      send(p, { type: "events", events: [msg(1, clientId)] }); // overlap: dropped
    };
    const { room, statuses, events } = makeRoom();
    const ack = await room.send("hello");
    assert.deepEqual(ack, { clientId: "id2", seq: 1, ts: 1 });
    assert.equal(peers[0]?.path, "/parties/room/general");
    assert.equal(peers[0]?.query.get("token"), "t");
    assert.equal(peers[0]?.query.get("session"), "id1");
    assert.equal(peers[0]?.query.get("epoch"), null, "no position on a first connect");
    assert.deepEqual(peers[0]?.frames, [{ type: "send", text: "hello", clientId: "id2", n: 1 }]);
    await until(() => events.length === 1, "event");
    assert.deepEqual(room.position, { epoch: "e1", lastSeq: 1 });
    assert.deepEqual(statuses.map((s) => s.current), ["connecting", "open"]);
    room.close();
    assert.equal(room.status, "closed");
  });

  it("after a drop: fresh token, resume position, unacked commands resent in order with the same ids", async () => {
    reset();
    let tokens = 0;
    onPeer = (p) => {
      if (peers.length === 1) {
        send(p, welcome({ lastSeq: 4 }));
        return;
      }
      send(p, welcome({ lastSeq: 5, resume: { recovered: true }, sessionLastN: 1 }));
      send(p, { type: "events", events: [msg(5)], replay: true });
    };
    onFrame = (p, f) => {
      if (peers.length === 1 && p.frames.length === 2) p.ws.terminate(); // both sends on the wire, none acked
      if (peers.length === 2 && f.type === "send") send(p, { type: "ack", acks: [{ clientId: String(f.clientId), seq: f.n === 1 ? 5 : 6, ts: 1, duplicate: f.n === 1 }] });
    };
    const { room, events, statuses } = makeRoom({ token: async () => `t${++tokens}` });
    const a = room.send("a");
    const b = room.send("b");
    assert.deepEqual((await Promise.all([a, b])).map((x) => x.seq), [5, 6]);
    assert.equal(peers[1]?.query.get("token"), "t2");
    assert.equal(peers[1]?.query.get("session"), peers[0]?.query.get("session"));
    assert.equal(peers[1]?.query.get("epoch"), "e1");
    assert.equal(peers[1]?.query.get("lastSeq"), "4");
    assert.deepEqual(peers[1]?.frames, peers[0]?.frames, "same clientIds, same numbers, same order");
    await until(() => events.length === 1, "replayed event");
    assert.deepEqual(events, [5]);
    assert.deepEqual(statuses.map((s) => s.current), ["connecting", "open", "reconnecting", "open"]);
    room.close();
  });

  it("a failing token getter is reported and retried with backoff", async () => {
    reset();
    onPeer = (p) => send(p, welcome());
    let calls = 0;
    const { room, errors } = makeRoom({
      token: async () => {
        if (++calls === 1) throw new Error("token service down");
        return "fresh";
      },
    });
    await until(() => room.status === "open", "open after retry");
    assert.equal(errors[0]?.code, "token_unavailable");
    assert.equal(errors[0]?.retryable, true);
    assert.equal(peers.length, 1);
    assert.equal(peers[0]?.query.get("token"), "fresh");
    room.close();
  });

  it("4001 stops in auth_failed until reconnect(); a queued send survives", async () => {
    reset();
    onPeer = (p) => {
      if (peers.length === 1) {
        send(p, { type: "error", code: "token_expired", message: "expired", retryable: false });
        p.ws.close(4001, "unauthorized");
      } else send(p, welcome());
    };
    onFrame = (p, f) => send(p, { type: "ack", acks: [{ clientId: String(f.clientId), seq: 1, ts: 1 }] });
    // Retries are scheduled on the client's clock: on a manual one, an hour passing runs any retry at once,
    // and a retry changes the status in that same call, so no wait is needed to see that none comes.
    const { schedule, advance } = manualSchedule();
    const { room, errors, statuses } = makeRoom({ schedule });
    const sent = room.send("queued");
    await until(() => room.status === "auth_failed", "auth_failed");
    assert.equal(errors[0]?.code, "token_expired");
    advance(3_600_000);
    assert.equal(room.status, "auth_failed", "no reconnect on its own");
    assert.equal(statuses.at(-1)?.current, "auth_failed");
    assert.equal(peers.length, 1);
    room.reconnect();
    assert.equal((await sent).seq, 1);
    room.close();
  });

  it("a non-retryable refusal closes for good and rejects pending work with the refusal", async () => {
    reset();
    onPeer = (p) => {
      send(p, { type: "error", code: "forbidden", message: "no", retryable: false });
      p.ws.close(4003, "forbidden");
    };
    const { room } = makeRoom();
    const sent = room.send("x");
    const page = room.history();
    await assert.rejects(sent, (e: unknown) => e instanceof KaiwaError && e.code === "forbidden" && !e.retryable);
    await assert.rejects(page, (e: unknown) => e instanceof KaiwaError && e.code === "forbidden");
    assert.equal(room.status, "closed");
    await assert.rejects(room.send("y"), (e: unknown) => e instanceof KaiwaError && e.code === "closed");
  });

  it("a ban (4030) after the welcome closes for good; pending and later calls reject with banned", async () => {
    reset();
    onPeer = (p) => send(p, welcome());
    onFrame = (p, frame) => {
      if (frame.type !== "send") return;
      send(p, { type: "error", code: "banned", message: "banned", retryable: false });
      p.ws.close(4030, "banned");
    };
    const { room, errors } = makeRoom();
    await assert.rejects(room.send("x"), (e: unknown) => e instanceof KaiwaError && e.code === "banned" && !e.retryable);
    await until(() => room.status === "closed", "closed");
    await assert.rejects(room.send("y"), (e: unknown) => e instanceof KaiwaError && e.code === "banned");
    assert.equal(errors.length, 1);
    assert.equal(peers.length, 1, "no reconnect after a ban");
  });

  it("recovered:false renumbers from sessionLastN + 1 and emits reset before later events", async () => {
    reset();
    onPeer = (p) => send(p, welcome({ epoch: "e2", lastSeq: 3, sessionLastN: 7, resume: { recovered: false, reason: "epoch_changed" } }));
    onFrame = (p, f) => {
      if (f.type !== "history") return;
      send(p, { type: "events", events: [msg(4)] }); // live traffic before the page arrives
      send(p, { type: "history", requestId: String(f.requestId), events: [msg(1), msg(2), msg(3)], hasMore: false });
    };
    const { room } = makeRoom({ position: { epoch: "e1", lastSeq: 10 } });
    const order: string[] = [];
    room.on("reset", (r) => order.push(`reset:${r.reason}:${r.latest.events.map((e) => e.seq).join(",")}`));
    room.on("event", (e) => order.push(`event:${e.seq}`));
    // Never acked here: close() rejects them, which is expected.
    const sends = [room.send("a"), room.send("b")].map((p) => p.catch((e: unknown) => e));
    await until(() => order.length === 2, "reset and event");
    assert.deepEqual(order, ["reset:epoch_changed:1,2,3", "event:4"]);
    assert.equal(peers[0]?.query.get("lastSeq"), "10");
    const frames = peers[0]?.frames ?? [];
    assert.deepEqual(frames.filter((f) => f.type === "send").map((f) => f.n), [8, 9]);
    assert.deepEqual(frames.find((f) => f.type === "history"), { type: "history", requestId: "id4", before: 4, limit: 50 });
    room.close();
    for (const outcome of await Promise.all(sends)) assert.ok(outcome instanceof KaiwaError && outcome.code === "closed");
  });

  it("a gap is never shown: the client reconnects from its last seq (PROTOCOL R1)", async () => {
    reset();
    onPeer = (p) => {
      if (peers.length === 1) {
        send(p, welcome());
        send(p, { type: "events", events: [msg(1)] });
        send(p, { type: "events", events: [msg(3)] });
      } else send(p, welcome({ lastSeq: 3, resume: { recovered: true } }));
    };
    const { room, events } = makeRoom();
    await until(() => peers.length === 2, "reconnect");
    assert.equal(peers[1]?.query.get("lastSeq"), "1");
    assert.deepEqual(events, [1]);
    room.close();
  });

  it("pings after silence and reconnects when nothing answers (PROTOCOL R12)", async () => {
    reset();
    onPeer = (p) => send(p, welcome());
    const { room } = makeRoom({ pingIntervalMs: 30, pongTimeoutMs: 30 });
    await until(() => peers.length === 2, "reconnect after missing pong");
    assert.ok(peers[0]?.raw.includes("ping"));
    room.close();
  });

  it("stays open while pongs arrive", async () => {
    reset();
    const pongs = new Map<Peer, number>();
    onPeer = (p) => {
      send(p, welcome());
      p.ws.on("message", (d) => {
        if (d.toString() !== "ping") return;
        p.ws.send("pong");
        pongs.set(p, (pongs.get(p) ?? 0) + 1);
      });
    };
    // The client's timers on a manual clock, the sockets real: an event-loop stall cannot fire a timeout,
    // and each pong is awaited as a positive marker, the cancelling of the timeout its ping armed.
    const { schedule, advance, timers } = manualSchedule();
    const PONG_TIMEOUT_MS = 40;
    const { room, errors, statuses } = makeRoom({ pingIntervalMs: 20, pongTimeoutMs: PONG_TIMEOUT_MS, schedule });
    await until(() => room.status === "open", "open");
    for (let i = 1; i <= 6; i++) {
      advance(20); // 20 ms of silence: the ping goes out and arms its timeout
      const timeout = timers.filter((t) => t.live && t.ms === PONG_TIMEOUT_MS).at(-1);
      assert.ok(timeout, `ping ${i} armed its timeout`);
      // A pong that did not count as traffic would leave the timeout armed; the clock never passes it.
      await until(() => !timeout.live, `pong ${i} taken as traffic (its ping's timeout cancelled)`);
    }
    assert.ok((pongs.get(peers[0]!) ?? 0) >= 6, "6 pings answered on the first socket");
    assert.equal(peers.length, 1, "never reconnected");
    assert.equal(room.status, "open");
    assert.deepEqual(statuses.map((s) => s.current), ["connecting", "open"], "never left open");
    assert.deepEqual(errors, [], "pong is not parsed as JSON");
    room.close();
  });

  it("reports an invalid frame and ignores it; command errors reject or keep-and-resend", async () => {
    reset();
    onPeer = (p) => {
      send(p, welcome());
      p.ws.send(JSON.stringify({ type: "ack", acks: [{ clientId: "bad id!", seq: 1, ts: 1 }] }));
    };
    onFrame = (p, f) => {
      const ref = String(f.clientId);
      if (f.text === "long") send(p, { type: "error", code: "text_too_long", message: "too long", retryable: false, ref });
      if (f.text === "hurry") send(p, { type: "error", code: "slow_mode", message: "wait", retryable: true, ref, retryAfterMs: 3000 });
      if (f.text === "flaky" && peers.length === 1) send(p, { type: "error", code: "storage_failed", message: "try again", retryable: true, ref });
      if (f.text === "flaky" && peers.length === 2) send(p, { type: "ack", acks: [{ clientId: ref, seq: 1, ts: 1 }] });
    };
    const { room, errors } = makeRoom();
    await assert.rejects(room.send("long"), (e: unknown) => e instanceof KaiwaError && e.code === "text_too_long" && e.ref === "id2");
    assert.equal(errors[0]?.code, "bad_frame");
    assert.equal(room.status, "open");
    // slow_mode is retryable by the app (later commands may already be accepted), not resent by the client.
    await assert.rejects(room.send("hurry"), (e: unknown) => e instanceof KaiwaError && e.code === "slow_mode" && e.retryable && e.retryAfterMs === 3000);
    assert.equal(peers.length, 1, "slow_mode does not force a reconnect");
    assert.equal((await room.send("flaky")).seq, 1);
    assert.equal(peers.length, 2, "a retryable command error reconnects so the resend stays in order");
    room.close();
  });

  it("an older room (no `accepts: [batch]` in its welcome) gets one frame per command", async () => {
    reset();
    onPeer = (p) => send(p, welcome());
    onFrame = (p, f) => {
      if (f.type === "send") send(p, { type: "ack", acks: [{ clientId: String(f.clientId), seq: Number(f.n), ts: 1 }] });
    };
    const { room } = makeRoom();
    await until(() => room.status === "open", "open");
    await Promise.all(["a", "b", "c"].map((text) => room.send(text)));
    assert.deepEqual(peers[0]!.raw.map((r) => JSON.parse(r).type), ["send", "send", "send"]);
    room.close();
  });

  it("in a live room it signals typing only when the welcome says it is a host or an operator (PROTOCOL R15, R50)", async () => {
    const typedFrames = async (said: Partial<Extract<ServerFrame, { type: "welcome" }>>): Promise<number> => {
      reset();
      onPeer = (p) => send(p, welcome({ room: "live:show", ...said }));
      onFrame = (p, f) => {
        if (f.type === "send") send(p, { type: "ack", acks: [{ clientId: String(f.clientId), seq: 1, ts: 1 }] });
      };
      const { room } = makeRoom({ room: "live:show" });
      await until(() => room.status === "open", "open");
      room.typing();
      await room.send("after the typing call"); // the marker: a typing frame would have left before it
      const types = peers[0]!.raw.map((r) => JSON.parse(r).type);
      room.close();
      return types.filter((t) => t === "typing").length;
    };
    assert.equal(await typedFrames({}), 0, "a viewer: the room would refuse it, so nothing is sent");
    assert.equal(await typedFrames({ host: true }), 1, "a host");
    assert.equal(await typedFrames({ user: { id: "ops", name: "Ops", role: "operator" } }), 1, "an operator");
  });

  it("commands made in one tick leave in one batch frame; the resend after a drop is batched too (PROTOCOL R17)", async () => {
    reset();
    onPeer = (p) => send(p, welcome(peers.length === 1 ? { accepts: ["batch"] } : { resume: { recovered: true }, sessionLastN: 0, accepts: ["batch"] }));
    onFrame = (p, f) => {
      if (peers.length === 1 && p.frames.length === 5) p.ws.terminate(); // all five on the wire, none acked
      if (peers.length === 2 && f.type === "send") send(p, { type: "ack", acks: [{ clientId: String(f.clientId), seq: Number(f.n), ts: 1 }] });
    };
    const { room } = makeRoom();
    await until(() => room.status === "open", "open");
    const sent = ["a", "b", "c", "d", "e"].map((text) => room.send(text));
    assert.deepEqual((await Promise.all(sent)).map((x) => x.seq), [1, 2, 3, 4, 5]);
    for (const peer of peers) {
      assert.equal(peer.raw.length, 1, "one frame on each socket");
      assert.deepEqual(JSON.parse(peer.raw[0]!).commands.map((c: { text: string; n: number }) => [c.text, c.n]), [["a", 1], ["b", 2], ["c", 3], ["d", 4], ["e", 5]]);
    }
    room.close();
  });

  it("rejects invalid or oversized commands locally, and pending work on close()", async () => {
    reset();
    const { room } = makeRoom({ autoConnect: false });
    await assert.rejects(room.edit(0, "x"), (e: unknown) => e instanceof KaiwaError && e.code === "bad_frame");
    await assert.rejects(room.send("x".repeat(20_000)), (e: unknown) => e instanceof KaiwaError && e.code === "frame_too_large");
    const pending = room.send("later");
    const page = room.history({ limit: 10 });
    assert.equal(room.status, "idle");
    room.close();
    await assert.rejects(pending, (e: unknown) => e instanceof KaiwaError && e.code === "closed");
    await assert.rejects(page, (e: unknown) => e instanceof KaiwaError && e.code === "closed");
    assert.equal(peers.length, 0);
  });
});
