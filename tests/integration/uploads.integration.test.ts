/**
 * Files in messages against a real `partykit dev` and the real embedded S3 server (PROTOCOL R30-R33): a slot
 * only for a member who may post, the bytes straight to the store under a signature bound to their length
 * and type, the object checked before it is attached, members-only downloads, and removal with the message.
 * Every refusal is typed, changes nothing, and the next valid command gets lastSeq + 1.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { openClient } from "../helpers/clients.ts";
import WebSocket from "ws";
import { KaiwaError, KaiwaInbox } from "../../client/index.ts";
import { sendFile, type UploadProgress } from "../../client/files.ts";
import { join as joinPath } from "node:path";
import { ARTIFACTS_DIR, chromiumMissing, launchChromium } from "../helpers/browser.ts";
import { rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { TestObjectStore } from "../helpers/object-store.ts";
import { elf, pdf, png } from "../helpers/files.ts";
import { ERRORS, type ErrorCode, type UploadSlot } from "../../party/protocol/index.ts";

const store = new TestObjectStore();
let server: DevServer;
const ROOM = "g:files";
const sockets: RawSocket[] = [];

before(async () => {
  const vars = await store.start();
  server = new DevServer({ vars });
  await server.start();
});
after(async () => {
  for (const socket of sockets) socket.ws.close();
  await server.stop();
  await store.stop();
});

async function join(room: string, user: string): Promise<RawSocket & { n: number }> {
  const socket = await rawSocket(server, room, { token: await server.token(user, { name: user }), session: `${user}-s` });
  sockets.push(socket);
  const welcome = await socket.next((f) => f.type === "welcome");
  return Object.assign(socket, { n: welcome.sessionLastN as number });
}

type Joined = Awaited<ReturnType<typeof join>>;

async function command(socket: Joined, body: Record<string, unknown>, clientId: string): Promise<any> {
  socket.n++;
  socket.send({ ...body, clientId, n: socket.n });
  return socket.next((f) => (f.type === "ack" && f.acks.some((a: any) => a.clientId === clientId)) || (f.type === "error" && f.ref === clientId));
}

async function askSlot(room: string, user: string, body: unknown): Promise<{ status: number; body: any }> {
  return server.fetchJson(`/parties/room/${room}/uploads`, { method: "POST", token: await server.token(user), headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function upload(room: string, user: string, name: string, type: string, bytes: Uint8Array): Promise<UploadSlot> {
  const slot = await askSlot(room, user, { name, type, size: bytes.length });
  assert.equal(slot.status, 201, JSON.stringify(slot.body));
  const put = await fetch(slot.body.url, { method: "PUT", headers: slot.body.headers, body: Buffer.from(bytes) });
  assert.equal(put.status, 200, await put.text());
  return slot.body;
}

async function history(room: string) {
  const { status, body } = await server.fetchJson(`/parties/room/${room}/history?limit=200`, { token: await server.token("alice") });
  assert.equal(status, 200);
  return body.events as any[];
}

async function stats(room: string) {
  return (await server.fetchJson(`/parties/room/${room}/stats`, { token: await server.token("ops", { operator: true }) })).body;
}

function download(room: string, user: string, id: string) {
  return server.token(user).then((token) => fetch(`${server.url}/parties/room/${room}/files/${id}?token=${token}`, { redirect: "manual" }));
}

function typed(frame: any, code: ErrorCode, label: string) {
  assert.equal(frame.type, "error", `${label}: ${JSON.stringify(frame)}`);
  assert.equal(frame.code, code, `${label}: ${JSON.stringify(frame)}`);
  assert.equal(frame.retryable, ERRORS[code].retryable, label);
}

let alice: Joined;
let bob: Joined;

test("PROTOCOL R30, R31, R32: an image and a PDF go up, are checked and attached, and members download them", async () => {
  alice = await join(ROOM, "alice");
  const created = await command(alice, { type: "group.create", title: "Files", members: ["bob"] }, "create");
  assert.equal(created.type, "ack");
  bob = await join(ROOM, "bob");

  const image = png(64, 48);
  const imageSlot = await upload(ROOM, "alice", "holiday.png", "image/png", image);
  const document = pdf("minutes");
  const docSlot = await upload(ROOM, "alice", "minutes.pdf", "application/pdf", document);
  const sent = await command(alice, { type: "send", text: "photos and minutes", attachments: [{ upload: imageSlot.id }, { upload: docSlot.id }] }, "files-1");
  assert.equal(sent.type, "ack", JSON.stringify(sent));
  const seq = sent.acks[0].seq;

  const heard = await bob.next((f) => f.type === "events" && f.events.some((e: any) => e.seq === seq));
  const event = heard.events.find((e: any) => e.seq === seq);
  assert.deepEqual(event.attachments, [
    { id: imageSlot.id, name: "holiday.png", type: "image/png", size: image.length, width: 64, height: 48 },
    { id: docSlot.id, name: "minutes.pdf", type: "application/pdf", size: document.length },
  ]);

  // A member downloads: a redirect to a presigned URL that expires in minutes, and the bytes as uploaded.
  const redirect = await download(ROOM, "bob", imageSlot.id);
  assert.equal(redirect.status, 302);
  const location = new URL(redirect.headers.get("location")!);
  assert.ok(Number(location.searchParams.get("X-Amz-Expires")) <= 600, "download URLs expire in minutes");
  const file = await fetch(location);
  assert.equal(file.status, 200);
  assert.deepEqual(new Uint8Array(await file.arrayBuffer()), image);
  assert.equal(file.headers.get("content-disposition"), 'inline; filename="holiday.png"');
  const docFile = await fetch((await download(ROOM, "alice", docSlot.id)).headers.get("location")!);
  assert.deepEqual(new Uint8Array(await docFile.arrayBuffer()), document);
  assert.match(docFile.headers.get("content-disposition") ?? "", /^attachment;/);

  const storage = (await stats(ROOM)).storage;
  assert.deepEqual(storage.usage, { bytes: image.length + document.length, files: 2 });
});

test("PROTOCOL R32, R33: the dashboard shows the room's storage use and its images as thumbnails, loaded through the download route", { skip: chromiumMissing() }, async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const operator = await server.token("ops", { name: "Ops", operator: true });
    await page.goto(`${server.url}/#token=${operator}&room=${ROOM}`);
    // The thumbnail is an <img> on the room's route: the browser follows the redirect to the signed URL.
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>("img.thumb")).some((img) => img.complete && img.naturalWidth === 64), undefined, { timeout: 20_000 });
    const link = await page.getAttribute("a.file", "href");
    assert.match(link ?? "", /\/files\/[A-Za-z0-9_-]{24}\?token=/, "other files are links to the download route");
    await page.waitForFunction(() => document.querySelector('[data-testid="storage"]')?.textContent?.startsWith("2 · "), undefined, { timeout: 15_000 });
    await page.screenshot({ path: joinPath(ARTIFACTS_DIR, "uploads-dashboard.png"), fullPage: true });
  } finally {
    await browser.close();
  }
});

test("PROTOCOL R30, R32: a non-member gets no slot and no download; the store answers nobody without a signature", async () => {
  const [{ id }] = (await history(ROOM)).find((e) => e.attachments)!.attachments;
  const slot = await askSlot(ROOM, "carol", { name: "x.png", type: "image/png", size: 10 });
  assert.equal(slot.status, 403);
  assert.equal(slot.body.error.code, "not_member");
  const refused = await download(ROOM, "carol", id);
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as any).error.code, "not_member");
  // Nothing to list or guess on the store itself: unsigned requests are refused, the key included.
  assert.equal((await store.unsigned(`/u/${id}`)).status, 403);
  assert.equal((await store.unsigned("/?list-type=2")).status, 403);
  // And no route hands out what is not attached, or what does not exist.
  assert.equal((await download(ROOM, "bob", "A".repeat(24))).status, 404);
  const anonymous = await fetch(`${server.url}/parties/room/${ROOM}/files/${id}`, { redirect: "manual" });
  assert.equal(anonymous.status, 401);
});

test("PROTOCOL R30: slots are refused over the room's size limit and for types it does not take", async () => {
  const over = await askSlot(ROOM, "alice", { name: "big.pdf", type: "application/pdf", size: 25 * 1024 * 1024 + 1 });
  assert.equal(over.status, 413);
  assert.equal(over.body.error.code, "upload_too_large");
  const exe = await askSlot(ROOM, "alice", { name: "setup.exe", type: "application/x-msdownload", size: 100 });
  assert.equal(exe.body.error.code, "upload_type_refused");
  const bad = await askSlot(ROOM, "alice", { name: "", type: "image/png", size: -1 });
  assert.equal(bad.body.error.code, "bad_frame");
  // The limit is a room setting.
  const ops = await server.token("ops", { operator: true });
  const patched = await server.fetchJson(`/parties/room/${ROOM}/settings`, { method: "PATCH", token: ops, headers: { "content-type": "application/json" }, body: JSON.stringify({ maxUploadBytes: 1000 }) });
  assert.equal(patched.status, 200);
  assert.equal((await askSlot(ROOM, "alice", { name: "a.png", type: "image/png", size: 1001 })).body.error.code, "upload_too_large");
  await server.fetchJson(`/parties/room/${ROOM}/settings`, { method: "PATCH", token: ops, headers: { "content-type": "application/json" }, body: JSON.stringify({ maxUploadBytes: 25 * 1024 * 1024 }) });
});

test("PROTOCOL R31, IB1: a DM through the inbox carries a checked file; a stranger's upload id is refused there too", async () => {
  const DM = "dm:alice:dora";
  const alice = new KaiwaInbox({ host: server.host, user: "alice", token: () => server.token("alice"), WebSocket });
  const dora = new KaiwaInbox({ host: server.host, user: "dora", token: () => server.token("dora"), WebSocket, fromStart: true });
  try {
    await waitFor(() => alice.status === "open" && dora.status === "open", 20_000, "both inboxes open");
    const received: any[] = [];
    dora.on("message", ({ room, event }) => room === DM && received.push(event));
    const doc = pdf("for dora");
    const slot = await upload(DM, "alice", "for-dora.pdf", "application/pdf", doc);
    const sent = await alice.sendDm("dora", "the file", { attachments: [{ upload: slot.id }] });
    await waitFor(() => received.some((e) => e.seq === sent.seq), 10_000, "dora's inbox has it");
    assert.deepEqual(received.find((e) => e.seq === sent.seq).attachments, [{ id: slot.id, name: "for-dora.pdf", type: "application/pdf", size: doc.length }]);
    assert.equal((await download(DM, "dora", slot.id)).status, 302, "the other participant downloads it");
    assert.equal((await download(DM, "carol", slot.id)).status, 403, "nobody else");
    const refused = await alice.sendDm("dora", "not mine", { attachments: [{ upload: "Q".repeat(24) }] }).catch((error: unknown) => error);
    assert.ok(refused instanceof KaiwaError && refused.code === "upload_unknown", String(refused));
  } finally {
    alice.close();
    dora.close();
  }
});

test("PROTOCOL R30: a user asking for slots as fast as they can is refused past a burst, typed, and others are not", async () => {
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 40 }, () => askSlot("slot-flood", "mallory", { name: "x.png", type: "image/png", size: 10 })));
  // The bucket gives one more slot a second (PROTOCOL R30) while the 40 asks are answered; a loaded machine takes longer.
  const refilled = Math.ceil((Date.now() - started) / 1000);
  const limited = answers.filter((a) => a.status === 429);
  assert.ok(answers.filter((a) => a.status === 201).length <= 30 + refilled, `at most the burst of 30 and ${refilled} refilled`);
  assert.ok(limited.length >= 10 - refilled && limited.length > 0, `${limited.length} refused`);
  assert.equal(limited[0]!.body.error.code, "rate_limited");
  assert.equal((await askSlot("slot-flood", "alice", { name: "x.png", type: "image/png", size: 10 })).status, 201, "another user is not held up");
});

test("PROTOCOL R30: the store refuses a body longer than declared, or of another type, under the slot's signature", async () => {
  const slot = (await askSlot(ROOM, "alice", { name: "a.png", type: "image/png", size: 100 })).body as UploadSlot;
  const longer = await fetch(slot.url, { method: "PUT", headers: slot.headers, body: Buffer.from(png(200, 200)) });
  assert.equal(longer.status, 403);
  const otherType = await fetch(slot.url, { method: "PUT", headers: { "content-type": "application/pdf" }, body: Buffer.alloc(100) });
  assert.equal(otherType.status, 403);
  assert.equal(await store.stored(slot.id), undefined, "nothing stored");
});

test("PROTOCOL R31, I8: bad attaches are typed errors, attach nothing, and the next send gets lastSeq + 1", async () => {
  const before = await history(ROOM);
  const lastSeq = before.at(-1).seq;
  const image = png(8, 8);

  const liar = await upload(ROOM, "alice", "report.pdf", "application/pdf", png(4, 4)); // a PNG declared as a PDF
  const renamed = await upload(ROOM, "alice", "cat.jpg", "image/jpeg", elf()); // an executable named .jpg
  const resized = (await askSlot(ROOM, "alice", { name: "r.png", type: "image/png", size: image.length })).body as UploadSlot;
  await store.putRaw(resized.id, png(40, 40), "image/png"); // stored, but not the size declared
  const never = (await askSlot(ROOM, "alice", { name: "n.png", type: "image/png", size: image.length })).body as UploadSlot;
  const bobs = await upload(ROOM, "bob", "bob.png", "image/png", image);
  const elsewhere = await upload("open-files", "alice", "e.png", "image/png", image);
  const used = (await history(ROOM)).find((e) => e.attachments)!.attachments[0].id;

  const cases: Array<[string, Joined, unknown[], ErrorCode]> = [
    ["a PNG declared as PDF", alice, [{ upload: liar.id }], "upload_mismatch"],
    ["an executable renamed .jpg", alice, [{ upload: renamed.id }], "upload_type_refused"],
    ["a stored size that is not the declared one", alice, [{ upload: resized.id }], "upload_mismatch"],
    ["an upload that never happened", alice, [{ upload: never.id }], "upload_mismatch"],
    ["someone else's upload", alice, [{ upload: bobs.id }], "upload_not_yours"],
    ["an upload made in another room", alice, [{ upload: elsewhere.id }], "upload_unknown"],
    ["an upload already attached", alice, [{ upload: used }], "upload_used"],
    ["an id nobody made", alice, [{ upload: "Z".repeat(24) }], "upload_unknown"],
    ["the same upload twice in one message", bob, [{ upload: bobs.id }, { upload: bobs.id }], "upload_used"],
  ];
  let i = 0;
  for (const [label, socket, attachments, code] of cases) typed(await command(socket, { type: "send", text: label, attachments }, `bad-${i++}`), code, label);
  assert.deepEqual(await history(ROOM), before, "nothing changed");
  const next = await command(alice, { type: "send", text: "still here" }, "after-bad");
  assert.equal(next.acks[0].seq, lastSeq + 1);

  // Bob's upload was refused only for Alice: he attaches it once, and only once.
  const mine = await command(bob, { type: "send", text: "mine", attachments: [{ upload: bobs.id }] }, "bob-own");
  assert.equal(mine.acks[0].seq, lastSeq + 2);
  typed(await command(bob, { type: "send", text: "again", attachments: [{ upload: bobs.id }] }, "bob-again"), "upload_used", "second attach");
  // A resend of the accepted command (same clientId and n) is its original ack, not a second attach (PROTOCOL I3).
  const from = bob.frames.length;
  bob.send({ type: "send", text: "mine", attachments: [{ upload: bobs.id }], clientId: "bob-own", n: bob.n - 1 });
  const resent = await bob.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === "bob-own"), 10_000, from);
  assert.deepEqual([resent.acks[0].seq, resent.acks[0].duplicate], [lastSeq + 2, true]);
});

test("PROTOCOL R31: the check waits on the store beside the room's order: other senders go on, the sender's next command stays behind", async () => {
  const slot = await upload(ROOM, "alice", "slow.png", "image/png", png(5, 5));
  store.faults.readDelayMs = 1500;
  try {
    alice.n++;
    const fileN = alice.n;
    alice.send({ type: "send", text: "slow file", attachments: [{ upload: slot.id }], clientId: "slow-file", n: fileN });
    alice.n++;
    alice.send({ type: "send", text: "after the file", clientId: "after-file", n: alice.n });
    const started = Date.now();
    const bobAck = await command(bob, { type: "send", text: "not held up" }, "bob-fast");
    assert.ok(Date.now() - started < 1000, `bob's send waited ${Date.now() - started} ms on alice's upload check`);
    const ackOf = async (socket: Joined, clientId: string) => (await socket.next((f) => f.type === "ack" && f.acks.some((a: any) => a.clientId === clientId))).acks.find((a: any) => a.clientId === clientId);
    const fileAck = await ackOf(alice, "slow-file");
    const afterAck = await ackOf(alice, "after-file");
    assert.equal(fileAck.seq, bobAck.acks[0].seq + 1);
    assert.equal(afterAck.seq, fileAck.seq + 1, "the session's order holds (PROTOCOL I4)");
  } finally {
    store.faults.readDelayMs = 0;
  }
});

test("PROTOCOL R33: deleting a message removes its objects from the store, also across a restart before the removal", async () => {
  const first = await upload(ROOM, "alice", "gone.png", "image/png", png(6, 6));
  const kept = await command(alice, { type: "send", text: "soon gone", attachments: [{ upload: first.id }] }, "del-1");
  const usageBefore = (await stats(ROOM)).storage.usage;
  assert.ok(await store.stored(first.id));
  assert.equal((await command(alice, { type: "delete", target: kept.acks[0].seq }, "del-1x")).type, "ack");
  await waitFor(async () => (await store.stored(first.id)) === undefined, 10_000, "the object removed");
  assert.equal((await download(ROOM, "bob", first.id)).status, 404);
  assert.deepEqual((await stats(ROOM)).storage.usage, { bytes: usageBefore.bytes - png(6, 6).length, files: usageBefore.files - 1 });

  // An operator's deletion through the admin API (in an open room: operators moderate there) frees the file the same way.
  const open = "open-files";
  const opener = await join(open, "alice");
  const moderated = await upload(open, "alice", "spam.png", "image/png", png(3, 3));
  const spam = await command(opener, { type: "send", text: "spam", attachments: [{ upload: moderated.id }] }, "del-op");
  const ops = await server.token("ops", { operator: true });
  const removed = await server.fetchJson(`/admin/rooms/${open}/delete`, { method: "POST", token: ops, headers: { "content-type": "application/json" }, body: JSON.stringify({ target: spam.acks[0].seq }) });
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  await waitFor(async () => (await store.stored(moderated.id)) === undefined, 10_000, "the object removed after an operator's deletion");

  // The store refuses removals; the room restarts with the removal owed; it still happens.
  const second = await upload(ROOM, "alice", "later.png", "image/png", png(7, 7));
  const sent = await command(alice, { type: "send", text: "gone after a restart", attachments: [{ upload: second.id }] }, "del-2");
  store.faults.failDeletes = true;
  assert.equal((await command(alice, { type: "delete", target: sent.acks[0].seq }, "del-2x")).type, "ack");
  await waitFor(async () => (await stats(ROOM)).storage.removals.failures > 0, 10_000, "a refused removal");
  await server.restart();
  store.faults.failDeletes = false;
  assert.ok(await store.stored(second.id), "still stored while the store refused");
  await stats(ROOM); // wakes the room: it finds the owed removal at start
  await waitFor(async () => (await store.stored(second.id)) === undefined, 15_000, "the object removed after the restart");
});

test("PROTOCOL R30, R31, I3, R76: sendFile (kaiwa/client/files) uploads with progress, retries a dropped upload on the same slot, and its message survives a restart mid-check, sent once", async () => {
  const client = await openClient(server, ROOM, "alice");
  const progress: UploadProgress[] = [];
  const image = png(30, 20);
  store.faults.dropPuts = 1; // the first PUT loses its connection
  store.faults.readDelayMs = 3000; // the room's check waits on the store: the server dies during it
  let result;
  try {
    const sending = sendFile(client.room, new Blob([Buffer.from(image)], { type: "image/png" }), { text: "from the client", name: "client.png", onProgress: (p) => progress.push(p) });
    await waitFor(() => progress.some((p) => p.phase === "uploaded"), 20_000, "the upload stored");
    await sleep(500);
    await server.restart();
    store.faults.readDelayMs = 0;
    result = await sending;
  } finally {
    store.faults.readDelayMs = 0;
    store.faults.dropPuts = 0;
  }
  const uploadId = progress.find((p) => p.uploadId)!.uploadId!;
  assert.equal(new Set(progress.map((p) => p.uploadId)).size, 1, "one slot, reused for the retried upload");
  assert.ok(progress.filter((p) => p.phase === "uploading" && p.loaded === 0).length >= 2, "the upload started twice");
  assert.deepEqual(progress.at(-1), { name: "client.png", uploadId, loaded: image.length, total: image.length, phase: "sent" });
  const carrying = (await history(ROOM)).filter((e) => e.attachments?.some((a: any) => a.id === uploadId));
  assert.equal(carrying.length, 1, "the message was accepted once");
  assert.equal(carrying[0].seq, result.seq);
  assert.equal(carrying[0].clientId, result.clientId);
  assert.deepEqual(carrying[0].attachments, [{ id: uploadId, name: "client.png", type: "image/png", size: image.length, width: 30, height: 20 }]);
  client.room.close();
});

test("PROTOCOL R31, I3: sendFile retries a send the room could not check (storage_unavailable) after the shared backoff, once accepted; gives up after four tries, posting nothing", async () => {
  // The client's own frames, to count its tries by clientId: a socket that reconnects on a loaded machine
  // resends an unanswered try under the same clientId (PROTOCOL I3), and the room checks that resend again, so the
  // store's count of checks can exceed the tries (CI once saw 5 checks for 4 tries).
  const sentFrames: string[] = [];
  const client = await openClient(server, ROOM, "alice", {
    WebSocket: class extends WebSocket {
      override send(data: any, ...rest: any[]): void {
        if (typeof data === "string") sentFrames.push(data);
        (super.send as (...args: unknown[]) => void)(data, ...rest);
      }
    },
  });
  const tries = (text: string): number => {
    const ids = new Set<string>();
    for (const raw of sentFrames) {
      const frame = JSON.parse(raw);
      for (const command of frame.type === "batch" ? frame.commands : [frame]) if (command.type === "send" && command.text === text) ids.add(command.clientId);
    }
    return ids.size;
  };
  try {
    // The store refuses the room's first two checks of the object: the third try is accepted, once.
    const image = png(8, 9);
    store.faults.failHeads = 2;
    const sent = await sendFile(client.room, new Blob([Buffer.from(image)], { type: "image/png" }), { text: "after an outage", name: "outage.png" });
    assert.equal(store.faults.failHeads, 0, "both refused checks were tried");
    // Two refused checks: the third try is accepted, or the second when a check this test did not make took
    // one of the refusals (the test before restarts the server mid-check; CI once saw 2 tries for 3 checks).
    const outage = tries("after an outage");
    assert.ok(outage === 2 || outage === 3, `a refused try is tried again, then accepted once (${outage} tries)`);
    const carrying = (await history(ROOM)).filter((e) => e.text === "after an outage");
    assert.equal(carrying.length, 1, "accepted once");
    assert.equal(carrying[0].seq, sent.seq);
    assert.equal(carrying[0].clientId, sent.clientId);
    assert.equal(carrying[0].attachments?.[0]?.size, image.length);

    // The store stays down: the send and its three retries are refused, then sendFile rejects with the typed error.
    store.faults.failHeads = 100;
    const before = (await history(ROOM)).at(-1).seq;
    await assert.rejects(
      sendFile(client.room, new Blob([Buffer.from(png(9, 8))], { type: "image/png" }), { text: "never posted", name: "down.png" }),
      (error) => error instanceof KaiwaError && error.code === "storage_unavailable",
    );
    assert.equal(tries("never posted"), 4, "the send and three retries, no more");
    assert.ok(100 - store.faults.failHeads >= 4, `each try was checked by the room (${100 - store.faults.failHeads} checks)`);
    store.faults.failHeads = 0;
    // Refusals take no seq: the next valid command gets lastSeq + 1, and nothing of the refused file was posted.
    const next = await client.room.send("after giving up");
    assert.equal(next.seq, before + 1);
    assert.equal((await history(ROOM)).filter((e) => e.text === "never posted").length, 0);
  } finally {
    store.faults.failHeads = 0;
    client.room.close();
  }
});
