/**
 * Model-based fuzzing of the pure room core (party/core/room-core.ts), with the read positions of
 * party/core/read-state.ts fed from its commits.
 *
 * A scenario is a list of steps from several users and device sessions: commands (good and bad: wrong
 * n, n up to 2^53-1, reused clientIds, edits of others' messages, deletes of unknown seqs, blank and
 * oversized text, group commands, resends), operator actions (announcements, bans, mutes, admin deletes),
 * flushes and commits of the write pipeline, write failures ("crash": the write in flight and everything
 * collected behind it lost, core rebuilt from storage as the shell does), clock ticks, settings changes
 * and reads. `RoomSim` plays the shell's part
 * exactly as party/room/server.ts and the commit pipeline do it: load the session, the dedupe window and
 * a missing edit target from storage, then `handle`; a flush puts a batch's writes into storage (readable
 * at once, durable only later: one write in flight, PROTOCOL R2), then `commit`. It keeps a small independent model
 * and checks after every step:
 *
 * - every outcome against the model: the status, and the code for rejections (with `expected` for
 *   out_of_order, `retryAfterMs` for slow_mode/banned/muted); the model follows PROTOCOL R1, R4, R5, R8,
 *   §5 (refusal order of `RoomCore.refuse`). For group commands in a group the decision is Membership's
 *   (fuzzed on its own in membership-sim.ts), so only the generic layer (dedupe, order) is predicted.
 * - a rejected or duplicate command leaves the core byte-for-byte unchanged (tests/fuzz/canonical.ts over
 *   every field of the core, its Membership and Moderation).
 * - PROTOCOL I1: seqs are handed out 1, 2, 3, … with no gap; the durable log holds exactly m:1..m:committed; a
 *   committed seq keeps its kind, author, clientId and ts forever (edits/deletes rewrite only text,
 *   editedBy, deletedBy of a message, pointing at an edit/delete event that targets it); readers see only
 *   durable versions (PROTOCOL R2.5).
 * - PROTOCOL I3: a known (sender, clientId) in the dedupe window answers its original seq and ts, never a second
 *   event; no two events in the window share (sender, clientId).
 * - PROTOCOL I4: per (user, session) accepted n strictly rise; n ≤ lastN is out_of_order with expected lastN + 1.
 * - PROTOCOL I6: see the header of properties.ts (read positions forward only, never past the committed seq;
 *   exact unread counts, also after a rebuild from the log).
 *
 * One tolerance, a documented deviation rather than a failure: PROTOCOL R8.1 says an edit/delete target "may still
 * be pending", but a pending target that has left the core's recent window is looked up in storage, where
 * readers see only durable records, so it is not_found (see `predict`). The first property keeps fewer
 * commands pending than the recent window (as production does unless a write stalls behind >2,000
 * commands); the second lets them pile up and accepts either answer there.
 */
import fc from "fast-check";
import { RoomCore, type Accepted, type Outcome, type Rejection, type SystemAction } from "../../party/core/room-core.ts";
import { Membership, type MembershipState } from "../../party/core/membership.ts";
import { Moderation, type Restriction } from "../../party/core/moderation.ts";
import { MODERATION_PREFIX } from "../../party/core/room-keys.ts";
import { ReadState } from "../../party/core/read-state.ts";
import { EVENT_PREFIX, MEMBERS_KEY, META_KEY, eventKey, sessionKey, type RoomMeta, type StoredSession } from "../../party/core/room-keys.ts";
import { Command, ERROR_CODES, LIMITS, RoomEvent, type ErrorCode, type Identity, type MessageEvent, type RoomSettings } from "../../party/protocol/index.ts";
import { canonical } from "./canonical.ts";

export const USERS = {
  alice: { id: "alice", name: "Alice" },
  bob: { id: "bob", name: "Bob" },
  carol: { id: "carol", name: "Carol" },
  root: { id: "root", name: "Root", role: "operator" },
} as const satisfies Record<string, Identity>;
export type UserName = keyof typeof USERS;
const USER_NAMES = Object.keys(USERS) as UserName[];
/** The shell's session for admin actions (party/room/server.ts `ADMIN_SESSION`); any fixed id does. */
const ADMIN_SESSION = "admin";
const EPOCH = "E";
const GROUP_MAX = 4;

// ---- Steps.

/** `rel`: relative to the session's current lastN (1 is the well-behaved next number). */
export type NSpec = { rel: number } | { abs: number };
export type CidSpec = { pool: number } | { fresh: true };
export type TextSpec = "ok" | "empty" | "blank" | "long" | "max" | { raw: string };
/**
 * `back`: lastAssigned - back (a recent seq); `ahead`: beyond lastAssigned; `abs`: any positive number;
 * `own`: the sender's own message, `own` messages back (so that edits and deletes mostly pass, and
 * rewrites of one target pile up in the write pipeline).
 */
export type TargetSpec = { back: number } | { ahead: number } | { abs: number } | { own: number };
export type CmdSpec =
  | { type: "send"; text: TextSpec; attach: boolean }
  | { type: "edit"; target: TargetSpec; text: TextSpec }
  | { type: "delete"; target: TargetSpec }
  | { type: "group.create"; title: string; members: UserName[] }
  | { type: "group.rename"; title: string }
  | { type: "member.add" | "member.remove"; user: UserName }
  | { type: "member.role"; user: UserName; role: "owner" | "moderator" | "member" }
  | { type: "group.leave" };
export type Step =
  | { t: "cmd"; user: UserName; session: 0 | 1; n: NSpec; cid: CidSpec; c: CmdSpec }
  | { t: "sys"; cid: CidSpec; action: "announce" | "ban" | "mute" | "unban" | "unmute"; user: UserName; ms: number }
  | { t: "adminDelete"; cid: CidSpec; target: TargetSpec }
  /** A client's resend: an earlier command again, unchanged (same clientId and n), from its session or the user's other one. */
  | { t: "resend"; back: number; otherSession: boolean }
  /** The pipeline starts writing the oldest `k` collected commands (if no write is in flight). */
  | { t: "flush"; k: number }
  /** The write in flight becomes durable (flushing the oldest `k` first if none was in flight). */
  | { t: "commit"; k: number }
  | { t: "crash" }
  | { t: "tick"; ms: number }
  | { t: "settings"; settings: RoomSettings }
  /** `back`/`ahead`: relative to the committed seq; `fromRead`: relative to the user's own read position. */
  | { t: "read"; user: UserName; at: { back: number } | { ahead: number } | { fromRead: number } };

