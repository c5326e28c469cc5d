/**
 * Every fuzz property, defined once: the unit tests (tests/unit/fuzz-*.test.ts) run them with small
 * `numRuns` inside `npm test`, and `npm run fuzz` (scripts/fuzz-long.ts) runs the same ones FUZZ_RUNS
 * times more (default 100). Seeds are random on every run; fast-check prints the seed and the shrunk
 * counterexample of a failure, and `FUZZ_SEED=<seed>` (with `FUZZ_PATH=<path>`) replays it.
 *
 * What the invariants mean here (party/protocol/PROTOCOL.md §0.1; DESIGN.md §2):
 * - PROTOCOL I1 Order: seqs are handed out lastSeq + 1, contiguous; the durable log is exactly m:1..m:committed
 *   and an assigned seq never changes meaning (its kind, author, clientId and ts stay; only a message's
 *   text/editedBy/deletedBy are rewritten, by an edit/delete event that names it).
 * - PROTOCOL I3 Idempotent send: a known (sender, clientId) within the dedupe window answers the original seq
 *   and ts (a duplicate), never a second event; with a higher n it is clientid_reused.
 * - PROTOCOL I4 Per-session order: per (user, session) accepted n strictly rise; n ≤ lastN is out_of_order
 *   with expected = lastN + 1.
 * - PROTOCOL I6 Monotonic read positions: "a member's read position in a room only moves forward and never
 *   past the room's committed seq; only members have one. Unread counts follow from it (other people's
 *   undeleted messages above it: 0 ≤ unread ≤ lastSeq − readSeq)". The room core (room-core.ts) keeps no
 *   read positions: they live in the pure party/core/read-state.ts, fed by the shell with committed events
 *   and reads in commit order, behind the shell's guard (members only, seq ≤ the committed seq:
 *   party/room/members.ts checkRead). Interpretation tested: fed from the room core's commits exactly as
 *   party/room/inbox-link.ts feeds it, with reads through that guard, every member's position only moves
 *   forward (a stale read returns false and changes nothing), never exceeds the committed seq, and unread
 *   equals the count over the durable log, also after a rebuild from the log (PROTOCOL IB4).
 */
import { featureScenarioArb, runFeatures } from "./features-sim.ts";
import fc from "fast-check";
import { RoomCore } from "../../party/core/room-core.ts";
import { Membership } from "../../party/core/membership.ts";
import { sessionKey } from "../../party/core/room-keys.ts";
import { ClientFrame, Command, ERROR_TEXTS, ErrorFrame, InboxClientFrame, RoomSettings, SendCommand, type Identity, type MembershipCommand } from "../../party/protocol/index.ts";
import { RoomSim, nArb, scenarioArb } from "./room-sim.ts";
import { WS_DECODERS, VALUE_DECODERS, checkBatchElement, checkValueDecode, checkWsDecode, clientFrameArb, commandArb, inboxFrameArb, mutate, mutationArb, rawFrameArb, valueInputArb } from "./decoders.ts";
import { membershipScenarioArb, runMembership } from "./membership-sim.ts";
import { checkPlainSend, plainSendInputArb } from "./plain-send.ts";
import { inboxScenarioArb, runInbox } from "./inbox-sim.ts";

export type FuzzGroup = "decoders" | "room-core" | "membership" | "inbox-core";
export type FuzzProperty = {
  name: string;
  group: FuzzGroup;
  /** Runs inside `npm test`; the long run multiplies it. */
  numRuns: number;
  /** A known failure: reported, not failing `npm test` (node:test `todo`). */
  todo?: string;
  make: () => fc.IRawProperty<[unknown]>;
};

const prop = <T>(arb: fc.Arbitrary<T>, check: (value: T) => void) => fc.property(arb, check) as unknown as fc.IRawProperty<[unknown]>;

// ---- Known bugs, as properties that fail today.

const nSchema = SendCommand.shape.n;

