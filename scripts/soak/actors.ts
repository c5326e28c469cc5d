/**
 * The soak's clients: typed KaiwaRoom clients in open rooms and groups, KaiwaInbox devices for DM pairs.
 * Every command they issue is recorded in the ledger with the clientId the client library gave it (an id
 * source we hand the client: the command's clientId is the id it draws synchronously inside send()), so a
 * command is known by (user, clientId) before any answer, and its outcome (ack with seq, or the rejection's
 * code) is recorded when it settles. Each client also keeps every event its app was handed, in order.
 */
import WebSocket from "ws";
import { nanoid } from "nanoid";
import { KaiwaError, KaiwaInbox, KaiwaRoom, type RoomEvent } from "../../client/index.ts";
import type { DevServer } from "../../tests/helpers/dev-server.ts";

export type CommandKind = "send" | "edit" | "delete" | "group.create" | "dm";

export type CommandRecord = {
  /** The device session that issued it (one actor): per-session order (PROTOCOL I4) is checked per label. */
  session: string;
  user: string;
  room: string;
  kind: CommandKind;
  clientId: string;
  issuedAt: number;
  settledAt?: number;
  outcome: "pending" | "acked" | "rejected";
  seq?: number;
  code?: string;
  message?: string;
};

/** A read position asked for (group `read`, inbox `markRead`) and what the server stored. */
export type ReadRecord = { room: string; asked: number; readSeq?: number; error?: string };

/** Failures (a check did not hold) and notes (worth reading, not a failure), collected for the final report. */
export class Report {
  readonly failures = new Map<string, string[]>();
  readonly notes = new Map<string, number>();
  readonly noteExamples = new Map<string, string>();

  fail(check: string, message: string): void {
    const list = this.failures.get(check) ?? [];
    list.push(message);
    this.failures.set(check, list);
  }

  /** An anomaly that is not by itself a broken guarantee: counted by kind, the first example kept. */
  note(kind: string, example: string): void {
    this.notes.set(kind, (this.notes.get(kind) ?? 0) + 1);
    if (!this.noteExamples.has(kind)) this.noteExamples.set(kind, example);
  }

  get ok(): boolean {
    return this.failures.size === 0;
  }
}

export class Ledger {
  readonly commands: CommandRecord[] = [];
  acked = 0;
  rejected = 0;

  get pending(): number {
    return this.commands.length - this.acked - this.rejected;
  }

  add(record: CommandRecord): void {
    this.commands.push(record);
  }
}

export type Ctx = { server: DevServer; ledger: Ledger; report: Report };

/** The id source handed to a client: counts draws, so the clientId a call drew is known synchronously. */
class Ids {
  count = 0;
  last = "";
  constructor(private readonly prefix: string) {}
  readonly newId = (): string => {
    this.count++;
    this.last = `${this.prefix}${this.count.toString(36)}${nanoid(8)}`;
    return this.last;
  };
}

type Answer = { clientId: string; seq: number };

/** Issues one command through `call` and records it; undefined when the client refused it before numbering it. */
function issue(ctx: Ctx, ids: Ids, base: { session: string; user: string; room: string; kind: CommandKind }, call: () => Promise<Answer>, onAck?: (seq: number) => void): CommandRecord | undefined {
  const before = ids.count;
  const promise = call();
  if (ids.count !== before + 1) {
    promise.catch((error: unknown) => ctx.report.note(`${base.kind} refused by the client before numbering`, `${base.session}: ${describe(error)}`));
    if (ids.count !== before) ctx.report.fail("harness", `${base.session}: ${base.kind} drew ${ids.count - before} ids; its clientId is ambiguous`);
    return undefined;
  }
  const record: CommandRecord = { ...base, clientId: ids.last, issuedAt: Date.now(), outcome: "pending" };
  ctx.ledger.add(record);
  promise.then(
    (answer) => {
      record.settledAt = Date.now();
      record.outcome = "acked";
      record.seq = answer.seq;
      ctx.ledger.acked++;
      if (answer.clientId !== record.clientId) ctx.report.fail("1 log", `${base.session}: ack names clientId ${answer.clientId}, the command drew ${record.clientId}`);
      onAck?.(answer.seq);
    },
    (error: unknown) => {
      record.settledAt = Date.now();
      record.outcome = "rejected";
      record.code = error instanceof KaiwaError ? error.code : "exception";
      record.message = describe(error);
      ctx.ledger.rejected++;
    },
  );
  return record;
}