export type Scenario = {
  group: boolean;
  dedupeWindow: number;
  recentWindow: number;
  settings: RoomSettings;
  steps: Step[];
};

export type SimOptions = {
  /**
   * Commit everything once this many accepted commands are pending (a flush). `recentWindow - 1` keeps
   * every pending event inside the core's recent window; Infinity lets a write in flight collect without
   * bound, as PROTOCOL §8.9 says the room may.
   */
  maxPending: (recentWindow: number) => number;
};

// ---- Arbitraries.

const MAX_N = Number.MAX_SAFE_INTEGER;
const userArb = fc.constantFrom<UserName>(...USER_NAMES);
const posterArb = fc.oneof({ arbitrary: fc.constantFrom<UserName>("alice", "bob", "carol"), weight: 5 }, { arbitrary: fc.constant<UserName>("root"), weight: 1 });
export const nArb: fc.Arbitrary<NSpec> = fc.oneof(
  { arbitrary: fc.constant({ rel: 1 }), weight: 14 },
  { arbitrary: fc.integer({ min: -3, max: 4 }).map((rel) => ({ rel })), weight: 3 },
  { arbitrary: fc.constantFrom(MAX_N, MAX_N - 1, 2 ** 31, 2 ** 32 + 1).map((abs) => ({ abs })), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: MAX_N }).map((abs) => ({ abs })), weight: 1 },
);
const cidArb: fc.Arbitrary<CidSpec> = fc.oneof(
  { arbitrary: fc.constant({ fresh: true as const }), weight: 6 },
  { arbitrary: fc.nat({ max: 5 }).map((pool) => ({ pool })), weight: 4 },
);
const textArb: fc.Arbitrary<TextSpec> = fc.oneof(
  { arbitrary: fc.constant("ok" as const), weight: 10 },
  { arbitrary: fc.constantFrom("empty" as const, "blank" as const, "long" as const, "max" as const), weight: 3 },
  { arbitrary: fc.string({ maxLength: 12, unit: "binary" }).map((raw) => ({ raw })), weight: 2 },
);
const targetArb: fc.Arbitrary<TargetSpec> = fc.oneof(
  { arbitrary: fc.nat({ max: 3 }).map((own) => ({ own })), weight: 10 },
  { arbitrary: fc.nat({ max: 6 }).map((back) => ({ back })), weight: 10 },
  { arbitrary: fc.nat({ max: 40 }).map((back) => ({ back })), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 3 }).map((ahead) => ({ ahead })), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: MAX_N }).map((abs) => ({ abs })), weight: 1 },
);
const titleArb = fc.constantFrom("Team", "  x  ", "Renamed");
const membershipCmdArb: fc.Arbitrary<CmdSpec> = fc.oneof(
  fc.record({ type: fc.constant("group.create" as const), title: titleArb, members: fc.uniqueArray(userArb, { maxLength: 5 }) }),
  fc.record({ type: fc.constant("group.rename" as const), title: titleArb }),
  fc.record({ type: fc.constantFrom("member.add" as const, "member.remove" as const), user: userArb }),
  fc.record({ type: fc.constant("member.role" as const), user: userArb, role: fc.constantFrom("owner" as const, "moderator" as const, "member" as const) }),
  fc.constant({ type: "group.leave" as const }),
);
const cmdArb = (group: boolean): fc.Arbitrary<CmdSpec> =>
  fc.oneof(
    { arbitrary: fc.record({ type: fc.constant("send" as const), text: textArb, attach: fc.boolean() }), weight: 10 },
    { arbitrary: fc.record({ type: fc.constant("edit" as const), target: targetArb, text: textArb }), weight: 3 },
    { arbitrary: fc.record({ type: fc.constant("delete" as const), target: targetArb }), weight: 3 },
    { arbitrary: membershipCmdArb, weight: group ? 4 : 1 },
  );
export const settingsArb: fc.Arbitrary<RoomSettings> = fc.record({
  whoMayPost: fc.oneof({ arbitrary: fc.constant("everyone" as const), weight: 9 }, { arbitrary: fc.constant("operators" as const), weight: 1 }),
  maxTextChars: fc.constantFrom(8, 4000),
  slowModeMs: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.constant(1000), weight: 1 }),
  // The HTTP read settings (PROTOCOL R40, R41) decide nothing about commands.
  public: fc.boolean(),
  pollIntervalMs: fc.constant(1000),
  maxUploadBytes: fc.constant(25 * 1024 * 1024),
});

const stepArb = (group: boolean): fc.Arbitrary<Step> =>
  fc.oneof(
    { arbitrary: fc.record({ t: fc.constant("cmd" as const), user: posterArb, session: fc.constantFrom<0 | 1>(0, 1), n: nArb, cid: cidArb, c: cmdArb(group) }), weight: 30 },
    { arbitrary: fc.record({ t: fc.constant("commit" as const), k: fc.integer({ min: 1, max: 6 }) }), weight: 5 },
    { arbitrary: fc.record({ t: fc.constant("flush" as const), k: fc.integer({ min: 1, max: 6 }) }), weight: 3 },
    {
      arbitrary: fc.record({ t: fc.constant("sys" as const), cid: cidArb, action: fc.constantFrom("announce" as const, "ban" as const, "mute" as const, "unban" as const, "unmute" as const), user: userArb, ms: fc.integer({ min: 1, max: 5000 }) }),
      weight: 2,
    },
    { arbitrary: fc.record({ t: fc.constant("adminDelete" as const), cid: cidArb, target: targetArb }), weight: 1 },
    { arbitrary: fc.record({ t: fc.constant("resend" as const), back: fc.nat({ max: 12 }), otherSession: fc.boolean() }), weight: 6 },
    { arbitrary: fc.constant({ t: "crash" as const }), weight: 1 },
    { arbitrary: fc.record({ t: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 3000 }) }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant("settings" as const), settings: settingsArb }), weight: 1 },
    {
      // Mostly members (a DM's alice and bob, a group's creator and first invitee), mostly at or below the committed seq.
      arbitrary: fc.record({
        t: fc.constant("read" as const),
        user: fc.oneof({ arbitrary: fc.constantFrom<UserName>("alice", "bob"), weight: 4 }, { arbitrary: userArb, weight: 1 }),
        at: fc.oneof(
          { arbitrary: fc.nat({ max: 4 }).map((back) => ({ back })), weight: 3 },
          { arbitrary: fc.integer({ min: -3, max: 3 }).map((fromRead) => ({ fromRead })), weight: 3 },
          { arbitrary: fc.integer({ min: 1, max: 3 }).map((ahead) => ({ ahead })), weight: 1 },
        ),
      }),
      weight: 8,
    },
  );