/** PROTOCOL I4 lock: after any accepted n the session can still number a next command, and every out_of_order names one. */
function numberingNeverLocks(ns: Array<{ rel: number } | { abs: number }>): void {
  const core = new RoomCore({ meta: { epoch: "E", lastSeq: 0, createdAt: 0 }, settings: RoomSettings.parse({}), clock: () => 1, dedupeWindow: 100, recentWindow: 100 });
  const who: Identity = { id: "alice", name: "Alice" };
  const key = sessionKey(who.id, "s");
  core.setSession(key, undefined);
  core.loadDedupe([]);
  ns.forEach((spec, i) => {
    const n = "rel" in spec ? core.sessionLastN(key) + spec.rel : spec.abs;
    if (!nSchema.safeParse(n).success) return; // the decoder refuses it
    const outcome = core.handle({ type: "send", clientId: `c${i}`, n, text: "hi" }, who, "s");
    if (outcome.status === "rejected" && outcome.error.code === "out_of_order") {
      const frame = { type: "error", code: "out_of_order", message: ERROR_TEXTS.out_of_order, retryable: false, expected: outcome.error.expected };
      if (!nSchema.safeParse(outcome.error.expected).success || !ErrorFrame.safeParse(frame).success) {
        throw new Error(`n=${n}: out_of_order with expected=${outcome.error.expected}, a number the schema refuses (ErrorFrame and command n); the session (lastN ${core.sessionLastN(key)}) is locked for good`);
      }
    }
    const next = core.sessionLastN(key) + 1;
    if (!nSchema.safeParse(next).success) throw new Error(`after n=${n} was ${outcome.status}, the session's lastN is ${core.sessionLastN(key)}: no command number the schema accepts is above it`);
  });
}

const groupCommandArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.constant({ type: "group.rename", title: "pwned" }),
  fc.constant({ type: "member.add", user: "dave" }),
  fc.constantFrom("carol", "alice").map((user) => ({ type: "member.add", user })),
  fc.constant({ type: "member.remove", user: "alice" }),
  fc.record({ type: fc.constant("member.role"), user: fc.constantFrom("carol", "bob"), role: fc.constantFrom("owner", "moderator", "member") }),
  fc.constant({ type: "group.leave" }),
);

/** PROTOCOL §5.1: `banned` answers "any command of a banned user" (moderation.ts: "a ban refuses every command"). */
function bannedMemberRefused([command, role, max]: [Record<string, unknown>, "owner" | "moderator" | "member", number]): void {
  let now = 1_000;
  const core = new RoomCore({ meta: { epoch: "E", lastSeq: 0, createdAt: 0 }, settings: RoomSettings.parse({}), clock: () => now, dedupeWindow: 100, recentWindow: 100, membership: new Membership(undefined, max) });
  const alice: Identity = { id: "alice", name: "Alice" };
  const bob: Identity = { id: "bob", name: "Bob" };
  for (const who of [alice, bob]) core.setSession(sessionKey(who.id, "s"), undefined);
  core.loadDedupe([]);
  const setup = [
    core.handle({ type: "group.create", clientId: "a1", n: 1, title: "Team", members: ["bob"] }, alice, "s"),
    core.handle({ type: "member.role", clientId: "a2", n: 2, user: "bob", role }, alice, "s"),
  ];
  if (setup.some((o) => o.status !== "accepted")) throw new Error(`setup failed: ${JSON.stringify(setup)}`);
  core.system({ type: "moderation", action: "ban", user: "bob", until: now + 60_000 }, { id: "root", name: "Root", role: "operator" }, "ban-bob");
  now += 1;
  const outcome = core.handle({ ...command, clientId: "b1", n: 1 } as MembershipCommand, bob, "s");
  if (outcome.status !== "rejected" || outcome.error.code !== "banned") {
    throw new Error(`bob (${role}, banned until ${now + 59_999}) sent ${JSON.stringify(command)}: expected rejected/banned, got ${outcome.status === "accepted" ? `accepted as seq ${outcome.ack.seq}: ${outcome.eventJson}` : JSON.stringify(outcome)}`);
  }
}

// ---- The registry.

