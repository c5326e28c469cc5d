/**
 * Carries out a batch of writes on Durable Object storage (PROTOCOL I2).
 *
 * `put(entries)` takes at most 128 keys, so a batch becomes several puts issued in the same turn with no
 * await between them: the runtime coalesces them into one atomic transaction behind the output gate.
 * Never `allowUnconfirmed`: an ack must not leave before the write is confirmed.
 * A value over 128 KiB makes `put` throw synchronously; that is turned into a rejection so the pipeline
 * fails the batch loudly instead of losing it inside a timer.
 */
import type * as Party from "partykit/server";
import { LIMITS } from "../protocol/index.ts";

export type WriteCounters = { puts: number; keys: number };

export async function persistWrites(
  storage: Party.Storage,
  writes: Map<string, unknown>,
  counters: WriteCounters,
): Promise<void> {
  // Chunks are filled straight from the map: this runs once per flush of hundreds of commands, and the
  // copies a spread and slices would make were a measurable share of a hot room's time.
  const puts: Promise<void>[] = [];
  let chunk: Record<string, unknown> = {};
  let inChunk = 0;
  for (const [key, value] of writes) {
    chunk[key] = value;
    if (++inChunk < LIMITS.maxKeysPerPut) continue;
    puts.push(storage.put(chunk));
    counters.puts++;
    chunk = {};
    inChunk = 0;
  }
  if (inChunk > 0) {
    puts.push(storage.put(chunk));
    counters.puts++;
  }
  counters.keys += writes.size;
  await Promise.all(puts);
}
