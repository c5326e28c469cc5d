/**
 * Upload lifetimes against a real `partykit dev` and the real embedded S3 server, with the lifetimes
 * shortened by test switches (KAIWA_TEST_PRESIGN_SECONDS, KAIWA_TEST_UPLOAD_TTL_MS): the store itself refuses
 * an expired presigned URL (PROTOCOL R30, R32), and a slot never attached is refused and its object removed
 * after its time to live (PROTOCOL R33).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";
import { TestObjectStore } from "../helpers/object-store.ts";
import { png } from "../helpers/files.ts";
import type { UploadSlot } from "../../party/protocol/index.ts";

const PRESIGN_SECONDS = 2;
const TTL_MS = 8000;
const ROOM = "expiring-files";
const store = new TestObjectStore();
let server: DevServer;

before(async () => {
  const vars = await store.start();
  server = new DevServer({ vars: { ...vars, KAIWA_TEST_PRESIGN_SECONDS: PRESIGN_SECONDS, KAIWA_TEST_UPLOAD_TTL_MS: TTL_MS } });
  await server.start();
});
after(async () => {
  await server.stop();
  await store.stop();
});

async function slot(bytes: Uint8Array): Promise<UploadSlot> {
  const answer = await server.fetchJson(`/parties/room/${ROOM}/uploads`, { method: "POST", token: await server.token("alice"), headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "a.png", type: "image/png", size: bytes.length }) });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

const put = (slot: UploadSlot, bytes: Uint8Array) => fetch(slot.url, { method: "PUT", headers: slot.headers, body: Buffer.from(bytes) });

test("PROTOCOL R30, R32: the store refuses an expired upload URL and an expired download URL; the slot can be signed again", async () => {
  const image = png(10, 10);
  const late = await slot(image);
  await sleep(PRESIGN_SECONDS * 1000 + 1200);
  const refused = await put(late, image);
  assert.equal(refused.status, 403);
  assert.match(await refused.text(), /expired/i);
  assert.equal(await store.stored(late.id), undefined);
  // A client resuming after its URL expired asks for the same slot again (sendFile in client/files.ts does).
  const again = await server.fetchJson(`/parties/room/${ROOM}/uploads/${late.id}/url`, { method: "POST", token: await server.token("alice") });
  assert.equal(again.status, 200);
  assert.equal(again.body.id, late.id);
  assert.equal((await put(again.body, image)).status, 200);
  // Nobody else may re-sign it.
  const stolen = await server.fetchJson(`/parties/room/${ROOM}/uploads/${late.id}/url`, { method: "POST", token: await server.token("mallory") });
  assert.equal(stolen.body.error.code, "upload_not_yours");

  const socket = await rawSocket(server, ROOM, { token: await server.token("alice"), session: "alice-x" });
  await socket.next((f) => f.type === "welcome");
  socket.send({ type: "send", clientId: "f1", n: 1, text: "", attachments: [{ upload: late.id }] });
  assert.equal((await socket.next((f) => f.type === "ack" || f.type === "error")).type, "ack");
  const redirect = await fetch(`${server.url}/parties/room/${ROOM}/files/${late.id}?token=${await server.token("bob")}`, { redirect: "manual" });
  assert.equal(redirect.status, 302);
  const location = redirect.headers.get("location")!;
  assert.equal((await fetch(location)).status, 200);
  await sleep(PRESIGN_SECONDS * 1000 + 1200);
  const expired = await fetch(location);
  assert.equal(expired.status, 403, "the store refuses a download URL past its expiry");
  socket.ws.close();
});

test("PROTOCOL R33: an upload never attached is refused after its time to live and its object removed from the store", async () => {
  const image = png(12, 12);
  const orphan = await slot(image);
  assert.equal((await put(orphan, image)).status, 200);
  assert.ok(await store.stored(orphan.id));
  const socket = await rawSocket(server, ROOM, { token: await server.token("alice"), session: "alice-y" });
  await socket.next((f) => f.type === "welcome");
  await waitFor(async () => (await store.stored(orphan.id)) === undefined, TTL_MS + 15_000, "the unattached object removed");
  socket.send({ type: "send", clientId: "late", n: 1, text: "too late", attachments: [{ upload: orphan.id }] });
  const answer = await socket.next((f) => f.type === "ack" || f.type === "error");
  assert.equal(answer.type, "error");
  assert.ok(["upload_expired", "upload_unknown"].includes(answer.code), answer.code);
  const stats = (await server.fetchJson(`/parties/room/${ROOM}/stats`, { token: await server.token("ops", { operator: true }) })).body;
  assert.ok(stats.storage.removals.expired >= 1);
  socket.ws.close();
});
