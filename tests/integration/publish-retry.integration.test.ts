/**
 * The publish API when rooms fail to write (PROTOCOL R3, R62, R64) against a real `partykit dev` whose every
 * room fails its first durable write once (KAIWA_TEST_FAIL_WRITE_AT=1): the raw API reports that target as
 * retryable `storage_failed` with nothing stored, the same clientId then posts at the same seq a first try
 * would have had, and the typed KaiwaPublisher splits 150 users into calls within the bound, retries the
 * failed targets with their clientIds and ends with every user's notice posted exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawSocket } from "../helpers/raw-socket.ts";
import { assertGapless } from "../helpers/log-check.ts";
import { KaiwaPublisher } from "../../client/publisher.ts";
import { KaiwaError } from "../../client/errors.ts";
import type { RoomEvent } from "../../party/protocol/index.ts";

const KEY = "retry_key_" + "0123456789abcdef".repeat(3);
const BOT = { id: "bot_ops", name: "Operations" };
let server: DevServer;

before(async () => {
  server = new DevServer({ vars: { KAIWA_PUBLISH_KEYS: KEY, KAIWA_TEST_FAIL_WRITE_AT: 1 } });
  await server.start();
});
after(() => server.stop());

describe("publish API with failing writes", () => {
  it("reports a failed write as that target's retryable storage_failed; the same clientId then posts once (PROTOCOL R62, R64)", async () => {
    const watcher = await rawSocket(server, "ops", { token: await server.token("alice"), session: "w" });
    await watcher.next((f) => f.type === "welcome");
    const body = JSON.stringify({ author: BOT, text: "deploy started", targets: [{ room: "ops", clientId: "deploy-1" }] });
    const post = () => server.fetchJson("/publish/rooms", { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body });
    const first = await post();
    assert.equal(first.status, 207, JSON.stringify(first.body));
    assert.deepEqual([first.body.results[0].ok, first.body.results[0].error.code, first.body.results[0].error.retryable], [false, "storage_failed", true]);
    // The room reloads after the failure (PROTOCOL R3); a retry lands once it has, at seq 1 (the failed seq is reused, PROTOCOL R1).
    let retried = await post();
    for (let i = 0; i < 20 && !retried.body.results[0].ok; i++) retried = await post();
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.results[0].seq, 1);
    const again = await post();
    assert.deepEqual(again.body.results[0], { ...retried.body.results[0], duplicate: true });
    await waitFor(() => watcher.frames.some((f) => f.type === "events"), 10_000, "the watcher sees the message");
    const events: RoomEvent[] = watcher.frames.filter((f) => f.type === "events").flatMap((f) => f.events);
    assertGapless(events, 1, "watcher");
    assert.equal(events[0]!.clientId, "deploy-1");
    watcher.ws.close();
  });

  it("KaiwaPublisher: 150 users in calls of at most 100, failed targets retried with their clientIds, each notice posted once", async () => {
    const publisher = new KaiwaPublisher({ baseUrl: server.url, key: KEY, retries: 8, backoff: { baseMs: 100, capMs: 1_000 } });
    const users = Array.from({ length: 150 }, (_, i) => `user${i}`);
    const report = await publisher.inboxes({ author: BOT, text: "Maintenance at 03:00 UTC" }, users.map((user) => ({ user, clientId: `maint-${user}` })));
    assert.equal(report.failed, 0, JSON.stringify(report.results.filter((r) => !r.ok).slice(0, 3)));
    assert.equal(report.succeeded, 150);
    assert.deepEqual(report.results.map((r) => r.user), users, "one result per target, in order");
    for (const result of report.results) {
      assert.deepEqual([result.ok, result.room, result.ok && result.seq], [true, `notices:${result.user}`, 1]);
      assert.ok(result.attempts >= 2, "every room's first write failed, so each target needed a retry");
    }
    // Calling again answers every original seq and posts nothing.
    const again = await publisher.inboxes({ author: BOT, text: "Maintenance at 03:00 UTC" }, users.map((user) => ({ user, clientId: `maint-${user}` })));
    assert.ok(again.results.every((r) => r.ok && r.seq === 1 && r.duplicate === true && r.attempts === 1));
    const page = await server.fetchJson("/parties/room/notices:user149/history", { token: await server.token("user149") });
    assert.deepEqual(page.body.events.map((e: RoomEvent) => [e.seq, e.clientId]), [[1, "maint-user149"]]);

    // A refusal a retry cannot fix throws, typed.
    const wrongKey = new KaiwaPublisher({ baseUrl: server.url, key: "not_the_key_" + "x".repeat(30) });
    await assert.rejects(wrongKey.rooms({ author: BOT, text: "x" }, [{ room: "ops", clientId: "c" }]), (error: unknown) => error instanceof KaiwaError && error.code === "unauthorized");
  });
});