export const scenarioArb = (maxSteps: number): fc.Arbitrary<Scenario> =>
  fc.boolean().chain((group) =>
    fc.record({
      group: fc.constant(group),
      dedupeWindow: fc.constantFrom(3, 8, 10_000),
      recentWindow: fc.constantFrom(3, 6, 2_000),
      settings: settingsArb,
      // A group usually starts with its creation, or most of its commands are refused as not_found.
      steps: fc
        .tuple(
          group ? fc.option(fc.record({ user: fc.constantFrom<UserName>("alice", "bob"), members: fc.uniqueArray(userArb, { maxLength: 4 }) }), { freq: 5 }) : fc.constant(null),
          fc.array(stepArb(group), { minLength: 1, maxLength: maxSteps, size: "max" }),
        )
        .map(([create, steps]) =>
          create
            ? [{ t: "cmd" as const, user: create.user, session: 0 as const, n: { rel: 1 }, cid: { fresh: true as const }, c: { type: "group.create" as const, title: "Team", members: create.members } }, ...steps]
            : steps,
        ),
    }),
  );

// ---- The model.

type ModelEvent = { seq: number; kind: RoomEvent["kind"]; author: string; clientId: string; ts: number; target?: number; deleted: boolean };
type ModelState = {
  /** Every event handed out and not lost to a failed write: index = seq - 1 (PROTOCOL I1). */
  log: ModelEvent[];
  lastN: Map<string, number>;
  dedupe: Map<string, { seq: number; ts: number }>;
  lastPostAt: Map<string, number>;
  restrictions: Map<string, Restriction>;
};
type Expected =
  | { status: "either"; first: Expected; second: Expected }
  | { status: "accepted" } | { status: "duplicate"; ack: { clientId: string; seq: number; ts: number; duplicate: true }; committed: boolean } | { status: "rejected"; error: Rejection } | { status: "membership" };
type Pending = { accepted: Accepted; after: ModelState };

export class FuzzFailure extends Error {}

const emptyModel = (): ModelState => ({ log: [], lastN: new Map(), dedupe: new Map(), lastPostAt: new Map(), restrictions: new Map() });
const cloneModel = (m: ModelState): ModelState => structuredClone(m);
const dedupeKey = (user: string, clientId: string) => `${user}\u0000${clientId}`;
const isMembershipType = (type: string) => type.startsWith("group.") || type.startsWith("member.");

export class RoomSim {
  now = 1_000_000;
  core: RoomCore;
  /** What the room's storage answers reads with: durable values plus the batch being written (PROTOCOL R2.3). */
  readonly storage = new Map<string, unknown>();
  /** What survives a failed write: the values of committed batches only. */
  private durable = new Map<string, unknown>();
  model = emptyModel();
  private committedModel = emptyModel();
  committed = 0;
  /** Accepted, collecting for the next flush. */
  private pending: Pending[] = [];
  /** The one batch whose write is in flight: in `storage`, not yet durable. */
  private inFlight: Pending[] = [];
  /** kind/author/clientId/ts of every committed seq when it was first committed (PROTOCOL I1: never changes). */
  private readonly identities: string[] = [];
  private settings: RoomSettings;
  private fresh = 0;
  readonly trace: string[] = [];
  /** PROTOCOL I6: read positions, fed like party/room/inbox-link.ts feeds them (committed events, then reads). */
  readonly reads: ReadState;
  private readonly readModel = new Map<string, number>();
  /** Commands sent so far (as sent, before decoding), for resends. */
  private readonly sent: Array<{ user: UserName; session: string; raw: Record<string, unknown> }> = [];

  constructor(
    private readonly scenario: Scenario,
    private readonly options: SimOptions,
  ) {
    this.settings = scenario.settings;
    this.core = this.newCore();
    const members = scenario.group ? [] : ["alice", "bob"]; // a DM's two participants; groups bring their own
    for (const m of members) this.readModel.set(m, 0);
    this.reads = new ReadState(members, {}, []);
  }

  run(): void {
    for (const [i, step] of this.scenario.steps.entries()) {
      try {
        this.step(step);
        this.checkCore();
      } catch (error) {
        const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
        throw new FuzzFailure(`step ${i} ${JSON.stringify(step)} failed: ${detail}\n--- trace (last 25 of ${this.trace.length}) ---\n${this.trace.slice(-25).join("\n")}`);
      }
    }
    this.drain();
    this.checkCore();
    this.checkStorage();
    this.checkReads();
  }

  private newCore(): RoomCore {
    const meta = (structuredClone(this.storage.get(META_KEY)) as RoomMeta | undefined) ?? { epoch: EPOCH, lastSeq: 0, createdAt: 0 };
    const membership = this.scenario.group ? new Membership(structuredClone(this.storage.get(MEMBERS_KEY)) as MembershipState | undefined, GROUP_MAX) : undefined;
    const moderation = new Moderation([...this.storage].filter(([k]) => k.startsWith(MODERATION_PREFIX)).map(([k, v]) => [k, structuredClone(v) as Restriction] as [string, Restriction]));
    return new RoomCore({
      meta,
      settings: this.settings,
      clock: () => this.now,
      dedupeWindow: this.scenario.dedupeWindow,
      recentWindow: this.scenario.recentWindow,
      moderation,
      ...(membership ? { membership } : {}),
    });
  }

  // ---- The shell's part.

  /** What party/adapters/event-log.ts `readEvents` returns: durable versions only, parsed. */
  private readEvents(from: number, before: number): RoomEvent[] {
    const out: RoomEvent[] = [];
    for (let seq = Math.max(1, from); seq < before; seq++) {
      const stored = this.storage.get(eventKey(seq)) as string | undefined;
      if (stored === undefined) continue;
      const visible = this.core.visibleJson(seq, stored);
      if (visible !== undefined) out.push(RoomEvent.parse(JSON.parse(visible)));
    }
    return out;
  }

