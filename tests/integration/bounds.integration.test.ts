/**
 * PROTOCOL §7 and PROTOCOL R11 against a real `partykit dev`: what input can grow is bounded, and every refusal is typed.
 * - HTTP: URLs, headers and bodies (declared or chunked) over the limits get 414/431 `bad_frame` and 413
 *   `frame_too_large`, change nothing, and the next request works.
 * - `Upgrade: websocket` on a request that is no handshake (a POST to a room's commands route) gets a typed
 *   400, not the runtime's 500 with an uncaught error in its log, and no socket is opened.
 * - Frames: over `maxFrameBytes` → `frame_too_large`, the socket stays open; over the runtime's 1 MiB the
 *   runtime closes the socket (1009) before the room sees the frame; either way the room is unchanged.
 * - The inbox: devices per user, frames per device.
 * - Slow-loris: a connection that never finishes its request is closed by the runtime.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { closedWithin, rawPartySocket, rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { LIMITS } from "../../party/protocol/index.ts";

// Rooms here keep at most 10 sessions in memory, so the bound is reached with a few sockets; every other
// test in this file then also runs with sessions coming and going from memory, and must not notice.
const server = new DevServer({ vars: { KAIWA_TEST_MAX_SESSIONS_IN_MEMORY: 10 } });
let operator = "";
before(async () => {
  await server.start();
  operator = await server.token("ops", { operator: true });
});
after(() => server.stop());

type Raw = { status: number; body: any; text: string } | { error: string };

/** One request on its own connection, with whatever method, headers and body a test needs (fetch refuses some). */
function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer | string | { chunked: number }): Promise<Raw> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: "127.0.0.1", port: server.port, method, path, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: undefined, text: "upgraded" });
    });
    req.on("error", (error) => resolve({ error: error.message }));
    if (body && typeof body === "object" && "chunked" in body) {
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      let left = body.chunked;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      req.on("error", () => (left = 0));
      pump();
    } else {
      if (body) req.write(body);
      req.end();
    }
  });
}

function expectTyped(result: Raw, status: number, code: string, label: string): void {
  assert.ok(!("error" in result), `${label}: ${"error" in result ? result.error : ""}`);
  assert.equal(result.status, status, `${label}: ${result.text.slice(0, 200)}`);
  assert.equal(result.body?.error?.code, code, `${label}: ${result.text.slice(0, 200)}`);
  assert.equal(typeof result.body.error.message, "string");
  assert.equal(result.body.error.retryable, false);
}

async function stats(room: string): Promise<{ lastSeq: number; connections: number; settings: Record<string, unknown> }> {
  const { status, body } = await server.fetchJson(`/parties/room/${room}/stats`, { token: operator });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

async function join(room: string, user: string): Promise<RawSocket> {
  const socket = await rawSocket(server, room, { token: await server.token(user), session: `${user}-${Math.random().toString(36).slice(2, 8)}` });
  await socket.next((f) => f.type === "welcome");
  return socket;
}

async function post(socket: RawSocket, clientId: string, n: number): Promise<number> {
  const from = socket.frames.length;
  socket.send({ type: "send", clientId, n, text: `message ${clientId}` });
  const ack = await socket.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === clientId), 10_000, from);
  return ack.acks.find((a: any) => a.clientId === clientId).seq;
}

/** What the runtime prints when something was not handled: none of it may follow a bounded refusal. */
const UNHANDLED = /Uncaught|✘ \[ERROR\]|internal error/;

