/**
 * What one reader sees beside a page of stored records (history, replay, thread pages): their own emoji
 * on each message (PROTOCOL R20) and the current quote of every parent a reply names (PROTOCOL R22). The records
 * themselves are shared by every reader and stored once; these are read per page, so a page costs reads
 * in proportion to its own size (batched gets), never to the room's.
 */
import type * as Party from "partykit/server";
import { LIMITS, MessageEvent, quoteOf, type Quote } from "../protocol/index.ts";
import { reactionKey, seqOfReactionKey } from "../core/room-keys.ts";
import type { RoomArchive } from "../archive/outbox.ts";

export type ReaderExtras = { mine?: Record<string, string[]>; quotes?: Record<string, Quote> };

/** `,"mine":…,"quotes":…` to splice into a frame after its events, or "" when there is nothing to add. */
export function extrasJson(extras: ReaderExtras): string {
  let out = "";
  if (extras.mine && Object.keys(extras.mine).length > 0) out += `,"mine":${JSON.stringify(extras.mine)}`;
  if (extras.quotes && Object.keys(extras.quotes).length > 0) out += `,"quotes":${JSON.stringify(extras.quotes)}`;
  return out;
}

export async function readerExtras(storage: Party.Storage, archive: Pick<RoomArchive, "records">, reader: string | undefined, eventsJson: string[]): Promise<ReaderExtras> {
  const reacted: number[] = [];
  const parents = new Set<number>();
  const inPage = new Map<number, MessageEvent>();
  for (const json of eventsJson) {
    // Most records carry neither: skip the parse for them (replay chunks are 200 records each). A parent
    // that is in the page but skipped here is read again below, in the same batched get as the others.
    if (!json.includes('"reactions"') && !json.includes('"replyTo"')) continue;
    const parsed = MessageEvent.safeParse(JSON.parse(json));
    if (!parsed.success) continue;
    const message = parsed.data;
    inPage.set(message.seq, message);
    if (message.reactions) reacted.push(message.seq);
    if (message.replyTo !== undefined) parents.add(message.replyTo);
  }
  const extras: ReaderExtras = {};
  if (reader !== undefined && reacted.length > 0) {
    const mine: Record<string, string[]> = {};
    for (let i = 0; i < reacted.length; i += LIMITS.maxKeysPerPut) {
      const keys = reacted.slice(i, i + LIMITS.maxKeysPerPut).map((seq) => reactionKey(seq, reader));
      const rows = await storage.get<string[]>(keys);
      for (const [key, emoji] of rows) if (emoji.length > 0) mine[String(seqOfReactionKey(key))] = emoji;
    }
    extras.mine = mine;
  }
  if (parents.size > 0) {
    const quotes: Record<string, Quote> = {};
    const missing = [...parents].filter((seq) => !inPage.has(seq));
    for (const json of missing.length > 0 ? await archive.records(missing) : []) {
      const parsed = MessageEvent.safeParse(JSON.parse(json));
      if (parsed.success) inPage.set(parsed.data.seq, parsed.data);
    }
    for (const seq of parents) {
      const parent = inPage.get(seq);
      if (parent) quotes[String(seq)] = quoteOf(parent);
    }
    extras.quotes = quotes;
  }
  return extras;
}
