/**
 * PROTOCOL R19 against a real `partykit dev`: a socket whose token expires is told (`session_expired`) and
 * closed with 4002; anything it sends after `exp` is refused and not decided; the typed client fetches a
 * fresh token and resumes with no gap and no lost or doubled command. A banned user stays out.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { KaiwaRoom } from "../../client/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawSocket, closedWithin } from "../helpers/raw-socket.ts";
import { openClient, type TestClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";

const server = new DevServer();
const clients: TestClient[] = [];
before(() => server.start());
after(async () => {
  for (const c of clients) c.room.close();
  await server.stop();
});

test("PROTOCOL R19: at exp the socket is told, then closed 4002; a command after exp is refused with its ref and never decided", async () => {
  const room = "expiry-raw";
  const socket = await rawSocket(server, room, { token: await server.token("eve", { expiresIn: "3s" }), session: "e" });
  await socket.next((f) => f.type === "welcome");
  socket.send({ type: "send", clientId: "before", n: 1, text: "in time" });
  assert.deepEqual((await socket.next((f) => f.type === "ack")).acks.map((a: any) => a.seq), [1]);
  const told = await socket.next((f) => f.type === "error", 10_000);
  assert.equal(told.code, "session_expired");
  assert.equal(told.retryable, true);
  socket.send({ type: "send", clientId: "after", n: 2, text: "too late" });
  const refused = await socket.next((f) => f.type === "error" && f.ref === "after", 5_000);
  assert.equal(refused.code, "session_expired");
  assert.equal(await closedWithin(socket, 5_000), 4002);
  const history = await server.fetchJson(`/parties/room/${room}/history`, { token: await server.token("reader") });
  assert.deepEqual(history.body.events.map((e: any) => [e.seq, e.clientId]), [[1, "before"]], "the late command was not decided");
  // The next valid command, on a fresh token, gets lastSeq + 1.
  const fresh = await rawSocket(server, room, { token: await server.token("eve"), session: "e" });
  assert.equal((await fresh.next((f) => f.type === "welcome")).sessionLastN, 1);
  fresh.send({ type: "send", clientId: "after", n: 2, text: "too late" });
  assert.deepEqual((await fresh.next((f) => f.type === "ack")).acks.map((a: any) => [a.seq, a.clientId]), [[2, "after"]]);
  fresh.ws.close();
});

test("PROTOCOL R19: the typed client rides through two expiries: fresh tokens, every message once, in order, gapless", async () => {
  const room = "expiry-client";
  const watcher = await openClient(server, room, "watcher");
  let minted = 0;
  const sender = new KaiwaRoom({ host: server.host, room, WebSocket, backoff: { baseMs: 100, capMs: 500 }, token: () => (minted++, server.token("short", { expiresIn: "3s" })) });
  const observed = { events: [] as any[], acks: new Map<string, number>(), sent: [] as string[], userId: "short" };
  sender.on("event", (event) => observed.events.push(event));
  clients.push(watcher);
  try {
    const texts: string[] = [];
    const started = Date.now();
    // Eight seconds of steady sending: at least two tokens expire under it.
    while (Date.now() - started < 8_000) {
      const text = `t${texts.length}`;
      texts.push(text);
      const ack = await sender.send(text);
      observed.sent.push(ack.clientId);
      observed.acks.set(ack.clientId, ack.seq);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(minted >= 3, `the client fetched ${minted} tokens`);
    await waitFor(() => watcher.observed.events.length === texts.length && observed.events.length === texts.length, 20_000, "everyone saw everything");
    assertRoomConsistent([watcher.observed, observed], texts.length);
    assert.deepEqual(watcher.observed.events.map((e) => (e.kind === "message" ? e.text : "")), texts);
  } finally {
    sender.close();
  }
});
