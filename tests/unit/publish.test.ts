/**
 * The publish API's pure parts: the room core's decision on a bot's message, the credential check, the
 * configuration of the keys, the body schemas, the bounded fan-out and notices rooms' access rules.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RoomCore, type Outcome } from "../../party/core/room-core.ts";
import { Membership } from "../../party/core/membership.ts";
import { sessionKey } from "../../party/core/room-keys.ts";
import { mayJoin } from "../../party/core/access.ts";
import { membersFromRoomId } from "../../party/core/read-state.ts";
import { RoomSettings, noticesOwner, type Identity } from "../../party/protocol/index.ts";
import { PUBLISH_LIMITS, PublishInboxesBody, PublishRoomsBody } from "../../party/protocol/publish-schema.ts";
import { parseConfig } from "../../party/config.ts";
import { verifyPublishKey } from "../../party/worker/publish-auth.ts";
import { verifyToken } from "../../party/adapters/auth.ts";
import { mapBounded } from "../../party/worker/map-bounded.ts";
import { mintToken } from "../../scripts/mint-token.ts";

const bot: Identity = { id: "bot_deploy", name: "Deploy bot" };
const alice: Identity = { id: "alice", name: "Alice" };

function makeCore(options: { settings?: Partial<RoomSettings>; membership?: Membership; botsOnly?: boolean } = {}) {
  const core = new RoomCore({
    meta: { epoch: "E", lastSeq: 4, createdAt: 0 },
    settings: RoomSettings.parse(options.settings ?? {}),
    clock: () => 1_000,
    dedupeWindow: 100,
    recentWindow: 100,
    ...(options.membership ? { membership: options.membership } : {}),
    ...(options.botsOnly ? { botsOnly: true } : {}),
  });
  core.loadDedupe([]);
  core.setSession(sessionKey("alice", "s"), undefined);
  return core;
}

const refusal = (outcome: Outcome) => (outcome.status === "rejected" ? outcome.error.code : outcome.status);

describe("RoomCore.publish", () => {
  it("PROTOCOL R61: the next seq, a message whose author carries bot: true, no session needed", () => {
    const core = makeCore({ settings: { slowModeMs: 60_000, whoMayPost: "operators" } });
    const first = core.publish(bot, { text: "deploying" }, "c1");
    assert.equal(first.status, "accepted");
    if (first.status !== "accepted") return;
    assert.equal(first.ack.seq, 5);
    assert.deepEqual(first.event, { kind: "message", seq: 5, ts: 1_000, author: { id: "bot_deploy", name: "Deploy bot", bot: true }, clientId: "c1", text: "deploying" });
    assert.ok(first.writes.some(([key]) => key === "meta"));
    // Slow mode and whoMayPost are for people: a second post right away is accepted.
    assert.equal(core.publish(bot, { text: "done" }, "c2").status, "accepted");
  });

  it("PROTOCOL R64, I3: a known (bot, clientId) answers the original ack, checked before a later ban", () => {
    const core = makeCore();
    const first = core.publish(bot, { text: "one" }, "c1");
    assert.equal(first.status, "accepted");
    core.moderation.apply("ban", bot.id, 10_000);
    const again = core.publish(bot, { text: "changed text is not compared" }, "c1");
    assert.deepEqual(again, { status: "duplicate", ack: { clientId: "c1", seq: 5, ts: 1_000, duplicate: true }, committed: false });
    assert.equal(refusal(core.publish(bot, { text: "two" }, "c2")), "banned");
    assert.equal(core.lastAssigned, 5, "refusals take no seq (PROTOCOL I1)");
  });

  it("PROTOCOL R61: mutes, the room's text limit, empty text, and group membership apply", () => {
    const muted = makeCore({ settings: { maxTextChars: 10 } });
    assert.equal(refusal(muted.publish(bot, { text: "x".repeat(11) }, "long")), "text_too_long");
    assert.equal(refusal(muted.publish(bot, { text: "   " }, "empty")), "text_empty");
    muted.moderation.apply("mute", bot.id, 10_000);
    assert.equal(refusal(muted.publish(bot, { text: "hi" }, "m")), "muted");

    assert.equal(refusal(makeCore({ membership: new Membership(undefined, 500) }).publish(bot, { text: "hi" }, "g")), "not_found");
    const team = new Membership({ title: "team", members: { alice: { role: "owner", since: 1 } }, created: true }, 500);
    assert.equal(refusal(makeCore({ membership: team }).publish(bot, { text: "hi" }, "g")), "not_member");
    const withBot = new Membership({ title: "team", members: { alice: { role: "owner", since: 1 }, bot_deploy: { role: "member", since: 2 } }, created: true }, 500);
    assert.equal(makeCore({ membership: withBot }).publish(bot, { text: "hi" }, "g").status, "accepted");
  });

  it("PROTOCOL R63: a notices room refuses its user's commands and takes the bot's", () => {
    const core = makeCore({ botsOnly: true });
    assert.equal(refusal(core.handle({ type: "send", clientId: "a", n: 1, text: "me?" }, alice, "s")), "forbidden");
    assert.equal(core.publish(bot, { text: "notice" }, "n1").status, "accepted");
  });
});

describe("notices rooms: access and members (PROTOCOL R63)", () => {
  it("only the user opens notices:<user>; its one member is that user", () => {
    assert.equal(mayJoin("notices:alice", alice), true);
    assert.equal(mayJoin("notices:alice", { id: "bob", name: "Bob" }), false);
    assert.equal(mayJoin("notices:alice", { id: "root", name: "Op", role: "operator" }), false);
    assert.equal(mayJoin("notices:", alice), false);
    assert.deepEqual(membersFromRoomId("notices:alice"), ["alice"]);
    assert.equal(noticesOwner("notices:a:b"), undefined);
  });
});

describe("the publish key (PROTOCOL R60)", () => {
  const KEY_A = "a".repeat(40);
  const KEY_B = "b".repeat(40);
  const env = { KAIWA_JWT_SECRET: "user-token-secret" };
  const request = (authorization?: string) => new Request("http://x/publish/rooms", { method: "POST", headers: authorization ? { authorization } : {} });

  it("takes any configured key (rotation), refuses a missing or unknown one and every token, typed", async () => {
    assert.deepEqual(await verifyPublishKey(request(`Bearer ${KEY_B}`), [KEY_A, KEY_B], env), { ok: true, key: 1 });
    assert.equal((await verifyPublishKey(request(), [KEY_A], env)).ok, false);
    const unknown = await verifyPublishKey(request(`Bearer ${KEY_A}x`), [KEY_A], env);
    assert.deepEqual(unknown.ok ? undefined : unknown.code, "unauthorized");
    const userToken = await mintToken("alice", { secret: env.KAIWA_JWT_SECRET });
    const asUser = await verifyPublishKey(request(`Bearer ${userToken}`), [KEY_A], env);
    assert.deepEqual(asUser.ok ? undefined : asUser.code, "forbidden");
    const off = await verifyPublishKey(request(`Bearer ${KEY_A}`), [], env);
    assert.deepEqual(off.ok ? undefined : [off.code, off.message], ["forbidden", "The publish API is off on this deployment (set KAIWA_PUBLISH_KEYS)."]);
  });

  it("KAIWA_PUBLISH_KEYS: 32-256 URL-safe characters each, never a token secret, never echoed", () => {
    const ok = parseConfig({ KAIWA_PUBLISH_KEYS: `${KEY_A}, ${KEY_B}` });
    assert.deepEqual(ok.ok ? ok.config.publish.keys : undefined, [KEY_A, KEY_B]);
    const none = parseConfig({});
    assert.deepEqual(none.ok ? none.config.publish.keys : undefined, []);
    const short = parseConfig({ KAIWA_PUBLISH_KEYS: "shortsecretvalue" });
    assert.equal(short.ok, false);
    assert.ok(!short.ok && short.error.message.includes("KAIWA_PUBLISH_KEYS") && !short.error.message.includes("shortsecretvalue"));
    const shared = parseConfig({ KAIWA_PUBLISH_KEYS: KEY_A, KAIWA_JWT_SECRET: KEY_A });
    assert.ok(!shared.ok && /equals KAIWA_JWT_SECRET/.test(shared.error.message));
  });

  it("PROTOCOL R61: a user token whose sub is a bot id is refused", async () => {
    const result = await verifyToken(await mintToken("bot_deploy", { secret: env.KAIWA_JWT_SECRET }), env);
    assert.deepEqual(result.ok ? undefined : result.code, "unauthorized");
  });
});

describe("publish bodies and fan-out (PROTOCOL R62)", () => {
  const author = { id: "bot_ops", name: "Ops" };
  it("at most maxTargets targets; bot ids only; content required; unknown fields refused", () => {
    const targets = (n: number) => Array.from({ length: n }, (_, i) => ({ room: `r${i}`, clientId: `c${i}` }));
    assert.equal(PublishRoomsBody.safeParse({ author, text: "x", targets: targets(PUBLISH_LIMITS.maxTargets) }).success, true);
    assert.equal(PublishRoomsBody.safeParse({ author, text: "x", targets: targets(PUBLISH_LIMITS.maxTargets + 1) }).success, false);
    assert.equal(PublishRoomsBody.safeParse({ author: { id: "ops", name: "Ops" }, text: "x", targets: targets(1) }).success, false);
    assert.equal(PublishRoomsBody.safeParse({ author: { id: "bot_", name: "Ops" }, text: "x", targets: targets(1) }).success, false);
    assert.equal(PublishRoomsBody.safeParse({ author, text: " ", targets: targets(1) }).success, false);
    assert.equal(PublishInboxesBody.safeParse({ author, text: "x", targets: [{ user: "alice", clientId: "c", extra: 1 }] }).success, false);
  });

  it("mapBounded keeps at most `limit` calls in flight and the results in order", async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapBounded(Array.from({ length: 30 }, (_, i) => i), 4, async (item) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, (item * 7) % 5));
      inFlight--;
      return item * 2;
    });
    assert.equal(most, 4);
    assert.deepEqual(results, Array.from({ length: 30 }, (_, i) => i * 2));
  });
});
