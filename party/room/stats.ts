/** The operator stats route's body (PROTOCOL §6), read from each part that owns the figure. */
import type * as Party from "partykit/server";
import type { RoomCore } from "../core/room-core.ts";
import type { RoomArchive } from "../archive/outbox.ts";
import type { RoomInboxLink } from "./inbox-link.ts";
import type { RoomWriter } from "./writer.ts";
import type { RoomLogReader } from "./log-reader.ts";
import type { CommandCounters, ConnState } from "./types.ts";
import type { RoomUploads } from "./uploads.ts";
import type { MediaJanitor } from "./media-janitor.ts";
import type { RoomRelays } from "./relays.ts";
import type { AwarenessStates } from "../core/awareness-states.ts";

export type StatsSources = {
  room: Party.Room;
  bootId: string;
  core: RoomCore;
  counters: CommandCounters;
  link: RoomInboxLink;
  writer: RoomWriter;
  archive: RoomArchive;
  uploads: RoomUploads;
  janitor: MediaJanitor;
  tasksQueued: number;
  log: RoomLogReader;
  relays: RoomRelays;
  awareness: AwarenessStates;
  /** Sockets closed for not reading since the room started (PROTOCOL R80). */
  notReadingClosed: number;
};

export function roomStats({ room, bootId, core, counters, link, writer, archive, uploads, janitor, tasksQueued, log, relays, awareness, notReadingClosed }: StatsSources) {
  // The room's own sockets (its relays apart) plus the viewers its relays hold (PROTOCOL R52).
  let sockets = 0;
  for (const conn of room.getConnections<ConnState>()) if (conn.state?.relay === undefined) sockets++;
  const connections = sockets + relays.relayViewers();
  const written = writer.stats();
  return {
    room: room.id,
    bootId,
    epoch: core.epoch,
    lastSeq: core.committedSeq,
    connections,
    ...(relays.live ? { live: { shards: relays.shards(), relays: relays.relayCount, relayViewers: relays.relayViewers(), roomSockets: sockets } } : {}),
    settings: core.settings,
    inboxes: link.stats(),
    commands: { ...counters },
    writes: written.writes,
    // Where commands wait right now (and how many sockets were closed to resync since the room started):
    // a room that stops acking shows which stage holds them.
    work: {
      collecting: written.collecting,
      writeInFlightMs: written.writeInFlightMs,
      tasksQueued,
      broken: written.broken,
      resyncClosed: written.resyncClosed,
      stalls: written.stalls,
      // Sessions whose lastN the room holds in memory (PROTOCOL §7.2: maxSessionsInMemory).
      sessionsInMemory: core.sessionCount,
      // Sockets closed with 4014 for not reading (PROTOCOL R80) since the room started.
      notReadingClosed,
    },
    archive: archive.stats(core.committedSeq),
    // Answers of the HTTP read path (PROTOCOL R40-R42) that reached the room: behind a cache, its misses.
    httpLog: log.stats(),
    // Files in messages (PROTOCOL R30-R33): bytes and files attached and not deleted, and the removal queue.
    storage: { ...uploads.stats(), removals: janitor.stats() },
    // Presence over awareness (PROTOCOL R73): live states, updates taken and refused, flushes and frames sent.
    awareness: { states: awareness.size, ...awareness.counters },
  };
}