  /** party/room/server.ts `load`: the session, the dedupe window, a missing edit/delete target. */
  private load(userId: string, session: string, command: Command): RoomEvent[] {
    const key = sessionKey(userId, session);
    if (!this.core.hasSession(key)) this.core.setSession(key, structuredClone(this.storage.get(key)) as StoredSession | undefined);
    if (!this.core.dedupeLoaded) this.core.loadDedupe(this.readEvents(this.committed - this.scenario.dedupeWindow + 1, this.committed + 1));
    return this.core.missingTargets(command).flatMap((seq) => this.readEvents(seq, seq + 1));
  }

  private clientId(spec: CidSpec): string {
    return "pool" in spec ? `c${spec.pool}` : `f${this.fresh++}`;
  }

  private text(spec: TextSpec): string {
    if (typeof spec === "object") return spec.raw;
    return { ok: `hello ${this.fresh++}`, empty: "", blank: " \n\t ", long: "x".repeat(this.settings.maxTextChars + 1), max: "y".repeat(this.settings.maxTextChars) }[spec];
  }

  private target(spec: TargetSpec, user: string): number {
    const last = this.core.lastAssigned;
    if ("own" in spec) {
      const mine = this.model.log.filter((e) => e.kind === "message" && e.author === user);
      return mine.length ? mine[Math.max(0, mine.length - 1 - spec.own)]!.seq : 1;
    }
    if ("back" in spec) return last > 0 ? last - (spec.back % last) : 1;
    if ("ahead" in spec) return last + spec.ahead;
    return spec.abs;
  }

  private step(step: Step): void {
    switch (step.t) {
      case "cmd": {
        const key = sessionKey(step.user, `s${step.session}`);
        const n = "rel" in step.n ? (this.model.lastN.get(key) ?? 0) + step.n.rel : step.n.abs;
        const c = step.c;
        const raw: Record<string, unknown> = { type: c.type, clientId: this.clientId(step.cid), n };
        if (c.type === "send") Object.assign(raw, { text: this.text(c.text), ...(c.attach ? { attachments: [{ upload: "a1a1a1a1a1a1a1a1a1a1a1a1" }] } : {}) });
        if (c.type === "edit") Object.assign(raw, { target: this.target(c.target, step.user), text: this.text(c.text) });
        if (c.type === "delete") Object.assign(raw, { target: this.target(c.target, step.user) });
        if (c.type === "group.create") Object.assign(raw, { title: c.title, members: c.members });
        if (c.type === "group.rename") Object.assign(raw, { title: c.title });
        if (c.type === "member.add" || c.type === "member.remove") Object.assign(raw, { user: c.user });
        if (c.type === "member.role") Object.assign(raw, { user: c.user, role: c.role });
        this.sent.push({ user: step.user, session: `s${step.session}`, raw });
        return this.command(USERS[step.user], `s${step.session}`, raw);
      }
      case "resend": {
        const earlier = this.sent[this.sent.length - 1 - step.back];
        if (!earlier) return;
        const session = step.otherSession ? (earlier.session === "s0" ? "s1" : "s0") : earlier.session;
        this.trace.push(`resend of ${JSON.stringify(earlier.raw).slice(0, 80)} on ${session}`);
        return this.command(USERS[earlier.user], session, earlier.raw);
      }
      case "adminDelete": {
        // party/room/server.ts runAdmin: n is the admin session's lastN when the clientId is known, else lastN + 1.
        const who = USERS.root;
        const clientId = this.clientId(step.cid);
        this.load(who.id, ADMIN_SESSION, { type: "send", clientId, n: 1, text: "" });
        const lastN = this.core.sessionLastN(sessionKey(who.id, ADMIN_SESSION));
        return this.command(who, ADMIN_SESSION, { type: "delete", target: this.target(step.target, "alice"), clientId, n: this.core.knows(who.id, clientId) ? lastN : lastN + 1 });
      }
      case "sys":
        return this.system(step);
      case "flush":
        return this.flush(step.k);
      case "commit":
        if (this.inFlight.length === 0) this.flush(step.k);
        return this.commit();
      case "crash":
        return this.crash();
      case "tick":
        this.now += step.ms;
        this.trace.push(`tick +${step.ms} → ${this.now}`);
        return;
      case "settings":
        // PATCH settings: stored and applied at once, outside the commit pipeline (never lost by a failed batch).
        this.settings = step.settings;
        this.core.settings = step.settings;
        this.trace.push(`settings ${JSON.stringify(step.settings)}`);
        return;
      case "read":
        return this.read(step.user, "back" in step.at ? this.committed - step.at.back : "ahead" in step.at ? this.committed + step.at.ahead : this.reads.readSeq(step.user) + step.at.fromRead);
    }
  }

  private command(who: Identity, session: string, raw: Record<string, unknown>): void {
    const parsed = Command.safeParse(raw);
    if (!parsed.success) {
      // The frame decoder refuses it (bad_frame): nothing reaches the core.
      this.trace.push(`${who.id}/${session} ${JSON.stringify(raw).slice(0, 160)} → bad_frame (decoder)`);
      return;
    }
    const command = parsed.data;
    const loaded = this.load(who.id, session, command);
    const expected = this.predict(command, who, session);
    const before = canonical(this.core);
    let outcome: Outcome;
    try {
      // The shell checks the uploads before the core decides (PROTOCOL R31); the core sees what it found.
      const files = command.type === "send" ? command.attachments?.map((ref) => ({ id: ref.upload, name: "a.png", type: "image/png", size: 1 })) : undefined;
      outcome = this.core.handle(command, who, session, loaded, files);
    } catch (error) {
      throw new FuzzFailure(`handle threw on a schema-valid command ${JSON.stringify(command)}: ${String(error)}`);
    }
    this.trace.push(`${who.id}/${session} ${JSON.stringify(command).slice(0, 160)} → ${JSON.stringify(outcome.status === "accepted" ? { status: "accepted", seq: outcome.ack.seq } : outcome)}`);
    this.compare(expected, outcome, command);
    if (outcome.status !== "accepted") {
      this.same(before, canonical(this.core), `a ${outcome.status} command changed the core's state`);
      return;
    }
    const key = sessionKey(who.id, session);
    const lastN = this.model.lastN.get(key) ?? 0;
    if (!(command.n > lastN)) fail(`PROTOCOL I4: accepted n=${command.n} not above the session's lastN ${lastN}`);
    this.accepted(outcome, who, command.clientId, { key, n: command.n }, command);
  }

