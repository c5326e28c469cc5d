/**
 * A broadcast is one string sent to every socket of a room, so 2,000 receivers get 2,000 identical
 * frames. Parsing each once per distinct text (not once per socket) keeps the load generator from being
 * the bottleneck of fan-out runs; every receiver still records every event in the ledger.
 */
import type { Ev } from "./types.ts";

const KEEP = 512;
const cache = new Map<string, Ev[]>();

export function cachedDecode(text: string, decode: (text: string) => Ev[]): Ev[] {
  let events = cache.get(text);
  if (events === undefined) {
    events = decode(text);
    cache.set(text, events);
    if (cache.size > KEEP) cache.delete(cache.keys().next().value!);
  }
  return events;
}
