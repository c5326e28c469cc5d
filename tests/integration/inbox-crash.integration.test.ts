/**
 * Issue 4: the server dies between the DM room's durable write and the recipient inbox's delivery. A
 * test-only switch (KAIWA_TEST_HOLD_NOTIFY) holds the room right there, since timing alone would not land
 * the kill in that window. After a restart without the switch, the room redelivers (woken by its alarm,
 * armed in the same write as the message, or by the sender's inbox, which remembers what it is owed):
 * bob's inbox gets each message exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawPartySocket } from "../helpers/raw-socket.ts";

const DM = "dm:alice:bob";
const vars: Record<string, string | number> = { KAIWA_TEST_HOLD_NOTIFY: "1", KAIWA_NOTIFY_ALARM_MS: 1500 };
const server = new DevServer({ vars });

before(async () => {
  await server.start();
});
after(async () => {
  await server.stop();
});

/** The DM room's operator stats (PROTOCOL §6): `inboxes` is what it owes members' inboxes. */
async function roomStats(): Promise<any> {
  const { status, body } = await server.fetchJson(`/parties/room/${DM}/stats`, { token: await server.token("ops", { operator: true }) });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

describe("crash between the room's write and the inbox's delivery", () => {
  it("still delivers, exactly once, after a restart", async () => {
    const alice = await rawPartySocket(server, "inbox", "alice", { token: await server.token("alice"), session: "a1" });
    const bob = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "b1" });
    await alice.next((f) => f.type === "welcome");
    await bob.next((f) => f.type === "welcome");
    for (let i = 1; i <= 3; i++) alice.send({ type: "dm", to: "bob", clientId: `c${i}`, n: i, text: `before the crash ${i}` });
    await waitFor(() => alice.frames.filter((f) => f.type === "ack").length === 3, 10_000, "3 durable acks");
    // The room reports the switch acting (no timer is armed while held, so no call can come later): all
    // three committed, both inboxes owed them, no call made.
    await waitFor(async () => {
      const stats = await roomStats();
      return stats.lastSeq === 3 && stats.inboxes.held === true && stats.inboxes.pendingInboxes === 2;
    }, 10_000, "the DM room's stats to show its notifications held and owed");
    assert.equal((await roomStats()).inboxes.notify.calls, 0, "the held room never called an inbox");
    assert.equal(bob.frames.some((f) => f.type === "events" || f.type === "conversation"), false, "the switch held the notification");
    const held = await server.fetchJson(`/parties/inbox/bob/conversations`, { token: await server.token("bob") });
    assert.deepEqual(held.body.conversations, []);

    await server.kill();
    delete vars.KAIWA_TEST_HOLD_NOTIFY;
    await server.start();

    // Bob is online first, so the redelivery reaches his device live and can be counted. Then what a real
    // restart brings: alice's device reconnects. Nobody touches the DM room itself; it is woken by its
    // alarm (on Cloudflare) or by alice's inbox, which knows the room owes it a notification (partykit dev
    // drops pending alarms when it restarts: see PROTOCOL IB3).
    const bobAgain = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "b1" });
    await bobAgain.next((f) => f.type === "welcome");
    const aliceAgain = await rawPartySocket(server, "inbox", "alice", { token: await server.token("alice"), session: "a1" });
    await aliceAgain.next((f) => f.type === "welcome");
    const events = await bobAgain.next((f) => f.type === "events", 20_000);
    assert.equal(events.room, DM);
    // No redelivery can come later: the room owes no inbox anything (its alarm drains only what is owed; a
    // failed call would leave its inbox owed).
    await waitFor(async () => (await roomStats()).inboxes.pendingInboxes === 0, 20_000, "the DM room to owe no inbox a notification");
    // A marker after any redelivery: the room calls bob's inbox one call at a time, in order, so a repeat of
    // 1-3 would reach bob's device before message 4 does.
    aliceAgain.send({ type: "dm", to: "bob", clientId: "c4", n: 4, text: "after the restart" });
    await waitFor(() => bobAgain.frames.some((f) => f.type === "events" && f.events.some((e: any) => e.seq === 4)), 20_000, "message 4 on bob's device");
    const delivered = bobAgain.frames.filter((f) => f.type === "events").flatMap((f) => f.events);
    assert.deepEqual(delivered.map((e: any) => e.seq), [1, 2, 3, 4], "each message exactly once, in order");
    assert.deepEqual(delivered.map((e: any) => e.clientId), ["c1", "c2", "c3", "c4"]);
    const list = await server.fetchJson(`/parties/inbox/bob/conversations`, { token: await server.token("bob") });
    assert.equal(list.body.conversations.length, 1);
    assert.equal(list.body.conversations[0].lastSeq, 4);
    assert.equal(list.body.conversations[0].unread, 4);
    assert.equal(list.body.totalUnread, 4);
    // Alice's own list caught up too, and her devices saw each event once.
    await waitFor(() => aliceAgain.frames.some((f) => f.type === "events" && f.events.some((e: any) => e.seq === 4)), 20_000, "message 4 on alice's device");
    const aliceEvents = aliceAgain.frames.filter((f) => f.type === "events").flatMap((f) => f.events);
    assert.deepEqual(aliceEvents.map((e: any) => e.seq), [1, 2, 3, 4]);
  });
});