test("PROTOCOL §7: URLs, headers and bodies over the limits get typed 414/431/413, change nothing, and the next request works", async () => {
  const room = "bounds-http";
  const alice = await join(room, "alice");
  assert.equal(await post(alice, "a1", 1), 1);
  const before = await stats(room);
  const auth = { authorization: `Bearer ${operator}` };
  const settingsPath = `/parties/room/${room}/settings`;
  const mark = server.logMark();
  const longUrl = `/parties/room/${room}/history?pad=${"a".repeat(LIMITS.maxUrlBytes)}`;
  const manyHeaders: Record<string, string> = { ...auth };
  for (let i = 0; i <= LIMITS.maxHeaderCount; i++) manyHeaders[`x-h${i}`] = "v";
  const patch = (bytes: number) => JSON.stringify({ slowModeMs: 5000 }) + " ".repeat(bytes);
  const cases: Array<{ name: string; send: () => Promise<Raw>; status: number; code: string }> = [
    { name: "room URL over maxUrlBytes", send: () => raw("GET", longUrl, auth), status: 414, code: "bad_frame" },
    { name: "headers over maxHeaderBytes", send: () => raw("GET", `/parties/room/${room}/history`, { ...auth, "x-pad": "a".repeat(LIMITS.maxHeaderBytes) }), status: 431, code: "bad_frame" },
    { name: "more than maxHeaderCount headers", send: () => raw("GET", `/parties/room/${room}/history`, manyHeaders), status: 431, code: "bad_frame" },
    { name: "declared body over maxRequestBodyBytes", send: () => raw("PATCH", settingsPath, { ...auth, "content-type": "application/json" }, patch(LIMITS.maxRequestBodyBytes)), status: 413, code: "frame_too_large" },
    { name: "chunked body over maxRequestBodyBytes", send: () => raw("PATCH", settingsPath, { ...auth, "transfer-encoding": "chunked" }, { chunked: 256 * 1024 }), status: 413, code: "frame_too_large" },
    { name: "admin API chunked body", send: () => raw("POST", `/admin/rooms/${room}/announce`, { ...auth, "transfer-encoding": "chunked" }, { chunked: 256 * 1024 }), status: 413, code: "frame_too_large" },
    { name: "admin API declared body", send: () => raw("POST", `/admin/rooms/${room}/announce`, { ...auth, "content-type": "application/json" }, JSON.stringify({ text: "x" }) + " ".repeat(LIMITS.maxRequestBodyBytes)), status: 413, code: "frame_too_large" },
    { name: "admin API URL", send: () => raw("GET", `/admin/rooms?q=${"a".repeat(LIMITS.maxUrlBytes)}`, auth), status: 414, code: "bad_frame" },
    { name: "search URL", send: () => raw("GET", `/archive/search?q=${"a".repeat(LIMITS.maxUrlBytes)}`, auth), status: 414, code: "bad_frame" },
    { name: "inbox headers", send: () => raw("GET", "/parties/inbox/ops/conversations", { ...auth, "x-pad": "a".repeat(LIMITS.maxHeaderBytes) }), status: 431, code: "bad_frame" },
    { name: "unauthenticated body over the bound", send: () => raw("POST", `/parties/room/${room}/commands`, { "transfer-encoding": "chunked" }, { chunked: 256 * 1024 }), status: 401, code: "unauthorized" },
  ];
  for (const { name, send, status, code } of cases) {
    expectTyped(await send(), status, code, name);
    // The next request works, and the room is as it was.
    const now = await stats(room);
    assert.equal(now.lastSeq, before.lastSeq, `${name}: lastSeq`);
    assert.deepEqual(now.settings, before.settings, `${name}: settings`);
  }
  // Within the bounds everything still goes through: a padded body just under the limit is read whole.
  const ok = await raw("PATCH", settingsPath, { ...auth, "content-type": "application/json" }, patch(LIMITS.maxRequestBodyBytes - 100));
  assert.ok(!("error" in ok) && ok.status === 200, JSON.stringify(ok).slice(0, 300));
  assert.equal((await stats(room)).settings.slowModeMs, 5000);
  const announce = await raw("POST", `/admin/rooms/${room}/announce`, { ...auth, "content-type": "application/json" }, JSON.stringify({ text: "still here", clientId: "ann-1" }));
  assert.ok(!("error" in announce) && announce.status === 200, JSON.stringify(announce).slice(0, 300));
  assert.equal(announce.body.seq, before.lastSeq + 1, "the next event gets lastSeq + 1");
  assert.doesNotMatch(server.logSince(mark), UNHANDLED);
  alice.ws.close();
});