  private system(step: Extract<Step, { t: "sys" }>): void {
    const who = USERS.root;
    const clientId = this.clientId(step.cid);
    this.load(who.id, ADMIN_SESSION, { type: "send", clientId, n: 1, text: "" });
    const action: SystemAction =
      step.action === "announce"
        ? { type: "announcement", text: "notice" }
        : { type: "moderation", action: step.action, user: step.user, ...(step.action === "ban" || step.action === "mute" ? { until: this.now + step.ms } : {}) };
    const known = this.known(who.id, clientId);
    const before = canonical(this.core);
    const outcome = this.core.system(action, who, clientId);
    this.trace.push(`system ${JSON.stringify(action)} cid=${clientId} → ${JSON.stringify(outcome.status === "accepted" ? { status: "accepted", seq: outcome.ack.seq } : outcome)}`);
    if (known) {
      this.compare({ status: "duplicate", ack: { clientId, seq: known.seq, ts: known.ts, duplicate: true }, committed: known.seq <= this.committed }, outcome, undefined);
      this.same(before, canonical(this.core), "a duplicate operator action changed the core's state");
      return;
    }
    if (outcome.status !== "accepted") fail(`operator action with a new clientId not accepted: ${JSON.stringify(outcome)}`);
    if (action.type === "moderation") {
      if (!outcome.writes.some(([k]) => k === `${MODERATION_PREFIX}${action.user}`)) fail(`moderation event without its mod:${action.user} write`);
      const entry = { ...this.model.restrictions.get(action.user) };
      if (action.action === "ban") entry.banUntil = action.until;
      if (action.action === "mute") entry.muteUntil = action.until;
      if (action.action === "unban") delete entry.banUntil;
      if (action.action === "unmute") delete entry.muteUntil;
      if (entry.banUntil === undefined && entry.muteUntil === undefined) this.model.restrictions.delete(action.user);
      else this.model.restrictions.set(action.user, entry);
    }
    this.accepted(outcome, who, clientId, undefined, undefined);
  }

  private known(userId: string, clientId: string): { seq: number; ts: number } | undefined {
    const entry = this.model.dedupe.get(dedupeKey(userId, clientId));
    // PROTOCOL R4: the pairs of the last dedupeWindow seqs.
    return entry && entry.seq > this.model.log.length - this.scenario.dedupeWindow ? entry : undefined;
  }

  /** The model's decision, in the order of RoomCore.handle/refuse (PROTOCOL R4, R5, R8, §5). */
  private predict(command: Command, who: Identity, session: string): Expected {
    const key = sessionKey(who.id, session);
    const lastN = this.model.lastN.get(key) ?? 0;
    const known = this.known(who.id, command.clientId);
    if (known) {
      if (command.n > lastN) return rejected("clientid_reused");
      return { status: "duplicate", ack: { clientId: command.clientId, seq: known.seq, ts: known.ts, duplicate: true }, committed: known.seq <= this.committed };
    }
    if (command.n <= lastN) return rejected("out_of_order", { expected: lastN + 1 });
    // PROTOCOL R5: a leap of more than maxCommandNumberJump past lastN is refused like an old number.
    if (command.n - lastN > LIMITS.maxCommandNumberJump) return rejected("out_of_order", { expected: lastN + 1 });
    const membership = this.core.membership;
    if (isMembershipType(command.type)) return membership ? { status: "membership" } : rejected("forbidden");
    if (command.type !== "send" && command.type !== "edit" && command.type !== "delete") throw new Error("unreachable");
    if (membership && !membership.has(who.id)) return rejected(membership.exists ? "not_member" : "not_found");
    const isOperator = who.role === "operator";
    const restriction = this.model.restrictions.get(who.id);
    if (!isOperator && restriction) {
      if (restriction.banUntil !== undefined && restriction.banUntil > this.now) return rejected("banned", { retryAfterMs: restriction.banUntil - this.now });
      if (command.type !== "delete" && restriction.muteUntil !== undefined && restriction.muteUntil > this.now) return rejected("muted", { retryAfterMs: restriction.muteUntil - this.now });
    }
    if (this.settings.whoMayPost === "operators" && !isOperator) return rejected("forbidden");
    if (command.type !== "delete") {
      const hasAttachments = command.type === "send" && (command.attachments?.length ?? 0) > 0;
      if (command.text.trim().length === 0 && !hasAttachments) return rejected("text_empty");
      if (command.text.length > this.settings.maxTextChars) return rejected("text_too_long");
    }
    if (command.type === "send") {
      const last = this.model.lastPostAt.get(who.id);
      const wait = last === undefined ? 0 : last + this.settings.slowModeMs - this.now;
      if (this.settings.slowModeMs > 0 && !isOperator && wait > 0) return rejected("slow_mode", { retryAfterMs: wait });
      return { status: "accepted" };
    }
    // PROTOCOL R8.1: any message with seq ≤ lastAssigned, pending or durable.
    const target = this.model.log[command.target - 1];
    if (!target || target.kind !== "message") return rejected("not_found");
    const decision = target.deleted
      ? rejected("already_deleted")
      : command.type === "edit" && target.author !== who.id
        ? rejected("forbidden")
        : command.type === "delete" && target.author !== who.id && !isOperator
          ? rejected("forbidden")
          : ({ status: "accepted" } as const);
    // Known deviation from PROTOCOL R8.1 (see the final report / properties.ts): a target that is still pending and has
    // already left the core's recent window is looked up in storage, where it is not yet, and is not_found.
    // Nobody can know such a seq (PROTOCOL I2: it has not been acked or broadcast), so it is only reachable by guessing.
    if (target.seq > this.committed && target.seq <= this.model.log.length - this.scenario.recentWindow) return { status: "either", first: decision, second: rejected("not_found") };
    return decision;
  }

