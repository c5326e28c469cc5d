/**
 * Test-only fault switches (party/test-switches.ts) are off by default: a real `partykit dev` given
 * KAIWA_TEST_HOLD_NOTIFY=1 without KAIWA_TEST_MODE=1 refuses its configuration as a whole, naming the
 * switch (the worker answers HTTP with a typed 500 `internal`, sockets with that error frame and close
 * 1011, and the refusal is logged). With test mode (which tests/helpers/dev-server.ts sets when a test
 * passes a switch) the same switch acts: a DM is acked but never reaches the peer's inbox; restarted
 * without the switch (and so without test mode), the server delivers it.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ConfigRefused, DevServer, waitFor } from "../helpers/dev-server.ts";
import { rawPartySocket } from "../helpers/raw-socket.ts";

const REFUSAL = /KAIWA_TEST_HOLD_NOTIFY: a test-only switch, set without KAIWA_TEST_MODE=1/;

describe("a test switch without test mode", () => {
  const server = new DevServer({ vars: { KAIWA_TEST_HOLD_NOTIFY: "1" }, testMode: false });
  after(() => server.stop());

  it("refuses the configuration, naming the switch, on the first request", async () => {
    const mark = server.logMark();
    try {
      await server.start();
    } catch (error) {
      // Once the worker's /health checks the configuration too, the harness reports the refusal at start.
      if (!(error instanceof ConfigRefused)) throw error;
      assert.match(error.message, REFUSAL);
    }
    const token = await server.token("alice");

    for (const path of ["/parties/inbox/alice/conversations", "/parties/room/general/history"]) {
      const { status, body } = await server.fetchJson(path, { token });
      assert.equal(status, 500, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "internal");
      assert.match(body.error.message, REFUSAL);
    }
    // Without a token as well: the configuration is checked before anything else.
    const anonymous = await server.fetchJson("/parties/room/general/history");
    assert.equal(anonymous.status, 500);
    assert.match(anonymous.body.error.message, REFUSAL);

    for (const [party, id] of [["inbox", "alice"], ["room", "general"]] as const) {
      const socket = await rawPartySocket(server, party, id, { token, session: "s1" });
      const frame = await socket.next((f) => f.type === "error");
      assert.equal(frame.code, "internal");
      assert.match(frame.message, REFUSAL);
      assert.equal((await socket.closed).code, 1011);
    }

    await waitFor(() => /refusing to start: .*KAIWA_TEST_HOLD_NOTIFY/.test(server.logSince(mark)), 10_000, "the refusal in the server's log");
  });
});

describe("the same switch in test mode", () => {
  const vars: Record<string, string | number> = { KAIWA_TEST_HOLD_NOTIFY: "1" };
  const server = new DevServer({ vars }); // the harness adds KAIWA_TEST_MODE=1: a switch is set
  after(() => server.stop());

  it("acts: the DM is acked and held from the peer's inbox; without it, delivered", async () => {
    await server.start();
    const alice = await rawPartySocket(server, "inbox", "alice", { token: await server.token("alice"), session: "a1" });
    const bob = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "b1" });
    await alice.next((f) => f.type === "welcome");
    await bob.next((f) => f.type === "welcome");
    alice.send({ type: "dm", to: "bob", clientId: "c1", n: 1, text: "held by the switch" });
    const ack = await alice.next((f) => f.type === "ack");
    assert.deepEqual(ack.acks.map((a: any) => [a.room, a.seq]), [["dm:alice:bob", 1]], "stored durably and acked");
    // The room reports the switch acting: the notifier is up, holds (its timer is never armed while held, so
    // no call can come later), and owes both inboxes the DM; no call was made. Without the switch there is no
    // `held`, and bob's inbox hears of the DM within milliseconds.
    const operator = await server.token("ops", { operator: true });
    let inboxes: any;
    await waitFor(
      async () => {
        inboxes = (await server.fetchJson("/parties/room/dm:alice:bob/stats", { token: operator })).body.inboxes;
        return inboxes?.notify != null && inboxes.held === true && inboxes.pendingInboxes === 2;
      },
      10_000,
      "the DM room's stats to show its notifications held and owed to both inboxes",
    );
    assert.equal(inboxes.notify.calls, 0, "the held room never called an inbox");
    assert.equal(bob.frames.some((f) => f.type === "events"), false, "the switch held the notification");
    alice.ws.close();
    bob.ws.close();

    // Restarted without the switch, the harness no longer sets test mode: the configuration is the
    // production one, and the room owes bob's inbox the message (woken by alice's inbox, see inbox-crash).
    await server.kill();
    delete vars.KAIWA_TEST_HOLD_NOTIFY;
    await server.start();
    const bobAgain = await rawPartySocket(server, "inbox", "bob", { token: await server.token("bob"), session: "b1" });
    await bobAgain.next((f) => f.type === "welcome");
    const aliceAgain = await rawPartySocket(server, "inbox", "alice", { token: await server.token("alice"), session: "a1" });
    await aliceAgain.next((f) => f.type === "welcome");
    const events = await bobAgain.next((f) => f.type === "events", 20_000);
    assert.deepEqual(events.events.map((e: any) => e.text), ["held by the switch"]);
    aliceAgain.ws.close();
    bobAgain.ws.close();
  });
});
