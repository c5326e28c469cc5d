/**
 * Who holds which socket in a room, kept up to date as sockets open and close.
 *
 * Why: presence ("is this user's last socket gone?"), one-socket-per-session (PROTOCOL R13) and the presence
 * frame's per-user check each used to scan every socket of the room. In a reconnect storm of 1,000
 * clients that is three scans of 1,000 sockets per reconnect (measured: about a third of the room's
 * CPU per connection). Here each of them is a map lookup.
 *
 * Observers (operators watching) hold sockets but are never presence; they still count for PROTOCOL R13.
 * Pure: no runtime types, so the rules are unit-tested with plain data.
 */
import { sessionKey } from "./room-keys.ts";

export type SocketEntry = { user: string; session: string; observer: boolean };

export class SocketIndex {
  private readonly entries = new Map<string, SocketEntry>();
  /** Present users' sockets (observers excluded). */
  private readonly byUser = new Map<string, Set<string>>();
  /** The socket currently holding each (user, session). */
  private readonly bySession = new Map<string, string>();

  /**
   * Records an admitted socket. Returns whether it made the user present (their first non-observer
   * socket) and the id of the socket it replaces in its session (PROTOCOL R13), if any.
   */
  add(id: string, entry: SocketEntry): { joined: boolean; replaces?: string } {
    this.remove(id); // the same id again (never expected): replace rather than count twice
    this.entries.set(id, entry);
    const key = sessionKeyOf(entry);
    const previous = this.bySession.get(key);
    this.bySession.set(key, id);
    let joined = false;
    if (!entry.observer) {
      let sockets = this.byUser.get(entry.user);
      if (!sockets) this.byUser.set(entry.user, (sockets = new Set()));
      joined = sockets.size === 0;
      sockets.add(id);
    }
    return previous !== undefined && previous !== id ? { joined, replaces: previous } : { joined };
  }

  /** Forgets a closed socket. Returns whether its user is no longer present (their last non-observer socket). */
  remove(id: string): { left: boolean; user?: string } {
    const entry = this.entries.get(id);
    if (!entry) return { left: false };
    this.entries.delete(id);
    const key = sessionKeyOf(entry);
    if (this.bySession.get(key) === id) this.bySession.delete(key);
    if (entry.observer) return { left: false, user: entry.user };
    const sockets = this.byUser.get(entry.user);
    sockets?.delete(id);
    if (sockets && sockets.size > 0) return { left: false, user: entry.user };
    this.byUser.delete(entry.user);
    return { left: true, user: entry.user };
  }

  /** Sockets the user holds (observers excluded): what a per-user bound counts (PROTOCOL §7). */
  socketsOf(user: string): number {
    return this.byUser.get(user)?.size ?? 0;
  }

  /**
   * Whether admitting `entry` would give its user one more socket: not if it replaces the socket holding
   * its session (PROTOCOL R13), nor for an observer.
   */
  adds(entry: SocketEntry): boolean {
    if (entry.observer) return false;
    const holder = this.bySession.get(sessionKeyOf(entry));
    return holder === undefined || this.entries.get(holder)?.observer === true;
  }

  /** Whether an open socket holds this session (key: `sessionKey(user, session)`, the core's session key). */
  holdsSession(key: string): boolean {
    return this.bySession.has(key);
  }

  isPresent(user: string): boolean {
    return this.byUser.has(user);
  }

  /** Present users, sorted (the welcome's members block). */
  presentUsers(): string[] {
    return [...this.byUser.keys()].sort();
  }

  /** How many users are present (observers excluded). */
  get presentCount(): number {
    return this.byUser.size;
  }

  /** Every socket that is indexed (observers included). */
  get size(): number {
    return this.entries.size;
  }
}

/** The same key that names the session's stored record: one (user, session) per key. */
function sessionKeyOf(entry: SocketEntry): string {
  return sessionKey(entry.user, entry.session);
}
