/**
 * Issue 4, offline delivery against a real `partykit dev`: bob is offline while alice sends 50 DMs. A local
 * HTTP receiver checks every push's HMAC signature, fails the first call (the retry must come), and
 * counts; a 51st DM sent once the 50 pushes are in is pushed after anything they could still cause (the
 * inbox pushes in order), so "no push twice" needs no waiting. When bob connects he finds the conversation
 * with unread 51, marked as changed while away, and fetches all 51 messages, in order, from the room's log.
 */
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawPartySocket } from "../helpers/raw-socket.ts";

const PUSH_SECRET = "push-secret-for-tests";
const DM = "dm:alice:bob";
type Push = { user: string; room: string; seq: number; from: { id: string; name: string }; preview: string };

let receiver: Server;
const calls: Array<{ status: number; push: Push }> = [];
const badSignatures: string[] = [];
let server: DevServer;

before(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const timestamp = String(request.headers["x-kaiwa-timestamp"]);
      const expected = "v1=" + createHmac("sha256", PUSH_SECRET).update(`${timestamp}.${body}`).digest("hex");
      const got = String(request.headers["x-kaiwa-signature"]);
      if (got.length !== expected.length || !timingSafeEqual(Buffer.from(got), Buffer.from(expected))) {
        badSignatures.push(got);
        response.writeHead(401).end();
        return;
      }
      const status = calls.length === 0 ? 500 : 204; // the first call fails: the hook must retry it
      calls.push({ status, push: JSON.parse(body) });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const address = receiver.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server = new DevServer({ vars: { KAIWA_PUSH_URL: `http://127.0.0.1:${port}/push`, KAIWA_PUSH_SECRET: PUSH_SECRET } });
  await server.start();
});
after(async () => {
  await server.stop();
  receiver.close();
});

describe("offline delivery", () => {
  it("queues for an offline user, pushes with a valid HMAC (retrying a failure), and delivers them all on connect (PROTOCOL IB5)", async () => {
    const alice = await rawPartySocket(server, "inbox", "alice", { token: await server.token("alice", { name: "Alice" }), session: "a1" });
    await alice.next((f) => f.type === "welcome");
    for (let i = 1; i <= 50; i++) alice.send({ type: "dm", to: "bob", clientId: `m${i}`, n: i, text: `message ${i} ` + "あ".repeat(120) });
    await waitFor(() => alice.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks).length === 50, 20_000, "50 acks");
    const acks = alice.frames.filter((f) => f.type === "ack").flatMap((f) => f.acks);
    assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 50 }, (_, i) => i + 1), "acked in order, one seq each");

    // Pushes: one per message, each signed; the failed first call is retried, nothing is lost or doubled.
    await waitFor(() => calls.filter((c) => c.status === 204).length >= 50, 30_000, "50 delivered pushes");
    // The marker: message 51's push is queued behind anything the first 50 could still cause (a retry done
    // twice, a redelivery from the room: the room tells bob's inbox in order, the inbox pushes in order).
    alice.send({ type: "dm", to: "bob", clientId: "m51", n: 51, text: "message 51 " + "あ".repeat(120) });
    await waitFor(() => calls.some((c) => c.status === 204 && c.push.seq === 51), 30_000, "the marker's push");
    assert.deepEqual(badSignatures, []);
    assert.equal(calls[0]!.status, 500);
    const delivered = calls.filter((c) => c.status === 204).map((c) => c.push);
    assert.equal(calls.length, 52, "51 pushes plus one retry");
    assert.deepEqual(delivered.map((p) => p.seq), Array.from({ length: 51 }, (_, i) => i + 1));
    assert.equal(calls[1]!.push.seq, calls[0]!.push.seq, "the failed push is retried first");
    for (const push of delivered) {
      assert.equal(push.user, "bob");
      assert.equal(push.room, DM);
      assert.deepEqual(push.from, { id: "alice", name: "Alice" });
      assert.equal(push.preview.length, 100);
      assert.ok(push.preview.startsWith(`message ${push.seq} `));
    }

    // Bob connects: the list says unread 51 and that the DM changed while away; sync fetches all 51 in order.
    const bob = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "b1" });
    const welcome = await bob.next((f) => f.type === "welcome");
    assert.deepEqual(welcome.changedWhileAway, [DM]);
    assert.equal(welcome.totalUnread, 51);
    const conversation = welcome.conversations.find((c: any) => c.room === DM);
    assert.equal(conversation.lastSeq, 51);
    assert.equal(conversation.unread, 51);
    assert.equal(conversation.peer, "alice");
    assert.equal(conversation.preview.seq, 51);
    assert.equal(welcome.contacts.find((c: any) => c.user === "alice")?.online, true);
    const seen: any[] = [];
    let after = 0;
    for (let page = 0; page < 10; page++) {
      bob.send({ type: "sync", requestId: `s${page}`, room: DM, after, limit: 20 });
      const sync = await bob.next((f) => f.type === "sync" && f.requestId === `s${page}`);
      seen.push(...sync.events);
      after = sync.events.at(-1)?.seq ?? after;
      if (!sync.hasMore) break;
    }
    assert.deepEqual(seen.map((e) => e.seq), Array.from({ length: 51 }, (_, i) => i + 1));
    assert.deepEqual(seen.map((e) => e.clientId), Array.from({ length: 51 }, (_, i) => `m${i + 1}`));
    // The offline queue is cleared once delivered; a second device does not see it again.
    const second = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "b2" });
    assert.deepEqual((await second.next((f) => f.type === "welcome")).changedWhileAway, []);
    // Alice sees bob come online (contacts are DM peers).
    await alice.next((f) => f.type === "presence" && f.user === "bob" && f.online === true);
    const onlineAt = alice.frames.findIndex((f) => f.type === "presence" && f.user === "bob" && f.online === true);
    // The first device closes. Its close is answered from bob's inbox's close handler, in the same turn that
    // would stamp an offline (party/inbox/devices.ts): once the client sees the close, any offline it
    // caused carries a lastSeen at or before `firstClosed`. The offline the second device's close causes is
    // stamped later (the clock is moved past `firstClosed` first), so the two can be told apart by lastSeen.
    bob.ws.close();
    await bob.closed;
    const firstClosed = Date.now();
    while (Date.now() <= firstClosed) await new Promise((resolve) => setImmediate(resolve));
    second.ws.close();
    const offline = await alice.next((f) => f.type === "presence" && f.user === "bob" && f.online === false && f.lastSeen > firstClosed, 10_000, onlineAt + 1);
    // Nothing for bob reached alice before it: still online while a second device was connected. (An early
    // offline arriving after it is older than what alice's inbox knows and is never passed on.)
    const bobFrames = alice.frames.slice(onlineAt + 1).filter((f) => f.type === "presence" && f.user === "bob");
    assert.deepEqual(bobFrames, [offline], "still online while a second device was connected");
    // Bob was online meanwhile: no push for what he could see live.
    assert.equal(calls.length, 52);
  });
});
