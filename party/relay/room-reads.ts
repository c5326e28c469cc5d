/**
 * What a relay shard reads from its room over HTTP, as an actor (its own identity, never a viewer's): a
 * viewer's history page (PROTOCOL R9), and the stored events a resuming viewer needs from before the relay's
 * window (PROTOCOL R52).
 */
import { LIMITS, type RoomEvent } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { eventsFrame } from "../protocol/frames-out.ts";
import type { WindowFrame } from "../core/relay-window.ts";
import { safeSend } from "../adapters/sockets.ts";
import { relayIdentity, type RoomLink } from "./room-link.ts";
import type { Viewer } from "./viewers.ts";

export class RoomReads {
  constructor(
    private readonly link: RoomLink,
    private readonly shard: number,
  ) {}

  /** Events after `after` and below `before`, from the room's stored records, as replay frames. */
  async after(after: number, before: number): Promise<WindowFrame[]> {
    const frames: WindowFrame[] = [];
    for (let from = after; from < before - 1; ) {
      const limit = Math.min(LIMITS.maxHistoryLimit, before - 1 - from);
      const response = await this.link.fetch(`/history?after=${from}&limit=${limit}`, { headers: relayIdentity(this.shard) });
      if (!response.ok) throw new Error(`history after ${from}: HTTP ${response.status}`);
      const page = (await response.json()) as { events: RoomEvent[] };
      const events = page.events.filter((e) => e.seq > from && e.seq < before);
      if (events.length === 0) break;
      frames.push({ from: events[0]!.seq, to: events[events.length - 1]!.seq, frame: eventsFrame(events.map((e) => JSON.stringify(e)), true) });
      from = events[events.length - 1]!.seq;
    }
    return frames;
  }

  /** A viewer's history request, read from the room for it and answered on its socket (PROTOCOL R9). */
  async history(conn: Viewer, requestId: string, before: number | undefined, limit: number | undefined): Promise<void> {
    try {
      const query = new URLSearchParams({ limit: String(limit ?? 50), ...(before !== undefined ? { before: String(before) } : {}) });
      const response = await this.link.fetch(`/history?${query}`, { headers: relayIdentity(this.shard) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = (await response.json()) as { events: unknown[]; hasMore: boolean };
      safeSend(conn, JSON.stringify({ type: "history", requestId, events: page.events, hasMore: page.hasMore }));
    } catch (error) {
      console.error("relay: history failed", error);
      safeSend(conn, JSON.stringify(errorFrame("internal", { ref: requestId })));
    }
  }
}
