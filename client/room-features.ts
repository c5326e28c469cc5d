/**
 * What the client knows of reactions, pins and quotes in one room (PROTOCOL R20, R22, R24), kept from the
 * frames it receives: welcome (pins), pages and replay (records' counts, the reader's own emoji, quotes)
 * and live events (reactions with their count after, pins, edits and deletions of quoted parents).
 * Live events always win over page data: a page read before a live event may arrive after it.
 */
import { quoteOf, type MessageEvent, type Pin, type Quote, type RoomEvent } from "../party/protocol/index.ts";
import type { PageExtras } from "./requests.ts";

/** A message's reactions as this user sees them: count per emoji and the emoji this user added. */
export type Reactions = { counts: Record<string, number>; mine: string[] };

/** How many messages' reactions and quotes are kept (the oldest seen are forgotten first). */
const MAX_TRACKED = 10_000;

export class RoomFeatures {
  #me: string | undefined;
  #pins: Pin[] = [];
  readonly #reactions = new Map<number, { counts: Record<string, number>; mine: Set<string>; live: boolean }>();
  readonly #quotes = new Map<number, Quote>();

  welcome(me: string, pins: Pin[] | undefined): void {
    this.#me = me;
    this.#pins = pins ? [...pins] : [];
  }

  get pins(): Pin[] {
    return this.#pins.map((pin) => ({ ...pin }));
  }

  reactions(seq: number): Reactions {
    const entry = this.#reactions.get(seq);
    return { counts: { ...(entry?.counts ?? {}) }, mine: [...(entry?.mine ?? [])] };
  }

  /** The current quote of a parent some reply names, if a page or live frame brought it. */
  quote(seq: number): Quote | undefined {
    return this.#quotes.get(seq);
  }

  /** Records in a page or replay chunk, with its extras: taken unless a live event was newer. */
  page(events: readonly RoomEvent[], extras: Partial<PageExtras>): void {
    for (const [seq, quote] of Object.entries(extras.quotes ?? {})) this.#keep(this.#quotes, Number(seq), quote);
    for (const event of events) {
      if (event.kind !== "message") continue;
      if (this.#quotes.has(event.seq)) this.#quotes.set(event.seq, quoteOf(event));
      if (this.#reactions.get(event.seq)?.live) continue;
      const mine = extras.mine?.[String(event.seq)] ?? [];
      if (event.reactions || mine.length > 0) this.#keep(this.#reactions, event.seq, { counts: { ...(event.reactions ?? {}) }, mine: new Set(mine), live: false });
      else this.#reactions.delete(event.seq);
    }
  }

  /** A live or replayed event, in seq order. */
  event(event: RoomEvent): void {
    switch (event.kind) {
      case "reaction": {
        const entry = this.#reactions.get(event.target) ?? { counts: {}, mine: new Set<string>(), live: true };
        entry.live = true;
        if (event.count > 0) entry.counts[event.emoji] = event.count;
        else delete entry.counts[event.emoji];
        if (event.author.id === this.#me) {
          if (event.action === "add") entry.mine.add(event.emoji);
          else entry.mine.delete(event.emoji);
        }
        return this.#keep(this.#reactions, event.target, entry);
      }
      case "pin":
        this.#pins = this.#pins.filter((pin) => pin.seq !== event.target);
        if (event.action === "pin") this.#pins.push({ seq: event.target, by: event.author.id, ts: event.ts });
        return;
      case "edit": {
        const quote = this.#quotes.get(event.target);
        if (quote && !quote.deleted) this.#quotes.set(event.target, quoteOf({ kind: "message", seq: quote.seq, ts: 0, author: quote.author, clientId: "-", text: event.text }));
        return;
      }
      case "delete": {
        this.#pins = this.#pins.filter((pin) => pin.seq !== event.target);
        this.#reactions.set(event.target, { counts: {}, mine: new Set(), live: true });
        const quote = this.#quotes.get(event.target);
        if (quote) this.#quotes.set(event.target, { seq: quote.seq, author: quote.author, excerpt: "", deleted: true });
        return;
      }
      case "message":
        return void (event satisfies MessageEvent);
    }
  }

  #keep<V>(map: Map<number, V>, seq: number, value: V): void {
    map.delete(seq);
    map.set(seq, value);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
  }
}