export const PROPERTIES: FuzzProperty[] = [
  {
    name: "decoders: the generators of valid frames make frames the schemas accept (mutations start from real frames)",
    group: "decoders",
    numRuns: 100,
    make: () =>
      prop(fc.tuple(clientFrameArb, inboxFrameArb, commandArb), ([room, inbox, command]) => {
        for (const [schema, frame] of [[ClientFrame, room], [InboxClientFrame, inbox], [Command, command]] as const) {
          const parsed = schema.safeParse(JSON.parse(JSON.stringify(frame)));
          if (!parsed.success) throw new Error(`generated frame is not valid: ${JSON.stringify(frame).slice(0, 300)} (${parsed.error.issues[0]?.message})`);
        }
      }),
  },
  ...WS_DECODERS.map(
    (decoder): FuzzProperty => ({
      name: `decoders: ${decoder.name} never throws; a parsed frame or a typed rejection`,
      group: "decoders",
      numRuns: 800,
      make: () => prop(rawFrameArb(decoder.valid), (raw) => checkWsDecode(decoder, raw)),
    }),
  ),
  {
    name: "decoders: each element of a batch (checkFrame(element, Command)) parses or is a typed bad_frame with its ref",
    group: "decoders",
    numRuns: 400,
    make: () =>
      prop(
        fc.oneof(commandArb, fc.tuple(commandArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([c, ms]) => mutate(c, ms)), fc.jsonValue()),
        (element) => checkBatchElement(JSON.parse(JSON.stringify(element) ?? "null")),
      ),
  },
  {
    name: "decoders: the plain-send shortcut (party/protocol/plain-send.ts) answers only what zod answers, and answers every plain send",
    group: "decoders",
    numRuns: 800,
    make: () => prop(plainSendInputArb, checkPlainSend),
  },
  ...VALUE_DECODERS.map(
    (decoder): FuzzProperty => ({
      name: `decoders: ${decoder.name} never throws; parsed and stable, or a typed bad_frame`,
      group: "decoders",
      numRuns: 200,
      make: () => prop(valueInputArb(decoder), (input) => checkValueDecode(decoder, input)),
    }),
  ),
  {
    name: "room core: model-based command sequences (rejections change nothing; PROTOCOL I1, I3, I4, I6 after every step)",
    group: "room-core",
    numRuns: 400,
    make: () => prop(scenarioArb(40), (scenario) => new RoomSim(scenario, { maxPending: (recent) => recent - 1 }).run()),
  },
  {
    name: "room core: the same with a write in flight collecting without bound (more pending than the recent window)",
    group: "room-core",
    numRuns: 150,
    make: () => prop(scenarioArb(40), (scenario) => new RoomSim(scenario, { maxPending: () => Infinity }).run()),
  },
  {
    name: "PROTOCOL I4: an accepted n of 2^53-1 must not lock its session (out_of_order.expected must be a number the schema accepts)",
    group: "room-core",
    numRuns: 200,
    make: () => prop(fc.array(nArb, { minLength: 1, maxLength: 12 }), numberingNeverLocks),
  },
  {
    name: "PROTOCOL R14: a banned member's group commands are refused with banned, like every other command (§5.1)",
    group: "room-core",
    numRuns: 100,
    make: () => prop(fc.tuple(groupCommandArb, fc.constantFrom("owner" as const, "moderator" as const, "member" as const), fc.integer({ min: 4, max: 10 })), bannedMemberRefused),
  },
  {
    name: "PROTOCOL R20, R23, R24: reactions, thread replies and pins agree with a model; refusals take no seq and change nothing",
    group: "room-core",
    numRuns: 100,
    make: () => prop(featureScenarioArb, runFeatures),
  },
  {
    name: "membership: decide() never changes state; at most max members; an owner while anyone is left; events do what they say",
    group: "membership",
    numRuns: 500,
    make: () => prop(membershipScenarioArb, runMembership),
  },
  {
    name: "inbox core: late, repeated, reordered notifications: ignored ones change nothing, nothing goes back, events once and in order",
    group: "inbox-core",
    numRuns: 300,
    make: () => prop(inboxScenarioArb, runInbox),
  },
];

/** Runs one property; fast-check reports the seed, path and shrunk counterexample of a failure. */
export function runProperty(property: FuzzProperty, scale = 1): void {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  const path = process.env.FUZZ_PATH;
  fc.assert(property.make(), {
    numRuns: Math.max(1, Math.round(property.numRuns * scale)),
    ...(seed !== undefined ? { seed } : {}),
    ...(path ? { path } : {}),
  });
}
