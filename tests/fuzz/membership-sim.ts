/**
 * Fuzzing of group membership (party/core/membership.ts) on its own: random group commands from a few
 * users (members, non-members, the creator) against a small member limit, from an empty or a stored state.
 *
 * After every command: `decide` changed nothing (whatever it answered: a refusal must leave the state
 * byte-for-byte as it was, and an allowed command changes state only through `apply`); a refusal carries a
 * code of codes.ts; an applied event did what it says; the member count never exceeds the maximum; a group
 * with members keeps an owner; the state survives its storage round trip (toJSON → constructor).
 */
import fc from "fast-check";
import { Membership, isRefusal, type MembershipState } from "../../party/core/membership.ts";
import { ERROR_CODES, MembershipCommand, type GroupEvent, type Identity, type MemberEvent, type Role } from "../../party/protocol/index.ts";
import { canonical } from "./canonical.ts";

const USERS = ["u0", "u1", "u2", "u3", "u4", "u5"];
const userArb = fc.constantFrom(...USERS);
const roleArb = fc.constantFrom<Role>("owner", "moderator", "member");

const commandArb = fc.oneof(
  { arbitrary: fc.record({ type: fc.constant("group.create" as const), title: fc.constantFrom("T", "Team"), members: fc.array(userArb, { maxLength: 7 }) }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant("group.rename" as const), title: fc.constantFrom("R", "Renamed") }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant("member.add" as const), user: userArb }), weight: 5 },
  { arbitrary: fc.record({ type: fc.constant("member.remove" as const), user: userArb }), weight: 3 },
  { arbitrary: fc.record({ type: fc.constant("member.role" as const), user: userArb, role: roleArb }), weight: 3 },
  { arbitrary: fc.constant({ type: "group.leave" as const }), weight: 2 },
);

/** A stored state that is valid on its own terms: at most `max` members, an owner among them. */
const storedArb = (max: number): fc.Arbitrary<MembershipState | undefined> =>
  fc.option(
    fc.uniqueArray(fc.tuple(userArb, roleArb), { minLength: 1, maxLength: max, selector: ([u]) => u }).map((list) => {
      const members: MembershipState["members"] = {};
      list.forEach(([user, role], i) => (members[user] = { role: i === 0 ? "owner" : role, since: i + 1 }));
      return { title: "Stored", members, created: true };
    }),
    { freq: 3 },
  );

export const membershipScenarioArb = fc.integer({ min: 1, max: 4 }).chain((max) =>
  fc.record({ max: fc.constant(max), stored: storedArb(max), steps: fc.array(fc.record({ who: userArb, command: commandArb }), { minLength: 1, maxLength: 30, size: "max" }) }),
);

const owners = (m: Membership) => m.list().filter((x) => x.role === "owner").length;

export function runMembership(scenario: { max: number; stored: MembershipState | undefined; steps: Array<{ who: string; command: Record<string, unknown> }> }): void {
  const m = new Membership(structuredClone(scenario.stored), scenario.max);
  let seq = 0;
  const trace: string[] = [];
  const fail = (message: string): never => {
    throw new Error(`${message}\n--- trace ---\n${trace.join("\n")}`);
  };
  for (const { who: whoId, command: raw } of scenario.steps) {
    const parsed = MembershipCommand.safeParse({ ...raw, clientId: `c${seq}`, n: seq + 1 });
    if (!parsed.success) continue;
    const command = parsed.data;
    const who: Identity = { id: whoId, name: whoId };
    const before = canonical(m);
    const sizeBefore = m.size;
    const decision = m.decide(command, who);
    trace.push(`${whoId} ${JSON.stringify(command)} → ${JSON.stringify(decision)}`);
    if (canonical(m) !== before) fail(`decide() changed the state (${isRefusal(decision) ? "refused" : "allowed"} ${command.type})`);
    if (isRefusal(decision)) {
      if (!ERROR_CODES.includes(decision.code)) fail(`untyped refusal ${decision.code}`);
      continue;
    }
    seq++;
    const event = { ...decision, seq, ts: seq, author: { id: whoId, name: whoId }, clientId: `c${seq}` } as GroupEvent | MemberEvent;
    const removed = m.apply(event);
    if (m.size > scenario.max) fail(`${m.size} members, the maximum is ${scenario.max}`);
    if (!m.exists) fail("an applied event left the group not existing");
    if (m.size > 0 && owners(m) === 0) fail(`no owner left among ${JSON.stringify(m.list())}`);
    if (event.kind === "group" && event.action === "create") {
      if (m.roleOf(whoId) !== "owner" || m.size !== new Set([whoId, ...(command.type === "group.create" ? command.members : [])]).size) fail(`create made ${JSON.stringify(m.list())}`);
    }
    if (event.kind === "group" && event.action === "rename" && m.name !== event.title) fail("rename did not rename");
    if (event.kind === "member") {
      if (event.action === "add" && (m.roleOf(event.user) !== "member" || m.size !== sizeBefore + 1 || m.since(event.user) !== seq)) fail("add did not add a member");
      if ((event.action === "remove" || event.action === "leave") && (m.has(event.user) || m.size !== sizeBefore - 1 || JSON.stringify(removed) !== JSON.stringify([event.user]))) fail(`${event.action} did not remove`);
      if (event.action === "leave" && event.user !== whoId) fail("leave removed someone else");
      if (event.action === "role" && m.roleOf(event.user) !== event.role) fail("role did not change the role");
      if (event.action !== "remove" && event.action !== "leave" && removed.length > 0) fail("a non-removal removed someone");
    }
    const reloaded = new Membership(structuredClone(m.toJSON()), scenario.max);
    if (JSON.stringify(reloaded.toJSON()) !== JSON.stringify(m.toJSON()) || reloaded.exists !== m.exists) fail("the stored state does not reload to the same membership");
  }
}
