/**
 * What a room client knows about the room's members: roles, read positions (receipts, PROTOCOL I6), who is present
 * and who is typing. Fed by the welcome's `members` block, membership events, and the room's batched
 * `receipts` / `presence` / `typing` frames. Plain data: no sockets, no timers.
 */
import type { GroupEvent, MemberEvent, ReceiptsFrame, Role, RoomPresenceFrame, TypingFrame, WelcomeFrame } from "../party/protocol/index.ts";

export type MembersSnapshot = NonNullable<WelcomeFrame["members"]>;

export class RoomMembers {
  kind: MembersSnapshot["kind"] | null = null;
  title = "";
  readonly roles = new Map<string, Role>();
  readonly reads = new Map<string, number>();
  readonly delivered = new Map<string, number>();
  readonly present = new Set<string>();
  typing: string[] = [];
  occupancy = 0;

  /** The welcome replaces everything: the room's state as of joining. */
  welcome(block: MembersSnapshot | undefined): void {
    this.roles.clear();
    this.reads.clear();
    this.present.clear();
    this.kind = block?.kind ?? null;
    this.title = block?.title ?? "";
    for (const m of block?.list ?? []) this.roles.set(m.id, m.role);
    for (const [user, seq] of Object.entries(block?.reads ?? {})) this.reads.set(user, seq);
    for (const user of block?.present ?? []) this.present.add(user);
    this.typing = [...(block?.typing ?? [])];
    this.occupancy = this.present.size;
  }

  /** A membership event in the log (applied in seq order, like every event). */
  event(event: GroupEvent | MemberEvent): void {
    if (event.kind === "group") {
      this.title = event.title;
      this.kind = "group";
      for (const m of event.members ?? []) {
        this.roles.set(m.id, m.role);
        this.reads.set(m.id, Math.max(this.reads.get(m.id) ?? 0, event.seq));
      }
      return;
    }
    if (event.action === "add") {
      this.roles.set(event.user, event.role ?? "member");
      this.reads.set(event.user, Math.max(this.reads.get(event.user) ?? 0, event.seq));
    } else if (event.action === "role" && event.role) {
      this.roles.set(event.user, event.role);
    } else if (event.action === "remove" || event.action === "leave") {
      this.roles.delete(event.user);
      this.reads.delete(event.user);
      this.typing = this.typing.filter((u) => u !== event.user);
    }
  }

  receipts(frame: ReceiptsFrame): void {
    for (const [user, seq] of Object.entries(frame.reads)) {
      if (this.kind === "group" && !this.roles.has(user)) continue; // a late receipt of someone who left
      this.reads.set(user, Math.max(this.reads.get(user) ?? 0, seq)); // I6: only forward
    }
    for (const [user, seq] of Object.entries(frame.delivered ?? {})) this.delivered.set(user, Math.max(this.delivered.get(user) ?? 0, seq));
  }

  presence(frame: RoomPresenceFrame): void {
    // An audience (an open room too big to name who comes and goes): only the count is known.
    if (frame.listed === false) this.present.clear();
    for (const user of frame.joined) this.present.add(user);
    for (const user of frame.left) this.present.delete(user);
    this.occupancy = frame.count;
  }

  typingFrame(frame: TypingFrame): void {
    this.typing = [...frame.users];
  }

  /** Members (other than `except`) whose read position has reached `seq`. */
  readers(seq: number, except?: string): string[] {
    const out: string[] = [];
    for (const [user, readSeq] of this.reads) if (user !== except && readSeq >= seq) out.push(user);
    return out.sort();
  }
}
