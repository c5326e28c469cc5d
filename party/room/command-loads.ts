/**
 * What deciding a command must have in memory first (room/commands.ts): the sender's session (PROTOCOL I4),
 * the dedupe window (PROTOCOL I3), an edit's or reaction's target and the sender's reaction set. Each is
 * loaded from storage once per room start and handed to the core.
 */
import type * as Party from "partykit/server";
import { LIMITS, type Command, type RoomEvent } from "../protocol/index.ts";
import type { RoomCore } from "../core/room-core.ts";
import { reactionKey, sessionKey, type StoredSession } from "../core/room-keys.ts";
import { readEvents } from "../adapters/event-log.ts";

/** The session's stored state (PROTOCOL I4), loaded once per room start. */
export async function ensureSession(storage: Party.Storage, core: RoomCore, userId: string, session: string): Promise<void> {
  const key = sessionKey(userId, session);
  if (!core.hasSession(key)) core.setSession(key, await storage.get<StoredSession>(key));
}

/** The (author, clientId) pairs of the retained log, loaded once per room start (PROTOCOL I3). */
export async function ensureDedupe(storage: Party.Storage, core: RoomCore): Promise<void> {
  if (core.dedupeLoaded) return;
  const from = Math.max(1, core.committedSeq - LIMITS.dedupeWindow + 1);
  core.loadDedupe(await readEvents(storage, core, from, core.committedSeq + 1));
}

/**
 * Loads what the core needs for `command`; returns the targets and parents it had to read (an edit's,
 * a reaction's, a reply's), and hands the core the sender's reaction set when a reaction needs it.
 * `core` gives the room's core at each step (a reload replaces it).
 */
export async function loadFor(storage: Party.Storage, core: () => RoomCore, userId: string, session: string, command: Command): Promise<RoomEvent[]> {
  await ensureSession(storage, core(), userId, session);
  await ensureDedupe(storage, core());
  const current = core();
  const reactedOn = current.missingReactionSet(command, userId);
  if (reactedOn !== undefined) current.setReactionSet(reactedOn, userId, await storage.get<string[]>(reactionKey(reactedOn, userId)));
  const loaded: RoomEvent[] = [];
  for (const seq of current.missingTargets(command)) loaded.push(...(await readEvents(storage, current, seq, seq + 1)));
  return loaded;
}
