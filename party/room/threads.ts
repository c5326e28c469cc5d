/**
 * Thread pages (PROTOCOL R23): the replies under one parent, oldest first, from the thread index (`t:<parent>:<seq>`,
 * one key per reply, written with the reply) and the replies' records: retained ones from the room,
 * pruned ones from the archive. A page costs reads in proportion to its size, never to the room's.
 */
import type * as Party from "partykit/server";
import { MessageEvent } from "../protocol/index.ts";
import { replySeqOfThreadKey, threadKey, threadPrefix } from "../core/room-keys.ts";
import type { RoomCore } from "../core/room-core.ts";
import type { RoomArchive } from "../archive/outbox.ts";

export type ThreadPage = { parentJson: string; eventsJson: string[]; hasMore: boolean };

/** Undefined when `parent` is not a message of this room (yet). */
export async function readThread(storage: Party.Storage, archive: RoomArchive, core: RoomCore, parent: number, after: number, limit: number): Promise<ThreadPage | undefined> {
  const [parentJson] = await archive.records([parent]);
  if (parentJson === undefined || !MessageEvent.safeParse(JSON.parse(parentJson)).success) return undefined;
  const keys = await storage.list({ prefix: threadPrefix(parent), start: threadKey(parent, after + 1), limit: limit + 1 });
  const seqs = [...keys.keys()].map(replySeqOfThreadKey).filter((seq) => seq <= core.committedSeq);
  const page = seqs.slice(0, limit);
  return { parentJson, eventsJson: await archive.records(page), hasMore: seqs.length > limit };
}
