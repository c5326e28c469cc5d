/**
 * The operator side of a room: admin routes (`/parties/room/<id>/admin/<action>`, reached from the admin
 * API in the worker or directly with an operator token), moderation effects on sockets, observer
 * connections, and the stats report for the directory. Kept out of room/server.ts so the room shell stays
 * about messaging; the room calls in through a few hooks.
 *
 * Every route checks the platform `operator` role from the verified identity (PROTOCOL I7) and parses its input
 * with the schemas the worker used (PROTOCOL I8): a request that fails either changes nothing.
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import * as z from "zod/mini";
import { CLOSE, MessageEvent, roomKind, type Ack, type Identity } from "../protocol/index.ts";
import { errorResponse, json } from "../adapters/http.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { AnnounceBody, AuditQuery, DeleteBody, EditsQuery, MessagesQuery, ModerateBody, type ActionResult, type AuditRecord, type RoomDetail, type RoomReport } from "../protocol/admin-schema.ts";
import type { Histogram } from "../core/histogram.ts";
import type { Rejection, RoomCore, SystemAction } from "../core/room-core.ts";
import { historyRange } from "../core/resume.ts";
import { isOperator } from "../core/access.ts";
import { readEventsJson } from "../adapters/event-log.ts";
import { AUDIT_PREFIX, auditKey, editHistoryPrefix, type ReplacedVersion } from "../core/room-keys.ts";
import type { RoomArchive } from "../archive/outbox.ts";
import type { TestSwitches } from "../test-switches.ts";

export type AdminAction = { type: "delete"; target: number } | SystemAction;
export type AdminResult = { ok: true; ack: Ack } | { ok: false; error: Rejection };

/** What RoomAdmin needs from the room shell (room/server.ts). */
export interface AdminHost {
  readonly room: Party.Room;
  readonly config: { readonly test: Pick<TestSwitches, "failAuditWrite"> };
  /** Records past the room's retention come from the archive (PROTOCOL R25's edit history of an old message). */
  readonly archive: Pick<RoomArchive, "records">;
  readonly state: { core: RoomCore; bootId: string; accepted: number; rejected: Record<string, number> };
  readonly ackLatency: Histogram;
  readonly reporter: { counters: { failed: number } };
  /** Committed events the archive has not confirmed yet (0 without an archive). */
  archiveLag(): number;
  readonly uploads: { ledger: { usage: { bytes: number; files: number } } };
  runAdmin(who: Identity, action: AdminAction, clientId: string): Promise<AdminResult>;
  /** Closes a socket and takes it out of presence at once. */
  closeSocket(conn: Party.Connection, code: number, reason: string): void;
  /** A live room's relay shards: the viewers they hold count as the room's connections (PROTOCOL R52). */
  readonly relays: { relayViewers(): number; readonly live: boolean; shards(): number; readonly relayCount: number };
}

type ConnState = { user: Identity; session: string; observer?: true; relay?: number };


export class RoomAdmin {
  private rateBase = { accepted: 0, at: Date.now() };

  constructor(private readonly host: AdminHost) {}

  get kind(): "dm" | "room" {
    return roomKind(safeDecode(this.host.room.id)) === "dm" ? "dm" : "room";
  }

  async handle(request: Party.Request, who: Identity, url: URL): Promise<Response> {
    if (!isOperator(who)) return errorResponse("forbidden", "Operators only.");
    const action = url.pathname.split("/").pop();
    const route = `${request.method} ${action}`;
    try {
      switch (route) {
        case "GET detail":
          return json(this.detail());
        case "GET messages":
          return await this.messages(who, url);
        case "GET audit":
          return await this.audit(url);
        case "GET edits":
          return await this.edits(who, url);
        case "POST delete":
          return await this.act(request, who, DeleteBody, (body) => [{ type: "delete", target: body.target }, body.clientId]);
        case "POST announce":
          return await this.act(request, who, AnnounceBody, (body) => [{ type: "announcement", text: body.text }, body.clientId]);
        case "POST moderate":
          return await this.moderate(request, who);
        default:
          return errorResponse("not_found", "No such admin route.");
      }
    } catch (error) {
      console.error("admin action failed", error);
      return errorResponse("storage_failed", "The room could not store the action; nothing was changed.");
    }
  }

