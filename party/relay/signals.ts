/**
 * The room's presence and typing frames, passed on to a relay's viewers (PROTOCOL R52). In a sharded live
 * room the room's presence frames carry the whole stream's count (its relays' viewers included) and its
 * typing frames name the hosts typing; without this a viewer on a relay would see neither, while one on
 * an unsharded room sees both. Each frame goes on as the room serialised it (one string for every viewer),
 * and the latest of each kind is kept so a viewer that joins sees the count and who is typing at once,
 * not at the next change. Two strings per relay; nothing per viewer.
 */
export type SignalKind = "presence" | "typing";

const NOBODY_TYPING = '{"type":"typing","users":[]}';

export class RelaySignals {
  private readonly latest = new Map<SignalKind, string>();

  constructor(private readonly broadcast: (frame: string) => void) {}

  /** A presence or typing frame from the room: every joined viewer gets it. */
  pass(kind: SignalKind, frame: string): void {
    // A joiner needs no frame saying nobody types: its client starts with an empty list.
    if (frame === NOBODY_TYPING) this.latest.delete(kind);
    else this.latest.set(kind, frame);
    this.broadcast(frame);
  }

  /** What a viewer that just joined is sent after its welcome: the latest count, and who types now. */
  greeting(): string[] {
    return [...this.latest.values()];
  }

  /** The subscription started over: what was kept described the old one (the room greets the new one). */
  clear(): void {
    this.latest.clear();
  }
}
