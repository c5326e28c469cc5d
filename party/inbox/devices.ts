/**
 * The user's device sockets: one per device session (a newer socket of the same session replaces the old one,
 * PROTOCOL R13), each welcomed with the conversation list, what changed while away and the contacts'
 * statuses, then sent every frame for the user (fan-out). The first device to open and the last to close
 * change the user's online status (PROTOCOL IB6).
 */
import { CLOSE } from "../protocol/codes.ts";
import type { Identity, InboxWelcome, PresenceState } from "../protocol/index.ts";
import { answerClose, safeSend } from "../adapters/sockets.ts";
import type { InboxCore } from "../core/inbox-core.ts";
import type { Device } from "./dm-router.ts";
import type { InboxMeta } from "./keys.ts";
import type { Conn, ConnState } from "./types.ts";

/** What the inbox shell lends this part. */
export interface DevicesHost {
  readonly bootId: string;
  connections(): Iterable<Conn>;
  /** The conversation list (read only). */
  conversations(): InboxCore;
  /** Rooms that changed while the user had no device, and clearing them once a welcome listed them. */
  awayRooms(): Promise<string[]>;
  clearAway(rooms: string[]): Promise<void>;
  presenceOf(user: string): PresenceState;
  meta(): InboxMeta | undefined;
  remember(user: string, origin: string, lastSeen: number | null): Promise<void>;
  /** This user went online or offline: contacts hear of it. */
  announce(online: boolean, lastSeen: number | null, at: number): void;
}

const send = safeSend;

export class InboxDevices {
  /** Devices whose welcome is being built: frames for them wait here so they come after it. */
  private readonly welcoming = new Map<string, string[]>();

  constructor(private readonly host: DevicesHost) {}

  /** An admitted socket: replaces its session's older socket, gets its welcome, may bring the user online. */
  async open(conn: Conn, who: Identity, session: string, origin: string): Promise<void> {
    conn.setState({ user: who, session });
    this.welcoming.set(conn.id, []);
    for (const other of this.host.connections()) {
      if (other.id !== conn.id && other.state?.session === session) other.close(CLOSE.sessionReplaced, "session_replaced");
    }
    const wasOnline = this.count(conn.id) > 0;
    const at = Date.now();
    let away: string[];
    try {
      await this.host.remember(who.id, origin, null);
      away = await this.host.awayRooms();
    } catch (error) {
      console.error("inbox welcome failed", error);
      this.welcoming.delete(conn.id);
      return conn.close(CLOSE.internalError, "welcome_failed");
    }
    const list = this.host.conversations();
    const page = list.page(undefined, 50);
    const welcome = {
      type: "welcome",
      user: who,
      bootId: this.host.bootId,
      conversations: page.conversations,
      hasMore: page.hasMore,
      totalUnread: list.totalUnread(),
      changedWhileAway: away,
      contacts: list.contacts().map((user) => this.host.presenceOf(user)),
      serverTime: Date.now(),
    } satisfies InboxWelcome;
    send(conn, JSON.stringify(welcome));
    for (const frame of this.welcoming.get(conn.id) ?? []) send(conn, frame);
    this.welcoming.delete(conn.id);
    if (away.length > 0) await this.host.clearAway(away);
    if (!wasOnline) this.host.announce(true, null, at);
  }

  /** A socket closed; the last one takes the user offline. */
  async close(conn: Conn): Promise<void> {
    this.welcoming.delete(conn.id);
    answerClose(conn);
    if (this.count(conn.id) > 0) return;
    const lastSeen = Date.now(); // stamped now: a device connecting during the write below announces later
    const meta = this.host.meta();
    if (meta) await this.host.remember(meta.user, meta.origin, lastSeen);
    if (this.count(conn.id) > 0) return; // a device came back meanwhile: still online
    this.host.announce(false, lastSeen, lastSeen);
  }

  /** Every device; those still being welcomed get it right after their welcome. */
  toAll(frame: string): void {
    for (const conn of this.host.connections()) {
      const waiting = this.welcoming.get(conn.id);
      if (waiting) waiting.push(frame);
      else send(conn, frame);
    }
  }

  count(except?: string): number {
    let count = 0;
    for (const conn of this.host.connections()) if (conn.id !== except) count++;
    return count;
  }

  /** The DM router's view of a device: answers go to its socket, a resync closes it (4013). */
  device(conn: Conn, state: ConnState, settled?: () => void): Device {
    return {
      id: conn.id,
      session: state.session,
      user: state.user,
      send: (frame) => send(conn, frame),
      resync: () => conn.close(CLOSE.resyncRequired, "resync_required"),
      ...(settled ? { settled } : {}),
    };
  }

  /** Admitted device sockets other than `except` and other than those its session replaces (PROTOCOL §7). */
  others(except: string, session: string): number {
    let count = 0;
    for (const conn of this.host.connections()) if (conn.id !== except && conn.state && conn.state.session !== session) count++;
    return count;
  }
}
