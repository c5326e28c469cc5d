/**
 * Issue 5 against a real `partykit dev`: a 500-member group. Sockets are opened by the test process (bare
 * `ws` speaking the protocol for the 500, so the load generator stays light, plus the typed client's
 * inbox for list updates). Every member receives every message; receipts converge to the truth; a read on
 * one device reaches the member's other device; presence equals the connected set after random churn;
 * typing appears and expires; the 501st member is refused; a removed member loses access at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { rawPartySocket, rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { assertGapless } from "../helpers/log-check.ts";

const GROUP = "g:big";
const server = new DevServer();
const MEMBERS = Array.from({ length: 500 }, (_, i) => (i === 0 ? "owner" : `m${String(i).padStart(3, "0")}`));
const sockets = new Map<string, RawSocket>();

before(async () => {
  await server.start();
});
after(async () => {
  for (const socket of sockets.values()) socket.ws.terminate();
  await server.stop();
});

async function connect(user: string, session = `${user}-1`): Promise<RawSocket> {
  const socket = await rawSocket(server, GROUP, { token: await server.token(user), session });
  sockets.set(session, socket);
  return socket;
}

async function connectAll(users: string[], concurrency = 25): Promise<void> {
  for (let i = 0; i < users.length; i += concurrency) {
    await Promise.all(users.slice(i, i + concurrency).map((user) => connect(user)));
  }
}

const eventsOf = (socket: RawSocket) => socket.frames.filter((f) => f.type === "events").flatMap((f) => f.events);

/** Presence as a client tracks it: the welcome's list, then the batched joins and leaves. */
function presenceOf(socket: RawSocket): Set<string> {
  const welcome = socket.frames.find((f) => f.type === "welcome");
  const present = new Set<string>(welcome.members.present);
  for (const f of socket.frames) {
    if (f.type !== "presence") continue;
    for (const u of f.joined) present.add(u);
    for (const u of f.left) present.delete(u);
  }
  return present;
}

/** Read positions as a client tracks them: the welcome's, then every receipts frame. */
function readsOf(socket: RawSocket): Map<string, number> {
  const welcome = socket.frames.find((f) => f.type === "welcome");
  const reads = new Map<string, number>(Object.entries(welcome.members.reads));
  for (const f of socket.frames) if (f.type === "receipts") for (const [u, s] of Object.entries(f.reads)) reads.set(u, Math.max(reads.get(u) ?? 0, s as number));
  return reads;
}