function describe(error: unknown): string {
  return error instanceof KaiwaError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}

const TEXTS = ["hello", "既読がつかない", "soak test message", "会議は三時から", "ok 👍", "kill -9 and back"];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** What the killer and the checks need of any client. */
export interface Actor {
  readonly label: string;
  readonly user: string;
  /** Last time a welcome arrived (ms since the epoch). */
  lastWelcomeAt: number;
  welcomes: number;
  tick(): void;
  close(): void;
  status(): string;
}

/** One KaiwaRoom client in an open room or a group: sends, edits and deletes its own messages, reads (groups). */
export class RoomActor implements Actor {
  readonly label: string;
  readonly room: KaiwaRoom;
  readonly events: RoomEvent[] = [];
  /** The room's lastSeq at the first welcome: this client's event stream starts right after it. */
  joinSeq: number | null = null;
  lastWelcomeAt = 0;
  welcomes = 0;
  readonly resumes: Array<{ recovered: boolean; reason?: string }> = [];
  readonly resets: string[] = [];
  readonly errors: string[] = [];
  readonly statuses: string[] = [];
  readonly commands: CommandRecord[] = [];
  readonly reads: ReadRecord[] = [];
  private readonly ids: Ids;
  /** Own acked messages, the edit and delete targets (the last 50; deleted ones are never targeted again). */
  private readonly own: Array<{ seq: number; deleted: boolean }> = [];
  private sent = 0;
  private lastReadAsked = 0;

  constructor(
    private readonly ctx: Ctx,
    readonly roomId: string,
    readonly user: string,
    readonly kind: "open" | "group",
  ) {
    this.label = `${roomId}/${user}`;
    this.ids = new Ids(`${user}-`);
    this.room = new KaiwaRoom({ host: ctx.server.host, room: roomId, token: () => ctx.server.token(user, { name: user.toUpperCase() }), WebSocket, newId: this.ids.newId });
    this.room.on("event", (event) => this.events.push(event));
    this.room.on("reset", (reset) => this.resets.push(reset.reason));
    this.room.on("error", (error) => this.errors.push(error.code));
    this.room.on("status", (change) => this.statuses.push(change.current));
    this.room.on("welcome", (welcome) => {
      if (this.joinSeq === null) this.joinSeq = welcome.lastSeq;
      if (welcome.resume) this.resumes.push(welcome.resume.recovered ? { recovered: true } : { recovered: false, reason: welcome.resume.reason });
      this.welcomes++;
      this.lastWelcomeAt = Date.now();
    });
  }

  status(): string {
    return this.room.status;
  }

  createGroup(title: string, members: string[]): CommandRecord | undefined {
    return this.record("group.create", () => this.room.createGroup(title, members));
  }

  tick(): void {
    const r = Math.random();
    const targets = this.own.filter((m) => !m.deleted);
    if (r < 0.05 && targets.length > 0) {
      const target = pick(targets);
      this.record("edit", () => this.room.edit(target.seq, `${pick(TEXTS)} (edited by ${this.user})`));
    } else if (r < 0.08 && targets.length > 0) {
      const target = pick(targets);
      target.deleted = true; // never edited or deleted again, whatever the answer
      this.record("delete", () => this.room.delete(target.seq));
    } else if (this.kind === "group" && r < 0.15) {
      const seen = this.room.position?.lastSeq ?? 0;
      if (seen > this.lastReadAsked) {
        this.lastReadAsked = seen;
        const read: ReadRecord = { room: this.roomId, asked: seen };
        this.reads.push(read);
        this.room.read(seen).then(
          (readSeq) => void (read.readSeq = readSeq),
          (error: unknown) => void (read.error = describe(error)),
        );
      }
    } else {
      const i = ++this.sent;
      this.record("send", () => this.room.send(`${this.user} #${i} ${pick(TEXTS)}`), (seq) => {
        this.own.push({ seq, deleted: false });
        if (this.own.length > 50) this.own.shift();
      });
    }
  }

