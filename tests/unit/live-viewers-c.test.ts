/**
 * The live bench's C load generator (bench/live-viewers.c) against a scripted WebSocket server: it must
 * follow a redirect, read frames of every length encoding and in fragments, count a gap as a problem and
 * drop a repeated seq as the typed client does (PROTOCOL R7), record each message's latency from the send
 * time in its text, report bans, and report a refused join rather than wait for it. Real sockets, a real
 * compiled binary; a missing C compiler fails under CI=true.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocketServer, type WebSocket } from "ws";
import { ask, buildCViewers, compilerMissing, CViewers } from "../../bench/lib/c-viewers.ts";
import type { DoneMessage, ReadyMessage, ViewerSpec } from "../../bench/live-viewers.ts";

const missing = compilerMissing();

function events(seqs: number[], sentAgoMs: number, pad = 0): string {
  const sent = Date.now() - sentAgoMs - 0.375; // a fraction, as the bench's `performance` clock writes it
  return JSON.stringify({ type: "events", events: seqs.map((seq) => ({ kind: "message", seq, ts: sent + 1, author: { id: "op", role: "operator" }, clientId: `c${seq}`, text: `t=${sent}${" ".repeat(pad)}` })) });
}

/** A server scripted per path: the room redirects to its relay; the relay welcomes and streams the given frames. */
async function scriptedServer(onRelay: (ws: WebSocket, user: string) => void) {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  const addresses: string[] = [];
  server.on("connection", (ws, request) => {
    const url = new URL(request.url!, "http://x");
    const user = url.searchParams.get("session")!.slice(2);
    addresses.push(request.socket.remoteAddress!);
    if (url.pathname === "/parties/room/live:x") ws.send(JSON.stringify({ type: "redirect", party: "relay", id: "live:x~0", shard: 0, shards: 1 }));
    else if (url.pathname === "/parties/relay/live:x~0") {
      ws.send(JSON.stringify({ type: "welcome", room: "live:x", epoch: "e", lastSeq: 0, pins: [{ seq: 99, by: "op", ts: 1 }] }));
      onRelay(ws, user);
    } else ws.close(4003, "forbidden");
  });
  const port = (server.address() as { port: number }).port;
  return { server, addresses, host: `127.0.0.1:${port}` };
}

test("the C generator follows the redirect, reads every frame shape, counts a gap, drops a repeat, times each message, reports a ban", { skip: missing }, async () => {
  const { server, addresses, host } = await scriptedServer((ws, user) => {
    ws.send(events([1, 2], 40)); // one frame, two events
    ws.send(events([2], 40)); // a repeat: dropped, not a problem (PROTOCOL R7)
    ws.send(events([3], 40, 70_000)); // over 65,535 bytes: the 64-bit length
    ws.send("pong");
    ws.send(Buffer.from([1, 2, 3]), { binary: true }); // an awareness frame: not read
    const fragmented = events([4], 40);
    ws.send(fragmented.slice(0, 10), { fin: false });
    ws.send(fragmented.slice(10), { fin: true });
    if (user === "gappy") ws.send(events([6], 40)); // 5 never came: a gap
    else ws.send(events([5, 6], 40));
    if (user === "banned") ws.send(JSON.stringify({ type: "error", code: "banned", retryAfterMs: 1000 }));
  });
  const generator = new CViewers(buildCViewers());
  try {
    const viewers: ViewerSpec[] = ["plain", "gappy", "banned"].map((user, i) => ({ user, token: `tok-${user}`, party: "room", id: "live:x", host, address: `127.0.0.${2 + i}` }));
    const ready = await ask<ReadyMessage>(generator, { type: "start", viewers, seqsPerSlot: 2 }, "ready");
    assert.deepEqual([ready.joined, ready.failed], [3, 0]);
    assert.deepEqual(new Set(addresses), new Set(["127.0.0.2", "127.0.0.3", "127.0.0.4"]), "each viewer from its own source address, on the room and then its relay");
    assert.equal(addresses.length, 6, "each viewer connected twice: the room, then the relay it was sent to");
    const done = await ask<DoneMessage>(generator, { type: "finish", lastSeq: 6 }, "done");
    assert.equal(done.problems, 1, "the one gap (seq 5 of the gappy viewer)");
    assert.equal(done.behind, 0);
    assert.equal(done.frames, 3 * 5, "five events frames each (the repeat and the fragmented one included), not the pong or the binary frame");
    assert.equal(done.latency.count, 3 * 6 - 1, "every seq of every viewer once, but the one never sent");
    // Every figure, not only the largest: read from the text (`t=<ms>`) and from the commit (`ts`, 1 ms later).
    const range = (h: { buckets: Array<[number, number]> }): [number, number] => [h.buckets[0]![0] / 10, h.buckets[h.buckets.length - 1]![0] / 10];
    const [least, most] = range(done.latency);
    assert.ok(least >= 40 && most < 5_000, `latency from the send time in the text: ${least}-${most} ms`);
    const fromCommit = done.afterCommit.filter((h) => h !== null).map(range);
    assert.equal(fromCommit.length, 4);
    for (const [low, high] of fromCommit) assert.ok(low >= 39 && high < 4_999, `latency from the commit: ${low}-${high} ms`);
    assert.deepEqual(done.timeline.map((h) => h?.count ?? 0), [3, 6, 5, 3], "per slot of two seqs: seq 1; 2-3; 4-5 (5 missing once); 6");
    const bans = await ask<{ bannedAt: Record<string, number> }>(generator, { type: "bans" }, "bans");
    assert.deepEqual(Object.keys(bans.bannedAt), ["banned"]);
  } finally {
    generator.send({ type: "exit" });
    server.close();
  }
});

test("the C generator reports a join the server keeps refusing, after its retries, instead of waiting", { skip: missing }, async () => {
  const { server, host } = await scriptedServer(() => undefined);
  const generator = new CViewers(buildCViewers());
  try {
    const viewers: ViewerSpec[] = [
      { user: "ok", token: "t", party: "relay", id: "live:x~0", host, address: "127.0.0.2" },
      { user: "refused", token: "t", party: "relay", id: "live:nowhere~0", host, address: "127.0.0.3" },
    ];
    const ready = await ask<ReadyMessage>(generator, { type: "start", viewers }, "ready");
    assert.deepEqual([ready.joined, ready.failed], [1, 1]);
    assert.match(Object.keys(ready.errors).join(), /closed by the server/);
    // Nothing was posted: the report still carries a latency histogram (empty, as the Node generator's: the
    // bench adds them up), and the refused viewer counts as behind without being waited for (60 s).
    const asked = performance.now();
    const done = await ask<DoneMessage>(generator, { type: "finish", lastSeq: 0 }, "done");
    assert.ok(performance.now() - asked < 5_000, "a viewer that can get nothing more is not waited for");
    assert.deepEqual(done.latency, { buckets: [], count: 0, sum: 0, max: 0 });
    assert.equal(done.behind, 1);
  } finally {
    generator.send({ type: "exit" });
    server.close();
  }
});