describe("a 500-member group", () => {
  it("is created by its owner with 499 invited members and refuses the 501st", async () => {
    const owner = await connect("owner");
    await owner.next((f) => f.type === "welcome");
    owner.send({ type: "group.create", clientId: "create", n: 1, title: "Everyone", members: MEMBERS.slice(1) });
    await owner.next((f) => f.type === "ack");
    owner.send({ type: "member.add", clientId: "too-many", n: 2, user: "m500" });
    assert.equal((await owner.next((f) => f.type === "error" && f.ref === "too-many")).code, "group_full");
    const outsider = await rawSocket(server, GROUP, { token: await server.token("m500"), session: "x" });
    assert.equal((await outsider.next((f) => f.type === "error")).code, "not_member");
    assert.equal((await outsider.closed).code, 4004);
  });

  it("delivers every message to every member, gapless and in one order", async () => {
    await connectAll(MEMBERS.slice(1));
    const senders = MEMBERS.slice(1, 21);
    for (const user of senders) {
      const socket = sockets.get(`${user}-1`)!;
      await socket.next((f) => f.type === "welcome");
      for (let i = 1; i <= 10; i++) socket.send({ type: "send", clientId: `${user}-${i}`, n: i, text: `${user} says ${i}` });
    }
    const total = 1 + senders.length * 10; // the create event, then 200 messages
    await waitFor(() => [...sockets.values()].every((s) => (eventsOf(s).at(-1)?.seq ?? 0) >= total), 60_000, "every member has every event");
    const reference = eventsOf(sockets.get("owner-1")!);
    assertGapless(reference, total, "owner");
    const clientIds = new Set(reference.map((e) => `${e.author.id}/${e.clientId}`));
    assert.equal(clientIds.size, total, "no duplicate (sender, clientId)");
    for (const [session, socket] of sockets) {
      const events = eventsOf(socket);
      assertGapless(events, total, session);
      events.forEach((e, i) => assert.equal(e.clientId, reference[i]!.clientId, `${session} seq ${e.seq}`));
    }
  });

  it("converges receipts to the truth, batched, and shows a read on the member's other device", async () => {
    const secondDevice = await connect("m001", "m001-2");
    await secondDevice.next((f) => f.type === "welcome");
    const truth = new Map<string, number>();
    for (const [i, user] of MEMBERS.entries()) {
      if (i % 3 !== 0) continue;
      const seq = 1 + (i % 150);
      truth.set(user, seq);
      sockets.get(`${user}-1`)!.send({ type: "read", seq, requestId: `r-${user}` });
    }
    sockets.get("m001-1")!.send({ type: "read", seq: 42, requestId: "r-m001", user: "owner" }); // a forged user id is ignored
    truth.set("m001", 42);
    const own = await sockets.get("m001-1")!.next((f) => f.type === "receipts" && f.requestId === "r-m001");
    assert.deepEqual(own.reads, { m001: 42 });
    await secondDevice.next((f) => f.type === "receipts" && f.reads.m001 === 42);
    const observer = sockets.get("m499-1")!;
    await waitFor(() => [...truth].every(([u, s]) => readsOf(observer).get(u) === s), 15_000, "receipts converge");
    const reads = readsOf(observer);
    assert.equal(reads.get("owner"), truth.get("owner"), "the forged read did not move the owner");
    // Per message: how many members have read it, computed from the receipts the client holds.
    const readCount = (seq: number) => [...reads.values()].filter((s) => s >= seq).length;
    const expectedCount = (seq: number) => [...truth.values()].filter((s) => s >= seq).length + MEMBERS.filter((u) => !truth.has(u)).filter(() => seq <= 1).length;
    for (const seq of [2, 50, 100, 151]) assert.equal(readCount(seq), expectedCount(seq), `read count of seq ${seq}`);
    // Batching: far fewer receipts frames than reads.
    const receiptFrames = observer.frames.filter((f) => f.type === "receipts").length;
    assert.ok(receiptFrames <= 10, `${receiptFrames} receipts frames for ${truth.size} reads`);
    // Out of range: typed error, nothing changes.
    const bad = sockets.get("m002-1")!;
    bad.send({ type: "read", seq: 10_000, requestId: "too-far" });
    assert.equal((await bad.next((f) => f.type === "error" && f.ref === "too-far")).code, "read_out_of_range");
    secondDevice.ws.close();
  });

  it("keeps presence equal to the connected set through random churn", async () => {
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const observer = await connect("owner", "owner-observer");
    await observer.next((f) => f.type === "welcome");
    const churn = MEMBERS.slice(100, 400).filter(() => rand() < 0.3);
    for (const user of churn) sockets.get(`${user}-1`)!.ws.close();
    const back = churn.filter(() => rand() < 0.5);
    await sleep(100);
    for (const user of back) await connect(user);
    const connected = new Set<string>();
    for (const [session, socket] of sockets) if (socket.ws.readyState === socket.ws.OPEN) connected.add(session.replace(/-(\d|observer)$/, ""));
    await waitFor(() => {
      const seen = presenceOf(observer);
      return seen.size === connected.size && [...connected].every((u) => seen.has(u));
    }, 15_000, `presence equals the ${connected.size} connected users`);
    const last = observer.frames.filter((f) => f.type === "presence").at(-1);
    assert.equal(last.count, [...sockets.values()].filter((s) => s.ws.readyState === s.ws.OPEN).length);
  });

  it("shows typing and lets it expire by itself", async () => {
    const typist = sockets.get("m010-1")!;
    const watcher = sockets.get("m020-1")!;
    const from = watcher.frames.length;
    typist.send({ type: "typing" });
    await watcher.next((f) => f.type === "typing" && f.users.includes("m010"), 5_000, from);
    const shown = Date.now();
    await watcher.next((f) => f.type === "typing" && !f.users.includes("m010"), 10_000, from);
    const lasted = Date.now() - shown;
    assert.ok(lasted > 4000 && lasted < 7000, `typing lasted ${lasted} ms`);
  });

  it("cuts a removed member off at once", async () => {
    const owner = sockets.get("owner-1")!;
    const victim = sockets.get("m007-1")!;
    owner.send({ type: "member.remove", clientId: "remove-m007", n: 3, user: "m007" });
    const removal = await victim.next((f) => f.type === "events" && f.events.some((e: any) => e.kind === "member" && e.user === "m007"));
    assert.equal(removal.events.find((e: any) => e.kind === "member").action, "remove");
    assert.equal((await victim.next((f) => f.type === "error" && f.code === "not_member")).retryable, false);
    assert.equal((await victim.closed).code, 4004);
    const again = await rawSocket(server, GROUP, { token: await server.token("m007"), session: "m007-2" });
    assert.equal((await again.closed).code, 4004);
    const history = await server.fetchJson(`/parties/room/${GROUP}/history`, { token: await server.token("m007") });
    assert.equal(history.status, 403);
    assert.equal(history.body.error.code, "not_member");
    // The removed member's inbox says so; a remaining member's inbox lists the group.
    const list = async (user: string) => (await server.fetchJson(`/parties/inbox/${user}/conversations`, { token: await server.token(user) })).body;
    await waitFor(async () => (await list("m007")).conversations.some((c: any) => c.room === GROUP && c.left === true), 20_000, "m007's list marks the group left");
    await waitFor(async () => (await list("m123")).conversations.some((c: any) => c.room === GROUP && c.kind === "group" && c.title === "Everyone"), 20_000, "m123's list has the group");
  });
});