  close(): void {
    this.room.close();
  }

  private record(kind: CommandKind, call: () => Promise<Answer>, onAck?: (seq: number) => void): CommandRecord | undefined {
    const record = issue(this.ctx, this.ids, { session: this.label, user: this.user, room: this.roomId, kind }, call, onAck);
    if (record) this.commands.push(record);
    return record;
  }
}

/** One KaiwaInbox device of a DM pair: sends DMs to its peer and marks read what it has seen. */
export class InboxActor implements Actor {
  readonly label: string;
  readonly inbox: KaiwaInbox;
  readonly dmRoom: string;
  /** Every event the app was handed, per room, in order (fromStart: each room from seq 1). */
  readonly events = new Map<string, RoomEvent[]>();
  lastWelcomeAt = 0;
  welcomes = 0;
  readonly errors: string[] = [];
  readonly statuses: string[] = [];
  readonly commands: CommandRecord[] = [];
  readonly reads: ReadRecord[] = [];
  private readonly ids: Ids;
  private sent = 0;
  private lastReadAsked = 0;

  constructor(
    private readonly ctx: Ctx,
    readonly user: string,
    readonly peer: string,
  ) {
    this.label = `inbox/${user}`;
    this.dmRoom = `dm:${[user, peer].sort().join(":")}`;
    this.ids = new Ids(`${user}-`);
    this.inbox = new KaiwaInbox({ host: ctx.server.host, user, token: () => ctx.server.token(user, { name: user.toUpperCase() }), WebSocket, fromStart: true, newId: this.ids.newId });
    this.inbox.on("event", ({ room, event }) => {
      const list = this.events.get(room) ?? [];
      list.push(event);
      this.events.set(room, list);
    });
    this.inbox.on("error", (error) => this.errors.push(error.code));
    this.inbox.on("status", (change) => this.statuses.push(change.current));
    this.inbox.on("welcome", () => {
      this.welcomes++;
      this.lastWelcomeAt = Date.now();
    });
  }

  status(): string {
    return this.inbox.status;
  }

  tick(): void {
    const seen = this.inbox.position(this.dmRoom) ?? 0;
    if (Math.random() < 0.15 && seen > this.lastReadAsked) {
      this.lastReadAsked = seen;
      const read: ReadRecord = { room: this.dmRoom, asked: seen };
      this.reads.push(read);
      this.inbox.markRead(this.dmRoom, seen).then(
        (result) => void (read.readSeq = result.readSeq),
        (error: unknown) => void (read.error = describe(error)),
      );
      return;
    }
    const i = ++this.sent;
    const record = issue(this.ctx, this.ids, { session: this.label, user: this.user, room: this.dmRoom, kind: "dm" }, () => this.inbox.sendDm(this.peer, `${this.user} → ${this.peer} #${i} ${pick(TEXTS)}`));
    if (record) this.commands.push(record);
  }

  close(): void {
    this.inbox.close();
  }
}

/** Steady load: every actor ticks at its own jittered pace, so the total is about `rate` per second. */
export class Load {
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  startedAt = 0;
  stoppedAt = 0;

  constructor(
    private readonly actors: readonly Actor[],
    private readonly rate: number,
  ) {}

  start(): void {
    this.running = true;
    this.startedAt = Date.now();
    const meanMs = (this.actors.length / this.rate) * 1000;
    for (const actor of this.actors) {
      const next = (): void => {
        if (!this.running) return;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!this.running) return;
          actor.tick();
          next();
        }, meanMs * (0.5 + Math.random()));
        this.timers.add(timer);
      };
      next();
    }
  }

  stop(): void {
    this.running = false;
    this.stoppedAt = Date.now();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
