/**
 * Group membership and room roles (owner / moderator / member), as room state changed only by sequenced
 * events (PROTOCOL I7). Pure: `decide` says whether a membership command is allowed and what event it becomes;
 * `apply` changes the state when that event is accepted. Distinct from the platform `operator` role.
 */
import type { ErrorCode, GroupEvent, Identity, MemberEvent, MembershipCommand, Role } from "../protocol/index.ts";

export type Member = { role: Role; since: number };
/** `created`: the group exists even when its last member has left (nobody may re-create it and take its log). */
export type MembershipState = { title: string; members: Record<string, Member>; created?: boolean };
export type Refusal = { code: ErrorCode; message?: string };
/** What a membership command becomes: the event fields beyond seq/ts/author/clientId. */
export type MembershipChange =
  | Omit<GroupEvent, "seq" | "ts" | "author" | "clientId">
  | Omit<MemberEvent, "seq" | "ts" | "author" | "clientId">;

const RANK: Record<Role, number> = { member: 0, moderator: 1, owner: 2 };

export class Membership {
  private title = "";
  private created = false;
  private readonly members = new Map<string, Member>();

  constructor(
    stored: MembershipState | undefined,
    private readonly maxMembers: number,
  ) {
    if (!stored) return;
    this.title = stored.title;
    this.created = stored.created ?? Object.keys(stored.members).length > 0;
    for (const [user, member] of Object.entries(stored.members)) this.members.set(user, member);
  }

  get exists(): boolean {
    return this.created;
  }

  get size(): number {
    return this.members.size;
  }

  get name(): string {
    return this.title;
  }

  has(user: string): boolean {
    return this.members.has(user);
  }

  roleOf(user: string): Role | undefined {
    return this.members.get(user)?.role;
  }

  /** The seq of the event that made `user` a member (their read position before any read). */
  since(user: string): number {
    return this.members.get(user)?.since ?? 0;
  }

  ids(): string[] {
    return [...this.members.keys()];
  }

  list(): Array<{ id: string; role: Role }> {
    return [...this.members].map(([id, m]) => ({ id, role: m.role }));
  }

  /** Whether `who` may do `command` now; if so, the event it becomes. */
  decide(command: MembershipCommand, who: Identity): MembershipChange | Refusal {
    const mine = this.roleOf(who.id);
    if (command.type === "group.create") {
      if (this.exists) return { code: "forbidden", message: "This group already exists." };
      const invited = [...new Set(command.members.filter((id) => id !== who.id))];
      if (invited.length + 1 > this.maxMembers) return { code: "group_full", message: `A group has at most ${this.maxMembers} members.` };
      return { kind: "group", action: "create", title: command.title, members: [{ id: who.id, role: "owner" }, ...invited.map((id) => ({ id, role: "member" as const }))] };
    }
    if (!this.exists) return { code: "not_found", message: "No such group: create it first." };
    if (!mine) return { code: "not_member" };
    switch (command.type) {
      case "group.rename":
        if (RANK[mine] < RANK.moderator) return { code: "forbidden", message: "Moderators and owners rename a group." };
        return { kind: "group", action: "rename", title: command.title };
      case "member.add":
        if (RANK[mine] < RANK.moderator) return { code: "forbidden", message: "Moderators and owners add members." };
        if (this.members.has(command.user)) return { code: "forbidden", message: "Already a member." };
        if (this.members.size >= this.maxMembers) return { code: "group_full", message: `A group has at most ${this.maxMembers} members.` };
        return { kind: "member", action: "add", user: command.user, role: "member" };
      case "member.remove": {
        const target = this.roleOf(command.user);
        if (!target) return { code: "not_found", message: "Not a member." };
        if (command.user === who.id) return { code: "forbidden", message: "Use leave to leave a group." };
        // Nobody removes someone of their own rank or above: moderators remove members, owners anyone.
        if (RANK[mine] < RANK.moderator || RANK[target] >= RANK[mine]) return { code: "forbidden", message: "You may not remove this member." };
        return { kind: "member", action: "remove", user: command.user };
      }
      case "member.role": {
        const target = this.roleOf(command.user);
        if (!target) return { code: "not_found", message: "Not a member." };
        if (mine !== "owner") return { code: "forbidden", message: "Only owners change roles." };
        if (command.user === who.id && this.owners() === 1 && command.role !== "owner") {
          return { code: "forbidden", message: "A group keeps at least one owner." };
        }
        return { kind: "member", action: "role", user: command.user, role: command.role };
      }
      case "group.leave":
        if (mine === "owner" && this.owners() === 1 && this.members.size > 1) {
          return { code: "forbidden", message: "The last owner hands ownership to someone before leaving." };
        }
        return { kind: "member", action: "leave", user: who.id };
    }
  }

  /** The state after an accepted membership event; returns who lost membership (their sockets close). */
  apply(event: GroupEvent | MemberEvent): string[] {
    if (event.kind === "group") {
      this.title = event.title;
      this.created = true;
      for (const m of event.members ?? []) this.members.set(m.id, { role: m.role, since: event.seq });
      return [];
    }
    if (event.action === "add") this.members.set(event.user, { role: event.role ?? "member", since: event.seq });
    if (event.action === "role") this.members.set(event.user, { ...this.members.get(event.user)!, role: event.role! });
    if (event.action === "remove" || event.action === "leave") {
      this.members.delete(event.user);
      return [event.user];
    }
    return [];
  }

  toJSON(): MembershipState {
    return { title: this.title, members: Object.fromEntries(this.members), created: this.created };
  }

  private owners(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.role === "owner") n++;
    return n;
  }
}

export function isRefusal(x: MembershipChange | Refusal): x is Refusal {
  return "code" in x;
}
