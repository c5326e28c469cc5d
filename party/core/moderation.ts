/**
 * Per-room bans and mutes with expiry: pure rules, no PartyKit import, the clock comes in.
 * A ban refuses every command and every new socket of the user; a mute refuses posting (send, edit) but
 * still lets the user read and delete their own messages. Operators are never restricted (they moderate).
 * State is one storage key per restricted user (`mod:<userId>`), written in the same durable batch as the
 * sequenced moderation event that changed it (PROTOCOL I1, I2), so clients, history and the room's rules agree.
 */
import type { Command, Identity, ModerationEvent } from "../protocol/index.ts";
import type { Rejection } from "./rejection.ts";
import { MODERATION_PREFIX, moderationKey } from "./room-keys.ts";

/** Expiry times in ms since the epoch; absent means not restricted. */
export type Restriction = { banUntil?: number; muteUntil?: number };
export type ModerationAction = ModerationEvent["action"];

export class Moderation {
  private readonly byUser = new Map<string, Restriction>();

  constructor(stored: Iterable<[string, Restriction]> = []) {
    for (const [key, value] of stored) {
      const user = key.startsWith(MODERATION_PREFIX) ? key.slice(MODERATION_PREFIX.length) : key;
      if (value.banUntil !== undefined || value.muteUntil !== undefined) this.byUser.set(user, { ...value });
    }
  }

  isBanned(userId: string, now: number): boolean {
    const until = this.byUser.get(userId)?.banUntil;
    return until !== undefined && until > now;
  }

  isMuted(userId: string, now: number): boolean {
    const until = this.byUser.get(userId)?.muteUntil;
    return until !== undefined && until > now;
  }

  /** Why `who` may not run `command` now, if they may not. */
  refusal(who: Identity, command: Command["type"] | "connect", now: number): Rejection | undefined {
    if (who.role === "operator") return undefined;
    const entry = this.byUser.get(who.id);
    if (!entry) return undefined;
    if (entry.banUntil !== undefined && entry.banUntil > now) {
      return { code: "banned", message: `You are banned from this room until ${new Date(entry.banUntil).toISOString()}.`, retryAfterMs: entry.banUntil - now };
    }
    // Muted users may still delete their own messages and leave a group: neither says anything.
    const quiet = command === "delete" || command === "connect" || command === "group.leave";
    if (!quiet && entry.muteUntil !== undefined && entry.muteUntil > now) {
      return { code: "muted", message: `You are muted in this room until ${new Date(entry.muteUntil).toISOString()}.`, retryAfterMs: entry.muteUntil - now };
    }
    return undefined;
  }

  /** Applies a moderation action and returns the storage write that makes it durable. */
  apply(action: ModerationAction, userId: string, until: number | undefined): [string, Restriction] {
    const entry = { ...this.byUser.get(userId) };
    if (action === "ban") entry.banUntil = requireUntil(until);
    else if (action === "mute") entry.muteUntil = requireUntil(until);
    else if (action === "unban") delete entry.banUntil;
    else delete entry.muteUntil;
    if (entry.banUntil === undefined && entry.muteUntil === undefined) this.byUser.delete(userId);
    else this.byUser.set(userId, entry);
    return [moderationKey(userId), entry];
  }

  /** Restrictions still in force at `now`, for the admin API. */
  active(now: number): Array<{ user: string; banUntil?: number; muteUntil?: number }> {
    const out: Array<{ user: string; banUntil?: number; muteUntil?: number }> = [];
    for (const [user, entry] of this.byUser) {
      const ban = entry.banUntil !== undefined && entry.banUntil > now ? entry.banUntil : undefined;
      const mute = entry.muteUntil !== undefined && entry.muteUntil > now ? entry.muteUntil : undefined;
      if (ban !== undefined || mute !== undefined) out.push({ user, ...(ban !== undefined ? { banUntil: ban } : {}), ...(mute !== undefined ? { muteUntil: mute } : {}) });
    }
    return out.sort((a, b) => a.user.localeCompare(b.user));
  }
}

function requireUntil(until: number | undefined): number {
  if (until === undefined) throw new Error("moderation: ban and mute need an expiry");
  return until;
}