  /** The stats the directory lists and the metrics endpoint renders (coalesced by the reporter). */
  report(): RoomReport {
    const { core, bootId, accepted, rejected } = this.host.state;
    const { connections, observers } = this.counts();
    const now = Date.now();
    const seconds = (now - this.rateBase.at) / 1000;
    const rate = seconds > 0 ? Math.round(((accepted - this.rateBase.accepted) / seconds) * 100) / 100 : 0;
    this.rateBase = { accepted, at: now };
    return {
      room: this.host.room.id,
      kind: this.kind,
      bootId,
      epoch: core.epoch,
      lastSeq: core.committedSeq,
      connections,
      observers,
      messagesTotal: accepted,
      messagesPerSecond: rate,
      errors: { ...rejected },
      ackLatency: this.host.ackLatency.snapshot(),
      archiveLag: this.host.archiveLag(),
      reportFailures: this.host.reporter.counters.failed,
    };
  }

  private detail(): RoomDetail {
    const { core, bootId, accepted } = this.host.state;
    const { connections, observers, members } = this.counts();
    const seconds = (Date.now() - this.rateBase.at) / 1000;
    return {
      room: this.host.room.id,
      kind: this.kind,
      epoch: core.epoch,
      lastSeq: core.committedSeq,
      bootId,
      connections,
      observers,
      members,
      messagesTotal: accepted,
      messagesPerSecond: seconds > 0 ? Math.round(((accepted - this.rateBase.accepted) / seconds) * 100) / 100 : 0,
      archiveLag: this.host.archiveLag(),
      reportFailures: this.host.reporter.counters.failed,
      settings: core.settings,
      restrictions: core.moderation.active(Date.now()),
      storage: { ...this.host.uploads.ledger.usage },
      ...(this.host.relays.live ? { live: { shards: this.host.relays.shards(), relays: this.host.relays.relayCount, relayViewers: this.host.relays.relayViewers(), roomSockets: connections - this.host.relays.relayViewers() } } : {}),
    };
  }

  private counts() {
    let connections = 0;
    let observers = 0;
    const members = new Map<string, { id: string; name: string; connections: number }>();
    for (const conn of this.host.room.getConnections<ConnState>()) {
      const state = conn.state;
      if (!state) continue; // refused before its state was set
      if (state.relay !== undefined) continue; // its viewers are counted below
      if (state.observer) {
        observers++;
        continue;
      }
      connections++;
      const member = members.get(state.user.id) ?? { id: state.user.id, name: state.user.name, connections: 0 };
      member.connections++;
      members.set(state.user.id, member);
    }
    connections += this.host.relays.relayViewers();
    return { connections, observers, members: [...members.values()].sort((a, b) => a.id.localeCompare(b.id)) };
  }

