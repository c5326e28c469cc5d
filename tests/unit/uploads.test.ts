/**
 * Files in messages on plain data (PROTOCOL R30, R31, R33): the slot ledger's decisions, the core's use of
 * checked attachments, and what the sniffer makes of real bytes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RoomCore, type Outcome } from "../../party/core/room-core.ts";
import { MEDIA_USAGE_KEY, sessionKey } from "../../party/core/room-keys.ts";
import { UploadLedger, refuseAttach, type UploadRecord } from "../../party/core/uploads.ts";
import { mediaJobKey, uploadKey } from "../../party/core/room-keys.ts";
import { sniff } from "../../party/adapters/sniff.ts";
import { FileName, RoomSettings, UploadRequest, type Attachment, type Identity } from "../../party/protocol/index.ts";
import { elf, pdf, png } from "../helpers/files.ts";

const alice: Identity = { id: "alice", name: "Alice" };
const bob: Identity = { id: "bob", name: "Bob" };
const TTL = 60_000;
const id = (c: string) => c.repeat(24);
const record = (over: Partial<UploadRecord> = {}): UploadRecord => ({ id: id("a"), user: "alice", name: "a.png", type: "image/png", size: 10, createdAt: 1000, state: "pending", ...over });
const file = (upload: string, size = 10): Attachment => ({ id: upload, name: "a.png", type: "image/png", size, width: 2, height: 2 });

test("PROTOCOL R31: a slot is attached only by its maker, once, before its TTL", () => {
  assert.deepEqual(refuseAttach(undefined, alice, 2000, TTL), { code: "upload_unknown" });
  assert.deepEqual(refuseAttach(record(), bob, 2000, TTL), { code: "upload_not_yours" });
  assert.deepEqual(refuseAttach(record({ state: "attached", seq: 3 }), alice, 2000, TTL), { code: "upload_used" });
  assert.deepEqual(refuseAttach(record({ state: "deleted" }), alice, 2000, TTL), { code: "upload_used" });
  assert.deepEqual(refuseAttach(record(), alice, 1000 + TTL, TTL), { code: "upload_expired" });
  assert.equal(refuseAttach(record(), alice, 1000 + TTL - 1, TTL), undefined);
});

test("PROTOCOL R31, R33: the ledger takes slots in order, counts storage, and owes a removal per deleted file", () => {
  const ledger = new UploadLedger(undefined, TTL);
  const opened = ledger.open(record());
  assert.deepEqual(opened.map(([key]) => key), [uploadKey(id("a")), mediaJobKey(id("a"))]);
  assert.deepEqual(opened[1]![1], { id: id("a"), why: "expire", at: 1000 + TTL });
  ledger.learn(id("b"), record({ id: id("b"), size: 5 }));
  assert.deepEqual(ledger.refuse([{ upload: id("a") }, { upload: id("a") }], alice, 2000), { code: "upload_used", message: "The same upload is named twice." });
  assert.equal(ledger.refuse([{ upload: id("a") }, { upload: id("b") }], alice, 2000), undefined);
  const writes = ledger.attach([file(id("a")), file(id("b"), 5)], 7);
  assert.deepEqual(Object.fromEntries(writes)[MEDIA_USAGE_KEY], { bytes: 15, files: 2 });
  assert.equal((Object.fromEntries(writes)[uploadKey(id("a"))] as UploadRecord).seq, 7);
  // Taken in memory at once: a second attach in the same batch is refused before the first is durable.
  assert.deepEqual(ledger.refuse([{ upload: id("a") }], alice, 2000), { code: "upload_used" });
  assert.equal(ledger.expirable(id("a")), false, "an attached slot's expiry job is void");
  const freed = Object.fromEntries(ledger.free([file(id("a"))], 9000));
  assert.deepEqual(freed[mediaJobKey(id("a"))], { id: id("a"), why: "delete", at: 9000 });
  assert.equal((freed[uploadKey(id("a"))] as UploadRecord).state, "deleted");
  assert.deepEqual(ledger.usage, { bytes: 5, files: 1 });
  assert.deepEqual(ledger.refuse([{ upload: id("a") }], alice, 2000), { code: "upload_used" }, "a deleted file never comes back");
});

function core() {
  const c = new RoomCore({ meta: { epoch: "E", lastSeq: 0, createdAt: 0 }, settings: RoomSettings.parse({}), clock: () => 5, dedupeWindow: 100, recentWindow: 100 });
  c.setSession(sessionKey("alice", "s"), undefined);
  c.loadDedupe([]);
  return c;
}

test("PROTOCOL R31: the core never trusts upload refs: the event carries only what the shell checked", () => {
  const c = core();
  const refs = { type: "send" as const, clientId: "c1", n: 1, text: "", attachments: [{ upload: id("a") }] };
  const unchecked: Outcome = c.handle(refs, alice, "s");
  assert.deepEqual(unchecked, { status: "rejected", error: { code: "upload_unknown", message: "The uploads were not checked." } });
  assert.equal(c.handle(refs, alice, "s", undefined, [file(id("b"))]).status, "rejected", "checked files must be the ones named");
  const ok = c.handle(refs, alice, "s", undefined, [file(id("a"))]);
  assert.equal(ok.status, "accepted");
  assert.deepEqual((ok as any).event.attachments, [file(id("a"))]);
  const del = c.handle({ type: "delete", clientId: "c2", n: 2, target: 1 }, alice, "s");
  assert.deepEqual((del as any).freed, [file(id("a"))], "a deletion names the files it frees (PROTOCOL R33)");
  assert.equal((del as any).targetAfter.attachments, undefined);
});

test("PROTOCOL R31: the real type comes from the bytes; images get their dimensions", async () => {
  assert.deepEqual(await sniff(png(64, 48)), { type: "image/png", width: 64, height: 48 });
  assert.deepEqual(await sniff(pdf()), { type: "application/pdf" });
  assert.equal((await sniff(elf())).type, "application/x-elf");
  assert.deepEqual(await sniff(new TextEncoder().encode("meeting notes\nline two — ünïcode\n")), { type: "text/plain" });
  assert.deepEqual(await sniff(new Uint8Array([0, 1, 2, 3, 0xff, 0xfe, 0])), { type: undefined });
  assert.deepEqual(await sniff(new TextEncoder().encode("é").subarray(0, 1)), { type: "text/plain" }, "a character cut at the end of the read is not a reason to refuse");
});

test("PROTOCOL R30: a slot request is parsed at the boundary: names without paths or control characters", () => {
  assert.equal(FileName.parse("../../etc/passwd"), ".._.._etc_passwd");
  assert.equal(FileName.parse("a\u0000b\n.png"), "a_b_.png");
  assert.equal(UploadRequest.safeParse({ name: "  ", type: "image/png", size: 1 }).success, false);
  assert.equal(UploadRequest.safeParse({ name: "a.png", type: "image/png", size: 0 }).success, false);
  assert.equal(UploadRequest.safeParse({ name: "a.png", type: "image/png", size: 1.5 }).success, false);
});
