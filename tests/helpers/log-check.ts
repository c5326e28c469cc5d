/**
 * The messaging checks every integration test applies: nothing lost, nothing duplicated, order kept,
 * by (room, seq) and by (sender, clientId).
 */
import assert from "node:assert/strict";
import type { RoomEvent } from "../../party/protocol/index.ts";

export type Observed = {
  /** Every event the client's app saw, in the order it saw them. */
  events: RoomEvent[];
  /** Every durable ack the client got: clientId → seq. */
  acks: Map<string, number>;
  /** clientIds in the order this client sent them. */
  sent: string[];
  userId: string;
};

/** Seqs 1..lastSeq each exactly once, in order (PROTOCOL I1, I5). */
export function assertGapless(events: RoomEvent[], lastSeq: number, label: string): void {
  assert.equal(events.length, lastSeq, `${label}: saw ${events.length} events, room has ${lastSeq}`);
  events.forEach((event, index) => assert.equal(event.seq, index + 1, `${label}: event #${index} has seq ${event.seq}`));
}

/** The full room check for a set of clients that all watched the room from seq 1. */
export function assertRoomConsistent(clients: Observed[], lastSeq: number): void {
  const reference = clients[0]!.events;
  assertGapless(reference, lastSeq, clients[0]!.userId);
  const bySeq = new Map(reference.map((event) => [event.seq, event]));
  const byClientId = new Map<string, number>();
  for (const event of reference) {
    const key = `${event.author.id}/${event.clientId}`;
    assert.equal(byClientId.has(key), false, `duplicate clientId ${key} at seq ${event.seq} and ${byClientId.get(key)}`);
    byClientId.set(key, event.seq);
  }
  for (const client of clients) {
    assertGapless(client.events, lastSeq, client.userId);
    client.events.forEach((event) => assert.equal(event.clientId, bySeq.get(event.seq)!.clientId, `${client.userId}: seq ${event.seq} differs`));
    // Every acked command is in the log at exactly its acked seq.
    for (const [clientId, seq] of client.acks) {
      assert.equal(byClientId.get(`${client.userId}/${clientId}`), seq, `${client.userId}: ack ${clientId} → ${seq} not in the log there`);
    }
    // PROTOCOL I4: this client's commands appear in the order it sent them, each exactly once.
    const mine = reference.filter((event) => event.author.id === client.userId).map((event) => event.clientId);
    const sentAndStored = client.sent.filter((clientId) => byClientId.has(`${client.userId}/${clientId}`));
    assert.deepEqual(mine, sentAndStored, `${client.userId}: own messages out of sending order`);
  }
}