  private compare(expected: Expected, outcome: Outcome, command: Command | undefined): void {
    if (expected.status === "either") {
      const second = outcome.status === "rejected" && expected.second.status === "rejected" && outcome.error.code === expected.second.error.code;
      return second ? undefined : this.compare(expected.first, outcome, command);
    }
    const what = command ? JSON.stringify(command).slice(0, 200) : "operator action";
    if (expected.status === "membership") {
      if (outcome.status === "duplicate") fail(`group command answered as a duplicate though the model knows no such clientId: ${what}`);
      if (outcome.status === "rejected") {
        if (!ERROR_CODES.includes(outcome.error.code)) fail(`untyped refusal code ${outcome.error.code}`);
        if (outcome.error.code === "out_of_order" || outcome.error.code === "clientid_reused") fail(`group command refused with ${outcome.error.code} though n and clientId are fresh: ${what}`);
      }
      return;
    }
    if (outcome.status !== expected.status) fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(outcome.status === "accepted" ? { status: "accepted", ack: outcome.ack } : outcome)}`);
    if (expected.status === "duplicate") {
      // PROTOCOL I3: the original ack, never a second event.
      const got = outcome as Extract<Outcome, { status: "duplicate" }>;
      if (JSON.stringify(got) !== JSON.stringify({ status: "duplicate", ack: expected.ack, committed: expected.committed })) fail(`PROTOCOL I3 ${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
    }
    if (expected.status === "rejected") {
      const got = (outcome as Extract<Outcome, { status: "rejected" }>).error;
      const want = expected.error;
      const mismatch = got.code !== want.code || got.expected !== want.expected || (want.retryAfterMs !== undefined && got.retryAfterMs !== want.retryAfterMs);
      if (mismatch) fail(`${what}: expected refusal ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
  }

  /** An accepted command or operator action: check its shape and writes (PROTOCOL I1, I3, I4), then record it. */
  private accepted(outcome: Accepted, who: Identity, clientId: string, session: { key: string; n: number } | undefined, command: Command | undefined): void {
    const seq = this.model.log.length + 1;
    const { event, ack } = outcome;
    if (JSON.stringify(ack) !== JSON.stringify({ clientId, seq, ts: this.now })) fail(`PROTOCOL I1: ack ${JSON.stringify(ack)}, expected seq ${seq} ts ${this.now}`);
    if (event.seq !== seq || event.ts !== this.now || event.clientId !== clientId || event.author.id !== who.id || event.author.name !== who.name || "role" in event.author) {
      fail(`accepted event has the wrong seq/ts/author/clientId: ${outcome.eventJson}`);
    }
    if (outcome.eventJson !== JSON.stringify(event)) fail("eventJson is not the event serialised");
    const reparsed = RoomEvent.safeParse(JSON.parse(outcome.eventJson));
    if (!reparsed.success) fail(`accepted event does not pass the RoomEvent schema: ${outcome.eventJson} (${reparsed.error.issues[0]?.message})`);
    const writes = new Map(outcome.writes);
    if (writes.get(eventKey(seq)) !== outcome.eventJson) fail(`the event is not written under ${eventKey(seq)}`);
    const meta = writes.get(META_KEY) as RoomMeta | undefined;
    if (!meta || meta.lastSeq !== seq || meta.epoch !== EPOCH) fail(`meta write ${JSON.stringify(meta)} does not say lastSeq ${seq}`);
    if (session && JSON.stringify(writes.get(session.key)) !== JSON.stringify({ lastN: session.n })) fail(`PROTOCOL I4: session write ${JSON.stringify(writes.get(session.key))}, expected lastN ${session.n}`);
    const eventKeys = outcome.writes.map(([k]) => k).filter((k) => k.startsWith(EVENT_PREFIX));
    const target = command && (command.type === "edit" || command.type === "delete") ? command.target : undefined;
    const allowed = new Set([eventKey(seq), ...(target !== undefined ? [eventKey(target)] : [])]);
    if (eventKeys.some((k) => !allowed.has(k)) || (target !== undefined && !writes.has(eventKey(target)))) fail(`PROTOCOL I1: event writes ${eventKeys.join(",")} for a ${command?.type ?? "system"} event`);
    if (event.kind === "group" || event.kind === "member") {
      if (JSON.stringify(writes.get(MEMBERS_KEY)) !== JSON.stringify(this.core.membership?.toJSON())) fail(`membership write ${JSON.stringify(writes.get(MEMBERS_KEY))} is not the core's membership`);
    }
    if (command?.type === "send" && (event.kind !== "message" || event.text !== command.text)) fail(`a send became ${outcome.eventJson}`);
    if (target !== undefined && command) {
      const original = this.model.log[target - 1]!;
      const after = outcome.targetAfter;
      const written = JSON.parse(writes.get(eventKey(target)) as string) as MessageEvent;
      if (!after || JSON.stringify(written) !== JSON.stringify(after)) fail(`targetAfter ${JSON.stringify(after)} differs from its write ${JSON.stringify(written)}`);
      if (written.kind !== "message" || written.seq !== target || written.author.id !== original.author || written.clientId !== original.clientId || written.ts !== original.ts) {
        fail(`PROTOCOL I1: rewriting seq ${target} changed what it names: ${JSON.stringify(written)} vs ${JSON.stringify(original)}`);
      }
      if (command.type === "edit" && (event.kind !== "edit" || event.target !== target || written.text !== command.text || written.editedBy !== seq)) fail(`edit wrote ${JSON.stringify(written)} / ${outcome.eventJson}`);
      if (command.type === "delete" && (event.kind !== "delete" || event.target !== target || written.text !== "" || written.deletedBy !== seq || written.attachments !== undefined)) fail(`delete wrote ${JSON.stringify(written)} / ${outcome.eventJson}`);
    }
    // The model takes the event.
    const targetSeq = "target" in event ? event.target : undefined;
    this.model.log.push({ seq, kind: event.kind, author: who.id, clientId, ts: this.now, ...(targetSeq !== undefined ? { target: targetSeq } : {}), deleted: false });
    if (event.kind === "delete") this.model.log[event.target - 1]!.deleted = true;
    if (session) this.model.lastN.set(session.key, session.n);
    this.model.dedupe.set(dedupeKey(who.id, clientId), { seq, ts: this.now });
    if (event.kind === "message") this.model.lastPostAt.set(who.id, this.now);
    this.pending.push({ accepted: outcome, after: cloneModel(this.model) });
    if (this.pending.length + this.inFlight.length >= this.options.maxPending(this.scenario.recentWindow)) this.drain();
  }

