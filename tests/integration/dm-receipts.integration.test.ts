/**
 * Issue 5, DMs show "delivered" and "read" as users expect: alice watches the DM room with a typed
 * KaiwaRoom while bob uses his inbox. "Delivered" comes when bob's inbox has stored the message; "read"
 * when bob marks it read on any device. Both only move forward.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { KaiwaInbox, KaiwaRoom } from "../../client/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";

const DM = "dm:alice:bob";
const server = new DevServer();
before(async () => {
  await server.start();
});
after(async () => {
  await server.stop();
});

describe("DM receipts", () => {
  it("shows delivered once bob's inbox has the message, and read once bob reads it", async () => {
    const alice = new KaiwaRoom({ host: server.host, room: DM, token: () => server.token("alice"), WebSocket });
    const bob = new KaiwaInbox({ host: server.host, user: "bob", token: () => server.token("bob"), WebSocket, fromStart: true });
    try {
      await waitFor(() => alice.status === "open" && bob.status === "open", 20_000, "both open");
      assert.equal(alice.members.kind, "dm");
      const first = await alice.send("are you there?");
      await waitFor(() => alice.deliveredTo("bob") >= first.seq, 10_000, "delivered to bob's inbox");
      assert.deepEqual(alice.readers(first.seq, "alice"), [], "not read yet");
      await waitFor(() => bob.unread(DM) === 1, 10_000, "bob has 1 unread");
      await bob.markRead(DM, first.seq);
      await waitFor(() => alice.readers(first.seq, "alice").includes("bob"), 10_000, "alice sees bob read it");
      const second = await alice.send("great");
      await waitFor(() => alice.deliveredTo("bob") >= second.seq, 10_000, "second delivered");
      assert.deepEqual(alice.readers(second.seq, "alice"), [], "the new message is delivered, not read");
      assert.equal(bob.unread(DM), 1);
    } finally {
      alice.close();
      bob.close();
    }
  });
});
