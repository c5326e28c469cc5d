/**
 * The room's HTTP routes (PROTOCOL §6): history for members (room/history.ts), actor routes for inboxes (commands, reads,
 * wake), and stats and settings for operators; admin routes go to room/admin.ts. Every input is parsed at
 * the boundary (PROTOCOL I8), the identity is the one the worker verified (PROTOCOL I7).
 */
import type * as Party from "partykit/server";
import { ReadBody, RelayedBody, RoomCommandsBody, RoomSettingsPatch, type Identity, type RoomCommandResult, type RoomSettings } from "../protocol/index.ts";
import { mayJoin } from "../core/access.ts";
import type { RoomCore } from "../core/room-core.ts";
import { drainBody, errorResponse, json } from "../adapters/http.ts";
import { identityFrom } from "../worker/auth.ts";
import { isActorCall } from "../worker/service-auth.ts";
import type { RoomArchive } from "../archive/outbox.ts";
import type { RoomAdmin } from "./admin.ts";
import type { RoomCommands } from "./commands.ts";
import type { RoomInboxLink } from "./inbox-link.ts";
import type { RoomMembers } from "./members.ts";
import { HttpReply } from "./http-reply.ts";
import type { RoomHistory } from "./history.ts";
import type { RoomFlow } from "./flow.ts";
import { errorFrame } from "../protocol/error-frame.ts";

/** What the HTTP routes need from the rest of the room. */
export interface HttpHost {
  readonly room: Party.Room;
  readonly history: RoomHistory;
  readonly admin: RoomAdmin;
  readonly archive: RoomArchive;
  readonly link: RoomInboxLink;
  readonly members: RoomMembers;
  readonly commands: RoomCommands;
  readonly flow: RoomFlow;
  core(): RoomCore;
  linkReady(): Promise<void>;
  ensureLink(request: Request): void;
  stats(): unknown;
  /** Stores an operator's patch (only what they set) and applies it. */
  updateSettings(patch: RoomSettingsPatch): Promise<RoomSettings>;
}

export class RoomHttp {
  constructor(private readonly host: HttpHost) {}

  async handle(partyRequest: Party.Request): Promise<Response> {
    const request = partyRequest as unknown as Request;
    const { host } = this;
    await drainBody(request); // every answer below may come before the body is read
    const who = identityFrom(request);
    if (!who) return errorResponse("unauthorized");
    const url = new URL(request.url);
    const action = url.pathname.split("/").pop();
    if (url.pathname.includes("/admin/")) return host.admin.handle(partyRequest, who, url);
    host.ensureLink(request);
    if (request.method === "GET" && action === "history") return host.history.overHttp(who, url);
    if (request.method === "POST" && action === "wake") {
      // An inbox that is owed a notification wakes the room (partykit dev loses alarms on restart).
      if (!isActorCall(request)) return errorResponse("forbidden", "Only actors call this route.");
      await host.linkReady();
      host.link.kick();
      return json({ ok: true });
    }
    if (request.method === "POST" && action === "relayed") {
      // A live room's relay, posting for a viewer whose token it verified (PROTOCOL R52).
      if (!isActorCall(request)) return errorResponse("forbidden", "Only actors call this route.");
      const body = RelayedBody.safeParse(await request.json().catch(() => undefined));
      if (!body.success) return errorResponse("bad_frame", body.error.issues[0]?.message);
      return this.relayed(who, body.data);
    }
    if (request.method === "POST" && (action === "commands" || action === "read")) {
      // Actor routes: an inbox acting for a user it verified. Clients use their socket instead.
      if (!isActorCall(request)) return errorResponse("forbidden", "Only actors call this route.");
      if (!mayJoin(host.room.id, who)) return errorResponse("forbidden");
      const body: unknown = await request.json().catch(() => undefined);
      return action === "commands" ? this.commands(who, body) : this.read(who, body);
    }
    if (who.role !== "operator") return errorResponse("forbidden", "Operators only.");
    if (request.method === "GET" && action === "stats") return json(host.stats());
    if ((request.method === "PATCH" || request.method === "PUT") && action === "settings") {
      const patch = RoomSettingsPatch.safeParse(await request.json().catch(() => undefined));
      if (!patch.success) return errorResponse("bad_frame", patch.error.issues[0]?.message);
      return json({ settings: await host.updateSettings(patch.data) });
    }
    return errorResponse("not_found", "No such route.");
  }

  /** An inbox's batch of DM commands: each decided like a socket frame, answered after the durable write. */
  private async commands(who: Identity, raw: unknown): Promise<Response> {
    const body = RoomCommandsBody.safeParse(raw);
    if (!body.success) return errorResponse("bad_frame", body.error.issues[0]?.message);
    const results = await Promise.all(
      body.data.items.map(
        ({ session, command }) =>
          new Promise<RoomCommandResult | { read: number }>((resolve) => {
            this.host.commands.submit(new HttpReply(resolve), { user: who, session }, command);
          }),
      ),
    );
    return json({ results });
  }

  /**
   * A viewer's commands through its relay, decided in order like a socket's frames, under the same
   * per-user message rate (PROTOCOL R18.2): over it, the first command not decided is answered `rate_limited`
   * and nothing after it is decided (the relay closes the viewer with 4029; the client resends in order).
   */
  private async relayed(who: Identity, body: RelayedBody): Promise<Response> {
    const { host } = this;
    const pending: Array<Promise<RoomCommandResult | { read: number }>> = [];
    let limited: RoomCommandResult | undefined;
    for (const command of body.commands) {
      const core = host.core();
      const resend = core.dedupeLoaded && core.knows(who.id, command.clientId);
      const wait = resend ? 0 : host.flow.message(who);
      if (wait > 0) {
        const retryAfterMs = Number.isFinite(wait) ? Math.min(wait, 60_000) : 60_000;
        limited = { error: errorFrame("rate_limited", { retryAfterMs, ref: command.clientId }) };
        break;
      }
      pending.push(new Promise((resolve) => host.commands.submit(new HttpReply(resolve), { user: who, session: body.session }, command)));
    }
    const results = await Promise.all(pending);
    return json({ results: limited ? [...results, limited] : results });
  }

  /** A member's read position (PROTOCOL I6): forward only, never past the committed seq, durable before answered. */
  private async read(who: Identity, raw: unknown): Promise<Response> {
    const body = ReadBody.safeParse(raw);
    if (!body.success) return errorResponse("bad_frame", body.error.issues[0]?.message);
    const { host } = this;
    await host.linkReady();
    const refused = host.members.checkRead(who, body.data.seq);
    if (refused) return errorResponse(refused.code, refused.message);
    if (host.members.needsReadWrite(who, body.data.seq)) {
      const outcome = await new Promise<RoomCommandResult | { read: number }>((resolve) => host.members.queueRead(new HttpReply(resolve), who, body.data.seq));
      if ("error" in outcome) return errorResponse(outcome.error.code, outcome.error.message);
    }
    return json(host.link.snapshot(who.id));
  }
}