test("PROTOCOL §7: Upgrade: websocket on a request that is no handshake gets a typed 400; no socket, no uncaught error", async () => {
  const room = "bounds-upgrade";
  const alice = await join(room, "alice");
  assert.equal(await post(alice, "u1", 1), 1);
  const before = await stats(room);
  const user = await server.token("alice");
  const upgrade = { upgrade: "websocket", connection: "Upgrade" };
  const key = { "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
  const body = JSON.stringify({ items: [{ session: "s", command: { type: "send", clientId: "x1", n: 1, text: "smuggled" } }] });
  const mark = server.logMark();
  const cases: Array<[string, () => Promise<Raw>]> = [
    ["POST commands with a token", () => raw("POST", `/parties/room/${room}/commands`, { authorization: `Bearer ${user}`, "content-type": "application/json", ...upgrade }, body)],
    ["POST commands with the handshake's keys too", () => raw("POST", `/parties/room/${room}/commands`, { authorization: `Bearer ${user}`, "content-type": "application/json", ...upgrade, ...key }, body)],
    ["POST commands without a token", () => raw("POST", `/parties/room/${room}/commands`, upgrade, body)],
    ["GET history without the handshake's keys", () => raw("GET", `/parties/room/${room}/history`, { authorization: `Bearer ${user}`, ...upgrade })],
    ["POST an inbox's notify route", () => raw("POST", "/parties/inbox/alice/notify", { authorization: `Bearer ${user}`, ...upgrade }, "{}")],
    ["POST the admin API", () => raw("POST", `/admin/rooms/${room}/announce`, { authorization: `Bearer ${operator}`, ...upgrade }, JSON.stringify({ text: "x" }))],
    ["GET search", () => raw("GET", "/archive/search?q=x", { authorization: `Bearer ${user}`, ...upgrade, ...key })],
    ["POST the directory", () => raw("POST", "/parties/directory/main", { authorization: `Bearer ${user}`, ...upgrade }, "{}")],
  ];
  for (const [name, send] of cases) {
    const result = await send();
    expectTyped(result, 400, "bad_frame", name);
    assert.match((result as { body: any }).body.error.message, /Upgrade: websocket/, name);
  }
  // A positive marker instead of a pause: a later request's own log line shows the runtime has printed
  // whatever the refused requests made it print (each was answered before this one was sent).
  // (None of the cases above asks for /health, so its line is the marker.)
  await fetch(server.url + "/health");
  await waitFor(() => server.logSince(mark).includes("GET /health"), 10_000, "the marker request in the log");
  assert.doesNotMatch(server.logSince(mark), UNHANDLED, "nothing uncaught in the runtime's log");
  const now = await stats(room);
  assert.equal(now.lastSeq, before.lastSeq, "nothing was decided");
  assert.equal(now.connections, before.connections, "no socket was opened for them");
  // A real handshake still gets its socket, and the room goes on.
  const bob = await join(room, "bob");
  assert.equal(await post(bob, "b1", 1), 2);
  alice.ws.close();
  bob.ws.close();
});

test("PROTOCOL R11: a frame over maxFrameBytes gets frame_too_large and the socket stays open; one over the runtime's 1 MiB is closed with 1009, the room unchanged", async () => {
  const room = "bounds-frames";
  const alice = await join(room, "alice");
  const watcher = await join(room, "watcher");
  assert.equal(await post(alice, "f1", 1), 1);
  const before = await stats(room);

  // 20 KiB: the room's own limit.
  const from = alice.frames.length;
  alice.send({ type: "send", clientId: "big1", n: 2, text: "x".repeat(20 * 1024) });
  const refused = await alice.next((f) => f.type === "error", 10_000, from);
  assert.equal(refused.code, "frame_too_large");
  assert.equal(refused.ref, undefined, "the frame is not parsed, so no ref");
  assert.equal(await post(alice, "f2", 2), 2, "the socket stays open and the next message gets lastSeq + 1");

  // Just over the runtime's limit, and far over it: the runtime closes the socket before the room sees it.
  for (const size of [LIMITS.runtimeMaxFrameBytes + 1024, 2 * LIMITS.runtimeMaxFrameBytes]) {
    const victim = await join(room, "victim");
    const victimFrom = victim.frames.length;
    victim.ws.send(JSON.stringify({ type: "send", clientId: `huge-${size}`, n: 1, text: "y".repeat(size) }));
    const code = await closedWithin(victim, 10_000);
    // 1009 with its reason when the close frame reaches the client first; a client still sending a
    // large frame may see the transport reset instead (1006).
    assert.ok(code === 1009 || code === 1006, `closed with ${code}`);
    if (size === LIMITS.runtimeMaxFrameBytes + 1024) assert.equal(code, 1009, "just over the limit: the runtime's 1009");
    assert.equal(victim.frames.slice(victimFrom).filter((f) => f.type === "error").length, 0, "no error frame: the room never saw it");
  }
  await waitFor(async () => (await stats(room)).connections === before.connections, 10_000, "the closed sockets leave the room's count");
  const now = await stats(room);
  assert.equal(now.lastSeq, 2, "nothing of the huge frames was decided");
  assert.equal(await post(alice, "f3", 3), 3);
  assert.equal(await post(watcher, "w1", 1), 4, "other sockets are unaffected");
  alice.ws.close();
  watcher.ws.close();
});

test("PROTOCOL §7: an inbox admits at most maxSocketsPerUser devices; a device flooding frames is cut off with rate_limited and 4029", async () => {
  const token = await server.token("carol");
  const devices: RawSocket[] = [];
  for (let i = 0; i < LIMITS.maxSocketsPerUser; i++) {
    const device = await rawPartySocket(server, "inbox", "carol", { token, session: `carol-${i}` });
    await device.next((f) => f.type === "welcome");
    devices.push(device);
  }
  const extra = await rawPartySocket(server, "inbox", "carol", { token, session: "carol-extra" });
  const refusal = await extra.next((f) => f.type === "error");
  assert.equal(refusal.code, "rate_limited");
  assert.equal(refusal.retryAfterMs, LIMITS.socketsRetryAfterMs);
  assert.equal(await closedWithin(extra, 10_000), 4029);
  // A device reconnecting in its own session replaces its old socket instead of adding one.
  const again = await rawPartySocket(server, "inbox", "carol", { token, session: "carol-0" });
  await again.next((f) => f.type === "welcome");
  assert.equal(await closedWithin(devices[0]!, 10_000), 4012);

  // Frames: a burst past socketFrameBurst, none of them waiting for anything.
  const flooder = devices[1]!;
  const flood = LIMITS.socketFrameBurst + 50;
  const floodStarted = Date.now();
  for (let i = 0; i < flood; i++) flooder.send({ type: "list", requestId: `l${i}`, limit: 1 });
  const limited = await flooder.next((f) => f.type === "error" && f.code === "rate_limited", 10_000);
  // The bucket refills while the flood is read: on a loaded machine that takes a while, so the bound is
  // the burst plus what the refill rate gave during that time.
  const refilled = Math.ceil(((Date.now() - floodStarted) / 1000) * LIMITS.socketFramesPerSecond);
  assert.ok(limited.retryAfterMs > 0);
  assert.equal(await closedWithin(flooder, 10_000), 4029);
  const answered = flooder.frames.filter((f) => f.type === "list").length;
  assert.ok(answered <= LIMITS.socketFrameBurst + refilled + 5 && answered >= LIMITS.socketFrameBurst - 5, `${answered} lists answered (burst ${LIMITS.socketFrameBurst}, ${refilled} refilled)`);
  // The other devices are unaffected.
  const other = devices[2]!;
  const from = other.frames.length;
  other.send({ type: "list", requestId: "still", limit: 1 });
  await other.next((f) => f.type === "list" && f.requestId === "still", 10_000, from);
  for (const device of [...devices, again]) device.ws.close();
});

test("PROTOCOL §7: a room admits at most maxSocketsPerUser sockets of one user; a resumed session and an observer add none; the room is unchanged", async () => {
  const room = "bounds-sockets";
  const token = await server.token("dora");
  const sockets: RawSocket[] = [];
  for (let i = 0; i < LIMITS.maxSocketsPerUser; i++) {
    const socket = await rawSocket(server, room, { token, session: `dora-${i}` });
    await socket.next((f) => f.type === "welcome");
    sockets.push(socket);
  }
  assert.equal(await post(sockets[0]!, "s1", 1), 1);
  const extra = await rawSocket(server, room, { token, session: "dora-extra" });
  const refusal = await extra.next((f) => f.type === "error");
  assert.equal(refusal.code, "rate_limited");
  assert.equal(refusal.retryAfterMs, LIMITS.socketsRetryAfterMs);
  assert.equal(await closedWithin(extra, 10_000), 4029);
  assert.equal(extra.frames.filter((f) => f.type === "welcome").length, 0, "refused before any welcome");
  // Her session reconnecting replaces its socket instead of adding one (PROTOCOL R13).
  const again = await rawSocket(server, room, { token, session: "dora-1" });
  await again.next((f) => f.type === "welcome");
  assert.equal(await closedWithin(sockets[1]!, 10_000), 4012);
  // Someone else, and an operator watching, are not hers to count.
  const eve = await join(room, "eve");
  const watcher = await rawSocket(server, room, { token: operator, session: "ops-watch", observe: "1" });
  await watcher.next((f) => f.type === "welcome");
  assert.equal(await post(again, "s2", 2), 2, "the next command gets lastSeq + 1");
  assert.equal(await post(eve, "e1", 1), 3);
  // A closed socket frees its place.
  const open = (await stats(room)).connections;
  sockets[2]!.ws.close();
  await waitFor(async () => (await stats(room)).connections === open - 1, 10_000, "the closed socket leaves the room's count");
  const freed = await rawSocket(server, room, { token, session: "dora-late" });
  await freed.next((f) => f.type === "welcome");
  for (const s of [...sockets, again, eve, watcher, freed]) s.ws.close();
});

test("PROTOCOL §7: past maxSessionsInMemory a room forgets sessions no socket holds; each comes back from storage with its lastN (PROTOCOL I3, I4)", async () => {
  const room = "bounds-sessions";
  const token = await server.token("sam");
  const seqs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const socket = await rawSocket(server, room, { token, session: `sam-${i}` });
    await socket.next((f) => f.type === "welcome");
    seqs.push(await post(socket, `sam-${i}-a`, 1));
    socket.ws.close();
    await closedWithin(socket, 10_000);
  }
  assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i + 1), "gapless");
  await waitFor(async () => (await stats(room)).connections === 0, 10_000, "every socket gone");
  const inMemory = ((await stats(room)) as any).work.sessionsInMemory;
  assert.ok(inMemory <= 11, `${inMemory} sessions in memory, bound 10`);
  // An old session, long forgotten: its command numbers and clientIds are still known.
  const back = await rawSocket(server, room, { token, session: "sam-3" });
  const welcome = await back.next((f) => f.type === "welcome");
  assert.equal(welcome.sessionLastN, 1, "lastN reloaded from storage");
  let from = back.frames.length;
  back.send({ type: "send", clientId: "sam-3-replayed-n", n: 1, text: "an old number" });
  const refused = await back.next((f) => f.type === "error", 10_000, from);
  assert.equal(refused.code, "out_of_order");
  assert.equal(refused.expected, 2);
  from = back.frames.length;
  back.send({ type: "send", clientId: "sam-3-a", n: 1, text: "a resend" });
  const duplicate = await back.next((f) => f.type === "ack", 10_000, from);
  assert.deepEqual(duplicate.acks.map((a: any) => [a.clientId, a.seq, a.duplicate]), [["sam-3-a", 4, true]]);
  assert.equal(await post(back, "sam-3-b", 2), 31, "the next command gets lastSeq + 1");
  back.ws.close();
});

test("PROTOCOL §7: a connection that never finishes its request is closed by the runtime (15 s), and one that never sends anything too", async () => {
  const started = Date.now();
  const dripping = connect(server.port, "127.0.0.1");
  const silent = connect(server.port, "127.0.0.1");
  await Promise.all([dripping, silent].map((socket) => new Promise((resolve) => socket.once("connect", resolve))));
  dripping.write(`GET /parties/room/loris?session=s HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  const drip = setInterval(() => dripping.write("X-Slow: 1\r\n"), 2000);
  const closed = (socket: typeof silent) => new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  const [dripMs, silentMs] = await Promise.race([
    Promise.all([closed(dripping), closed(silent)]),
    sleep(40_000).then(() => [Infinity, Infinity]),
  ]);
  clearInterval(drip);
  dripping.destroy();
  silent.destroy();
  assert.ok(dripMs < 30_000, `dripping headers closed after ${dripMs} ms`);
  assert.ok(silentMs < 30_000, `silent connection closed after ${silentMs} ms`);
});
