/**
 * A model of reactions, thread replies and pins in the pure room core (PROTOCOL R20, R23, R24): random commands from
 * a few users on a few messages, with commits at random points. After every step the core's rewritten
 * records must carry exactly the model's counts (never below 1, never more than 20 distinct emoji), the
 * reacting user's stored set must equal the model's, thread parents their reply count, and every refusal
 * must leave the core's state unchanged and take no seq (PROTOCOL I1, I8).
 */
import fc from "fast-check";
import { RoomCore, type Accepted } from "../../party/core/room-core.ts";
import { Membership } from "../../party/core/membership.ts";
import { Pins } from "../../party/core/pins.ts";
import { reactionKey, sessionKey } from "../../party/core/room-keys.ts";
import { LIMITS, RoomSettings, type Command, type Identity, type MessageEvent } from "../../party/protocol/index.ts";
import { canonical } from "./canonical.ts";

const USERS: Identity[] = ["owner", "mod", "m1", "m2"].map((id) => ({ id, name: id }));
const EMOJI = Array.from({ length: 23 }, (_, i) => `:e${i}:`);
type Step =
  | { t: "react"; user: number; target: number; emoji: number; remove: boolean }
  | { t: "reply"; user: number; parent: number }
  | { t: "pin"; user: number; target: number; remove: boolean }
  | { t: "delete"; target: number }
  | { t: "commit" };

/** Mostly one message, so the bound on distinct emoji (20) is reached in many runs. */
const hotTarget = fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, { arbitrary: fc.integer({ min: 1, max: 6 }), weight: 1 });
export const featureScenarioArb: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { arbitrary: fc.record({ t: fc.constant("react" as const), user: fc.nat({ max: 3 }), target: hotTarget, emoji: fc.nat({ max: EMOJI.length - 1 }), remove: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }) }), weight: 12 },
    { arbitrary: fc.record({ t: fc.constant("reply" as const), user: fc.nat({ max: 3 }), parent: fc.integer({ min: 1, max: 8 }) }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant("pin" as const), user: fc.nat({ max: 3 }), target: fc.integer({ min: 1, max: 8 }), remove: fc.boolean() }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant("delete" as const), target: fc.integer({ min: 4, max: 6 }) }), weight: 1 }, // never the hot message 3
    { arbitrary: fc.constant({ t: "commit" as const }), weight: 3 },
  ),
  { minLength: 1, maxLength: 150, size: "max" },
);

function fail(message: string): never {
  throw new Error(message);
}

