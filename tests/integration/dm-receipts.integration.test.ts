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
    // bob's positions as each receipts frame from the room names them, in arrival order: the client keeps
    // the highest it saw, so the frames themselves are where a step back would show.
    const readsSeen: number[] = [];
    const deliveredSeen: number[] = [];
    alice.on("receipts", (frame) => {
      if (frame.reads.bob !== undefined) readsSeen.push(frame.reads.bob);
      if (frame.delivered?.bob !== undefined) deliveredSeen.push(frame.delivered.bob);
    });
    const forwardOnly = (values: number[], what: string) =>
      values.forEach((value, i) => assert.ok(i === 0 || value >= values[i - 1]!, `${what} went back: ${values.join(", ")}`));
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
      await waitFor(() => bob.unread(DM) === 1, 10_000, "bob's device counts the second unread"); // his own frame, not alice's receipt

      // Read forward to the second, then try to read back to the first: the stored position stays.
      assert.equal((await bob.markRead(DM, second.seq)).readSeq, second.seq);
      await waitFor(() => alice.readers(second.seq, "alice").includes("bob"), 10_000, "alice sees bob read the second");
      assert.equal((await bob.markRead(DM, first.seq)).readSeq, second.seq, "a read behind the stored position does not move it back");
      // The positive marker: a third message's delivery. The backward read was answered before it was sent,
      // so any receipt it caused reached alice before (or with) the third's delivered receipt.
      const third = await alice.send("still there?");
      await waitFor(() => alice.deliveredTo("bob") >= third.seq, 10_000, "third delivered");
      assert.deepEqual(alice.readers(second.seq, "alice"), ["bob"], "still read");
      assert.deepEqual(alice.readers(third.seq, "alice"), [], "the third is not read");
      await waitFor(() => bob.unread(DM) === 1, 10_000, "bob has only the third unread");
      assert.ok(readsSeen.includes(first.seq) && readsSeen.includes(second.seq), `read receipts for both reads: ${readsSeen}`);
      assert.equal(readsSeen.at(-1), second.seq, "the last read receipt is the second");
      assert.ok(deliveredSeen.includes(third.seq), `delivered receipts reach the third: ${deliveredSeen}`);
      forwardOnly(readsSeen, "bob's read receipts");
      forwardOnly(deliveredSeen, "bob's delivered receipts");
    } finally {
      alice.close();
      bob.close();
    }
  });
});