  /** Everything accepted becomes durable: the write in flight, then one batch of all the rest. */
  private drain(): void {
    this.commit();
    this.flush(this.pending.length);
    this.commit();
  }

  /** A batch's write starts: its values are in storage (readable at once), not durable yet. */
  private flush(k: number): void {
    if (this.inFlight.length > 0) return; // one write in flight (PROTOCOL R2.2): the rest keeps collecting
    this.inFlight = this.pending.splice(0, Math.min(k, this.pending.length));
    if (this.inFlight.length === 0) return;
    // Values are serialised when put (a Durable Object copies them): nothing the core keeps may alias them.
    for (const item of this.inFlight) for (const [key, value] of item.accepted.writes) this.storage.set(key, structuredClone(value));
    this.trace.push(`flush ${this.inFlight.length} (seq ${this.inFlight[0]!.accepted.ack.seq}..${this.inFlight.at(-1)!.accepted.ack.seq})`);
    this.checkStorage();
  }

  /** The write in flight resolved: its values are durable, then the core (and the read state) take the commit. */
  private commit(): void {
    const items = this.inFlight;
    this.inFlight = [];
    if (items.length === 0) return;
    const committedEvents: Array<{ event: RoomEvent; targetBefore?: MessageEvent }> = [];
    for (const item of items) {
      const event = item.accepted.event;
      const targetBefore = event.kind === "delete" ? (JSON.parse(this.durable.get(eventKey(event.target)) as string) as MessageEvent) : undefined;
      for (const [key] of item.accepted.writes) this.durable.set(key, structuredClone(this.storage.get(key)));
      committedEvents.push({ event, ...(targetBefore ? { targetBefore } : {}) });
    }
    this.core.commit(items.map((item) => item.accepted));
    for (const { event } of committedEvents) this.identities[event.seq - 1] = identity(event);
    this.committed = items.at(-1)!.accepted.ack.seq;
    this.committedModel = cloneModel(items.at(-1)!.after);
    this.trace.push(`commit ${items.length} → committed ${this.committed}`);
    // PROTOCOL I6: committed events in commit order, as party/room/inbox-link.ts `committed` feeds them.
    for (const { event, targetBefore } of committedEvents) {
      this.reads.applyEvent(event, targetBefore);
      if (event.kind === "group") for (const m of event.members ?? []) this.addReader(m.id, event.seq);
      if (event.kind === "member" && event.action === "add") this.addReader(event.user, event.seq);
      if (event.kind === "member" && (event.action === "remove" || event.action === "leave")) {
        this.reads.removeMember(event.user);
        this.readModel.delete(event.user);
      }
    }
    this.checkStorage();
    this.checkReads();
  }

  private addReader(user: string, seq: number): void {
    this.reads.addMember(user, seq);
    if (!this.readModel.has(user)) this.readModel.set(user, seq);
  }

  /** A failed write (PROTOCOL R3): the batch in flight and everything collected behind it are lost; the room reloads. */
  private crash(): void {
    this.pending = [];
    this.inFlight = [];
    this.storage.clear();
    for (const [key, value] of this.durable) this.storage.set(key, structuredClone(value));
    this.core = this.newCore();
    this.model = cloneModel(this.committedModel);
    this.model.lastPostAt.clear(); // slow-mode clocks restart empty (PROTOCOL R3)
    this.trace.push(`crash → reload at committed ${this.committed}`);
    if (this.core.lastAssigned !== this.committed) fail(`after a reload lastAssigned is ${this.core.lastAssigned}, committed ${this.committed}`);
    this.checkStorage();
  }

  /** PROTOCOL I6: a read of `seq` by `user`, through the shell's guard (party/room/members.ts checkRead, needsReadWrite). */
  private read(user: string, seq: number): void {
    if (seq < 1) return; // the Seq schema refuses it
    const guard = !this.reads.isMember(user) ? "not_member" : seq > this.committed ? "read_out_of_range" : undefined;
    const before = canonical(this.reads);
    const previous = this.reads.readSeq(user);
    if (guard) {
      this.trace.push(`read ${user} ${seq} → ${guard}`);
      return;
    }
    const changed = this.reads.applyRead(user, seq);
    this.trace.push(`read ${user} ${seq} → ${changed ? "moved" : "stale"}`);
    if (changed !== seq > previous) fail(`PROTOCOL I6: applyRead(${user}, ${seq}) from ${previous} returned ${changed}`);
    if (!changed) this.same(before, canonical(this.reads), "PROTOCOL I6: a stale read changed the read state");
    else this.readModel.set(user, seq);
    this.checkReads();
  }

  // ---- Invariants.

  private same(before: string, after: string, message: string): void {
    if (before === after) return;
    let i = 0;
    while (i < before.length && before[i] === after[i]) i++;
    fail(`${message}\n  before: …${before.slice(Math.max(0, i - 80), i + 120)}\n  after:  …${after.slice(Math.max(0, i - 80), i + 120)}`);
  }

  /** After every step: the core agrees with the model on positions, sessions and the dedupe window. */
  private checkCore(): void {
    const lastAssigned = this.model.log.length;
    if (this.core.lastAssigned !== lastAssigned) fail(`PROTOCOL I1: core.lastAssigned ${this.core.lastAssigned}, model ${lastAssigned}`);
    if (this.core.committedSeq !== this.committed) fail(`core.committedSeq ${this.core.committedSeq}, committed ${this.committed}`);
    const meta = this.core.meta();
    if (meta.lastSeq !== lastAssigned || meta.epoch !== EPOCH) fail(`meta() ${JSON.stringify(meta)}`);
    for (const [key, lastN] of this.model.lastN) {
      if (this.core.hasSession(key) && this.core.sessionLastN(key) !== lastN) fail(`PROTOCOL I4: session ${key} lastN ${this.core.sessionLastN(key)}, model ${lastN}`);
    }
    // PROTOCOL I3: within the window, one seq per (sender, clientId).
    const seen = new Map<string, number>();
    for (const event of this.model.log.slice(Math.max(0, lastAssigned - this.scenario.dedupeWindow))) {
      const key = dedupeKey(event.author, event.clientId);
      if (seen.has(key)) fail(`PROTOCOL I3: (${event.author}, ${event.clientId}) has seqs ${seen.get(key)} and ${event.seq} inside the dedupe window`);
      seen.set(key, event.seq);
    }
  }