export function runFeatures(steps: Step[]): void {
  const membership = new Membership(undefined, 500);
  const core = new RoomCore({ meta: { epoch: "E", lastSeq: 0, createdAt: 0 }, settings: RoomSettings.parse({}), clock: () => 1, dedupeWindow: 10_000, recentWindow: 2_000, membership, pins: new Pins(undefined) });
  for (const who of USERS) core.setSession(sessionKey(who.id, "s"), undefined);
  core.loadDedupe([]);
  const n = new Map<string, number>();
  let ids = 0;
  const pending: Accepted[] = [];
  const run = (who: Identity, body: Record<string, unknown>) => {
    const next = (n.get(who.id) ?? 0) + 1;
    const command = { ...body, clientId: `c${++ids}`, n: next } as Command;
    const missing = core.missingReactionSet(command, who.id);
    if (missing !== undefined) core.setReactionSet(missing, who.id, sets.get(reactionKey(missing, who.id)) ?? []);
    const before = canonical(core);
    const lastAssigned = core.lastAssigned;
    const outcome = core.handle(command, who, "s");
    if (outcome.status === "accepted") {
      n.set(who.id, next);
      pending.push(outcome);
      for (const [key, value] of outcome.writes) if (key.startsWith("rx:")) sets.set(key, value as string[]);
    } else if (outcome.status === "rejected") {
      if (core.lastAssigned !== lastAssigned) fail(`a refusal took a seq: ${JSON.stringify(outcome)}`);
      if (JSON.stringify(canonical(core)) !== JSON.stringify(before)) fail(`a refusal changed the core: ${JSON.stringify(outcome)}`);
    }
    return outcome;
  };
  /** The model: who holds which emoji on which message, replies per parent, deleted messages, pins. */
  const sets = new Map<string, string[]>();
  const held = new Map<number, Map<string, Set<string>>>();
  const replies = new Map<number, number>();
  const deleted = new Set<number>();
  const pins: number[] = [];
  const records = new Map<number, MessageEvent>();
  const note = (outcome: ReturnType<typeof run>) => {
    if (outcome.status !== "accepted") return;
    if (outcome.event.kind === "message") records.set(outcome.event.seq, outcome.event);
    if (outcome.targetAfter) records.set(outcome.targetAfter.seq, outcome.targetAfter);
  };
  note(run(USERS[0]!, { type: "group.create", title: "G", members: ["mod", "m1", "m2"] }));
  note(run(USERS[0]!, { type: "member.role", user: "mod", role: "moderator" }));
  for (let i = 0; i < 4; i++) note(run(USERS[i]!, { type: "send", text: `m${i}` })); // seqs 3..6: the messages
  const isMessage = (seq: number) => records.has(seq) && seq >= 3;

  for (const step of steps) {
    if (step.t === "commit") {
      core.commit(pending.splice(0));
      continue;
    }
    if (step.t === "react") {
      const who = USERS[step.user]!;
      const emoji = EMOJI[step.emoji]!;
      const target = step.target + 2;
      const byEmoji = held.get(target) ?? new Map<string, Set<string>>();
      const holders = byEmoji.get(emoji) ?? new Set<string>();
      const outcome = run(who, { type: "react", target, emoji, ...(step.remove ? { remove: true } : {}) });
      note(outcome);
      const expected = !isMessage(target) || records.get(target)!.thread !== undefined && false ? "not_found"
        : deleted.has(target) ? "already_deleted"
        : step.remove ? (holders.has(who.id) ? "accepted" : "no_change")
        : holders.has(who.id) ? "no_change"
        : !byEmoji.has(emoji) && byEmoji.size >= LIMITS.maxReactionsPerMessage ? "limit_reached"
        : "accepted";
      const got = outcome.status === "rejected" ? outcome.error.code : outcome.status;
      if (got !== expected) fail(`react ${JSON.stringify(step)}: expected ${expected}, got ${got}`);
      if (outcome.status === "accepted") {
        if (step.remove) holders.delete(who.id);
        else holders.add(who.id);
        if (holders.size > 0) byEmoji.set(emoji, holders);
        else byEmoji.delete(emoji);
        held.set(target, byEmoji);
        const counts = Object.fromEntries([...byEmoji].map(([e, h]) => [e, h.size]));
        const record = outcome.targetAfter!;
        if (JSON.stringify(Object.fromEntries(Object.entries(record.reactions ?? {}).sort())) !== JSON.stringify(Object.fromEntries(Object.entries(counts).sort()))) {
          fail(`counts ${JSON.stringify(record.reactions)} != model ${JSON.stringify(counts)}`);
        }
        const mine = [...byEmoji].filter(([, h]) => h.has(who.id)).map(([e]) => e).sort();
        if (JSON.stringify([...(sets.get(reactionKey(target, who.id)) ?? [])].sort()) !== JSON.stringify(mine)) fail(`stored set of ${who.id} on ${target} differs from the model`);
      }
      continue;
    }
    if (step.t === "reply") {
      const outcome = run(USERS[step.user]!, { type: "send", text: "r", thread: step.parent });
      note(outcome);
      const parent = records.get(step.parent);
      const ok = parent !== undefined && step.parent >= 3 && !deleted.has(step.parent) && parent.thread === undefined;
      if ((outcome.status === "accepted") !== ok) fail(`thread reply to ${step.parent}: expected ${ok ? "accepted" : "a refusal"}, got ${outcome.status}`);
      if (outcome.status === "accepted") {
        replies.set(step.parent, (replies.get(step.parent) ?? 0) + 1);
        if (outcome.targetAfter?.replies?.count !== replies.get(step.parent)) fail(`reply count ${outcome.targetAfter?.replies?.count} != ${replies.get(step.parent)}`);
      }
      continue;
    }
    if (step.t === "pin") {
      const who = USERS[step.user]!;
      const outcome = run(who, { type: "pin", target: step.target, ...(step.remove ? { remove: true } : {}) });
      const isMsg = records.has(step.target) && step.target >= 3;
      const expected = !isMsg ? "not_found" : deleted.has(step.target) ? "already_deleted" : step.user > 1 ? "forbidden" : step.remove === pins.includes(step.target) ? "accepted" : "no_change";
      const got = outcome.status === "rejected" ? outcome.error.code : outcome.status;
      if (got !== expected) fail(`pin ${JSON.stringify(step)}: expected ${expected}, got ${got}`);
      if (outcome.status === "accepted") {
        if (step.remove) pins.splice(pins.indexOf(step.target), 1);
        else pins.push(step.target);
      }
      if (JSON.stringify(core.pins.list().map((p) => p.seq)) !== JSON.stringify(pins)) fail(`pins ${JSON.stringify(core.pins.list())} != model ${JSON.stringify(pins)}`);
      continue;
    }
    // delete: by the author (user index = seq - 3)
    const target = step.target;
    const author = USERS[target - 3];
    if (!author || deleted.has(target)) continue;
    const outcome = run(author, { type: "delete", target });
    note(outcome);
    if (outcome.status !== "accepted") fail(`delete of ${target} by its author refused: ${JSON.stringify(outcome)}`);
    deleted.add(target);
    held.delete(target);
    if (pins.includes(target)) pins.splice(pins.indexOf(target), 1);
    if (outcome.targetAfter?.reactions !== undefined) fail("a tombstone kept its reactions");
  }
  core.commit(pending.splice(0));
  if (JSON.stringify(core.pins.committed().map((p) => p.seq)) !== JSON.stringify(pins)) fail("committed pins differ from the model after the last commit");
}