  /** The last N events (or a page before `before`). Reading a DM's content writes an audit record first. */
  private async messages(who: Identity, url: URL): Promise<Response> {
    const query = MessagesQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) return errorResponse("bad_frame", query.error.issues[0]?.message);
    const core = this.host.state.core;
    const range = historyRange(core.committedSeq, query.data.before, query.data.limit);
    if (this.kind === "dm") {
      const ts = Date.now();
      const record: AuditRecord = { ts, operator: { id: who.id, name: who.name }, room: this.host.room.id, action: "read_messages", from: range.from, before: range.before };
      // Durable before the content is read, so before it can leave the room: no read of a DM without its record.
      await this.recordAudit(record);
    }
    const events = await readEventsJson(this.host.room.storage, core, range.from, range.before);
    return new Response(`{"events":[${events.join(",")}],"hasMore":${range.from > 1}}`, { headers: { "content-type": "application/json" } });
  }

  /**
   * PROTOCOL R25: every version of a message, oldest first, the current one last. Replaced text is not shown to
   * members (they see the latest), so each read writes an audit record first, in every kind of room.
   */
  private async edits(who: Identity, url: URL): Promise<Response> {
    const query = EditsQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) return errorResponse("bad_frame", query.error.issues[0]?.message);
    const { seq } = query.data;
    const [stored] = await this.host.archive.records([seq]);
    const parsed = stored === undefined ? undefined : MessageEvent.safeParse(JSON.parse(stored));
    if (!parsed?.success) return errorResponse("not_found", `No message ${seq}.`);
    const ts = Date.now();
    const record: AuditRecord = { ts, operator: { id: who.id, name: who.name }, room: this.host.room.id, action: "read_edits", from: seq, before: seq + 1 };
    await this.recordAudit(record);
    const replaced = await this.host.room.storage.list<ReplacedVersion>({ prefix: editHistoryPrefix(seq) });
    const message = parsed.data;
    const current = { seq: message.editedBy ?? message.seq, ts: message.editedAt ?? message.ts, text: message.text, ...(message.deletedBy !== undefined ? { deletedBy: message.deletedBy } : {}) };
    return json({ seq, author: message.author, versions: [...replaced.values(), current] });
  }

  /**
   * An audited read's record, written and awaited before the content is read: a write that fails throws,
   * and handle() answers 503 `storage_failed` with no content. KAIWA_TEST_FAIL_AUDIT_WRITE fails it as a
   * storage failure would (a rejected put), which tests/integration/admin-api.integration.test.ts uses to
   * show nothing is served without its record.
   */
  private recordAudit(record: AuditRecord): Promise<void> {
    if (this.host.config.test.failAuditWrite) return Promise.reject(new Error("test switch KAIWA_TEST_FAIL_AUDIT_WRITE: the audit record's write failed"));
    return this.host.room.storage.put(auditKey(record.ts, nanoid(8)), record);
  }

  private async audit(url: URL): Promise<Response> {
    const query = AuditQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) return errorResponse("bad_frame", query.error.issues[0]?.message);
    const rows = await this.host.room.storage.list<AuditRecord>({ prefix: AUDIT_PREFIX, reverse: true, limit: query.data.limit });
    return json({ records: [...rows.values()] });
  }

  private async moderate(request: Party.Request, who: Identity): Promise<Response> {
    const parsed = ModerateBody.safeParse(await request.json().catch(() => undefined));
    if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
    const body = parsed.data;
    const until = body.durationMs !== undefined ? Date.now() + body.durationMs : undefined;
    const result = await this.host.runAdmin(who, { type: "moderation", action: body.action, user: body.user, ...(until !== undefined ? { until } : {}) }, body.clientId ?? nanoid());
    if (!result.ok) return rejection(result.error);
    if (body.action === "ban") this.closeSockets(body.user);
    return json(actionResult(result.ack));
  }

  /** After a ban is durable (and broadcast): every socket of the user gets a typed frame and a 4030 close. */
  private closeSockets(userId: string): void {
    const frame = JSON.stringify(errorFrame("banned"));
    for (const conn of this.host.room.getConnections<ConnState>()) {
      if (conn.state?.user.id !== userId || conn.state.user.role === "operator") continue;
      try {
        conn.send(frame);
      } catch {
        // already closed
      }
      this.host.closeSocket(conn, CLOSE.banned, "banned");
    }
  }

  private async act<B>(request: Party.Request, who: Identity, schema: z.core.$ZodType<B>, build: (body: B) => [AdminAction, string | undefined]): Promise<Response> {
    const parsed = z.safeParse(schema, await request.json().catch(() => undefined));
    if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
    const [action, clientId] = build(parsed.data);
    const result = await this.host.runAdmin(who, action, clientId ?? nanoid());
    return result.ok ? json(actionResult(result.ack)) : rejection(result.error);
  }
}

function actionResult(ack: Ack): ActionResult {
  return { seq: ack.seq, ts: ack.ts, ...(ack.duplicate ? { duplicate: true } : {}) };
}

function rejection(error: Rejection): Response {
  return errorResponse(error.code, error.message);
}

function safeDecode(id: string): string {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}
