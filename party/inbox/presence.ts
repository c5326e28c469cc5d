/**
 * Online status (PROTOCOL IB6): socket opens and closes drive this user's status, which goes to every contact
 * (a DM peer) as `POST /presence` on their inbox; contacts' statuses arrive the same way, are kept (`p:`, the
 * latest by timestamp wins) and passed on to this user's devices.
 */
import type * as Party from "partykit/server";
import type { PresenceState } from "../protocol/index.ts";
import { PRESENCE_PREFIX, presenceKey, type StoredPresence } from "./keys.ts";
import type { InboxCall } from "./types.ts";

/** What the inbox shell lends this part. */
export interface PresenceHost {
  readonly userId: string;
  readonly storage: Party.Storage;
  /** The user's DM peers. */
  contacts(): string[];
  toDevices(frame: string): void;
  callInbox: InboxCall;
}

export class InboxPresence {
  /** Contacts' statuses as last heard, with the timestamp their inbox stamped. */
  private readonly known = new Map<string, StoredPresence>();

  constructor(private readonly host: PresenceHost) {}

  async load(): Promise<void> {
    const stored = await this.host.storage.list<StoredPresence>({ prefix: PRESENCE_PREFIX });
    for (const state of stored.values()) this.known.set(state.user, state);
  }

  /** This user went online or offline: every contact hears of it. */
  announce(online: boolean, lastSeen: number | null, at: number): void {
    for (const peer of this.host.contacts()) this.tell(peer, online, lastSeen, at);
  }

  tell(peer: string, online: boolean, lastSeen: number | null, at: number): void {
    const body = JSON.stringify({ user: this.host.userId, online, lastSeen, at });
    void this.host.callInbox(peer, "/presence", body).catch((error) => console.error(`presence to ${peer} failed`, error));
  }

  /** A contact's inbox told this one of a change (older than what is known: ignored). */
  async note(update: StoredPresence): Promise<void> {
    const known = this.known.get(update.user);
    if (known && known.at > update.at) return;
    this.known.set(update.user, update);
    await this.host.storage.put(presenceKey(update.user), update);
    const { at: _at, ...state } = update;
    const frame = JSON.stringify({ type: "presence", ...state });
    this.host.toDevices(frame);
  }

  of(user: string): PresenceState {
    const known = this.known.get(user);
    return known ? { user, online: known.online, lastSeen: known.lastSeen } : { user, online: false, lastSeen: null };
  }
}