  /**
   * The durable log: exactly m:1..m:committed, each seq still naming what it named (PROTOCOL I1); storage holds those
   * and the batch in flight; readers see only durable versions (PROTOCOL R2.5), whatever the write in flight holds.
   */
  private checkStorage(): void {
    const seqsOf = (map: Map<string, unknown>) => [...map.keys()].filter((k) => k.startsWith(EVENT_PREFIX)).map((k) => Number(k.slice(EVENT_PREFIX.length))).sort((a, b) => a - b);
    const seqs = seqsOf(this.durable);
    if (seqs.length !== this.committed || seqs.some((s, i) => s !== i + 1)) fail(`PROTOCOL I1: durable seqs ${seqs.join(",")} are not 1..${this.committed}`);
    const written = this.committed + this.inFlight.length;
    const live = seqsOf(this.storage);
    if (live.length !== written || live.some((s, i) => s !== i + 1)) fail(`PROTOCOL I1: stored seqs ${live.join(",")} are not 1..${written}`);
    if (this.committed > 0 && (this.durable.get(META_KEY) as RoomMeta).lastSeq !== this.committed) fail(`durable meta ${JSON.stringify(this.durable.get(META_KEY))}, committed ${this.committed}`);
    const records = seqs.map((seq) => JSON.parse(this.durable.get(eventKey(seq)) as string) as RoomEvent);
    for (const record of records) {
      const seq = record.seq;
      if (!RoomEvent.safeParse(record).success) fail(`stored record ${seq} fails the schema`);
      if (identity(record) !== this.identities[seq - 1]) fail(`PROTOCOL I1: seq ${seq} changed meaning: ${identity(record)}, first ${this.identities[seq - 1]}`);
      const durable = this.durable.get(eventKey(seq)) as string;
      const visible = this.core.visibleJson(seq, this.storage.get(eventKey(seq)) as string);
      if (visible === undefined || JSON.stringify(JSON.parse(visible)) !== JSON.stringify(JSON.parse(durable))) fail(`PROTOCOL R2.5: readers see ${visible} at seq ${seq}, the durable record is ${durable}`);
      if (record.kind !== "message") continue;
      const edits = records.filter((r) => r.kind === "edit" && r.target === seq) as Array<Extract<RoomEvent, { kind: "edit" }>>;
      const deletes = records.filter((r) => r.kind === "delete" && r.target === seq);
      if (deletes.length > 1) fail(`message ${seq} deleted twice: ${deletes.map((d) => d.seq).join(",")}`);
      if (record.deletedBy !== deletes[0]?.seq) fail(`message ${seq} deletedBy ${record.deletedBy}, delete events ${deletes.map((d) => d.seq).join(",")}`);
      if (record.deletedBy !== undefined && (record.text !== "" || record.attachments !== undefined)) fail(`tombstone ${seq} keeps content`);
      const lastEdit = edits.at(-1);
      if (record.editedBy !== lastEdit?.seq) fail(`message ${seq} editedBy ${record.editedBy}, edits ${edits.map((e) => e.seq).join(",")}`);
      if (lastEdit && record.deletedBy === undefined && record.text !== lastEdit.text) fail(`message ${seq} text is not its last edit's`);
      if (deletes[0] && edits.some((e) => e.seq > deletes[0]!.seq)) fail(`message ${seq} edited after its deletion`);
    }
    for (let seq = this.committed + 1; seq <= written; seq++) if (this.core.visibleJson(seq, this.storage.get(eventKey(seq)) as string) !== undefined) fail(`PROTOCOL R2.5: seq ${seq} is visible before its write is durable`);
  }

  /** PROTOCOL I6: positions only forward, never past the committed seq; unread exact (incrementally and rebuilt). */
  private checkReads(): void {
    const members = [...this.readModel.keys()].sort();
    if (JSON.stringify([...this.reads.members].sort()) !== JSON.stringify(members)) fail(`PROTOCOL I6: read state members ${this.reads.members.join(",")}, model ${members.join(",")}`);
    const records = [...this.durable.entries()].filter(([k]) => k.startsWith(EVENT_PREFIX)).map(([, v]) => JSON.parse(v as string) as RoomEvent);
    const unreadOf = (user: string, read: number) => records.filter((r) => r.kind === "message" && r.deletedBy === undefined && r.author.id !== user && r.seq > read).length;
    for (const user of members) {
      const read = this.readModel.get(user)!;
      if (this.reads.readSeq(user) !== read) fail(`PROTOCOL I6: ${user} read ${this.reads.readSeq(user)}, model ${read}`);
      if (read > this.committed) fail(`PROTOCOL I6: ${user}'s read position ${read} is past the committed seq ${this.committed}`);
      const unread = this.reads.unread(user);
      if (unread !== unreadOf(user, read)) fail(`PROTOCOL I6: ${user} unread ${unread}, the log says ${unreadOf(user, read)} (read ${read})`);
      if (unread < 0 || unread > Math.max(0, this.committed - read)) fail(`PROTOCOL I6: unread ${unread} outside 0..${this.committed - read}`);
    }
    // A reload rebuilds the counts from the log above the slowest reader (party/room/inbox-link.ts doLoad).
    const positions = Object.fromEntries(this.readModel);
    const slowest = members.length ? Math.min(...members.map((m) => positions[m]!)) : 0;
    const from = Math.max(1, Math.min(slowest + 1, this.committed - 49));
    const rebuilt = new ReadState(members, positions, records.filter((r) => r.seq >= from).sort((a, b) => a.seq - b.seq));
    for (const user of members) if (rebuilt.unread(user) !== this.reads.unread(user)) fail(`PROTOCOL I6: ${user} unread ${this.reads.unread(user)} incrementally, ${rebuilt.unread(user)} rebuilt from the log`);
  }
}

function identity(event: RoomEvent): string {
  return JSON.stringify([event.kind, event.seq, event.author.id, event.author.name, event.clientId, event.ts, "target" in event ? event.target : null]);
}

function rejected(code: ErrorCode, extra: Omit<Rejection, "code"> = {}): Expected {
  return { status: "rejected", error: { code, ...extra } };
}

function fail(message: string): never {
  throw new FuzzFailure(message);
}
