/**
 * The room's HTTP routes (PROTOCOL §6): the log for pollers and caches (room/log-reader.ts, PROTOCOL R40-R43),
 * REST posting (room/rest-post.ts, PROTOCOL R44), history for members (room/history.ts), actor routes for inboxes (commands, reads,
 * wake), and stats and settings for operators; admin routes go to room/admin.ts. Every input is parsed at
 * the boundary (PROTOCOL I8), the identity is the one the worker verified (PROTOCOL I7).
 */
import type * as Party from "partykit/server";
import { parseLogPath, roomKind, roomPathRest, ReadBody, RelayedBody, RoomCommandsBody, RoomSettingsPatch, type Identity, type RoomCommandResult, type RoomSettings } from "../protocol/index.ts";
import { isOperator, mayJoin } from "../core/access.ts";
import type { RoomCore } from "../core/room-core.ts";
import { drainBody, errorResponse, json } from "../adapters/http.ts";
import { identityFrom } from "../adapters/auth.ts";
import { isActorCall } from "../adapters/service-auth.ts";
import type { RoomAdmin } from "./admin.ts";
import type { RoomCommands } from "./commands.ts";
import type { RoomInboxLink } from "./inbox-link.ts";
import type { RoomMembers } from "./members.ts";
import { HttpReply } from "./http-reply.ts";
import { publishRoute } from "./publish-route.ts";
import type { RoomHistory } from "./history.ts";
import { noStore, type RoomLogReader } from "./log-reader.ts";
import type { RoomFlow } from "./flow.ts";
import { restPost } from "./rest-post.ts";
import type { RoomUploads } from "./uploads.ts";
import { errorFrame } from "../protocol/error-frame.ts";

/** What the HTTP routes need from the rest of the room. */
export interface HttpHost {
  readonly room: Pick<Party.Room, "id">;
  readonly history: Pick<RoomHistory, "overHttp" | "threadOverHttp" | "pinsOverHttp">;
  readonly admin: Pick<RoomAdmin, "handle">;
  readonly link: Pick<RoomInboxLink, "kick" | "snapshot">;
  readonly members: Pick<RoomMembers, "checkRead" | "needsReadWrite" | "queueRead">;
  /** Commands from an inbox's batch, a REST post (room/rest-post.ts) and the publish API (room/publish-route.ts). */
  readonly commands: Pick<RoomCommands, "submit" | "post" | "runPublish">;
  readonly log: Pick<RoomLogReader, "handle">;
  readonly flow: Pick<RoomFlow, "frame" | "message">;
  readonly uploads: Pick<RoomUploads, "slot" | "resign" | "download">;
  core(): RoomCore;
  /** The decoded room id. */
  roomId(): string;
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
    const url = new URL(request.url);
    const rest = roomPathRest(url.pathname)?.rest ?? [];
    // The log may be read without a token (the worker lets such reads through, PROTOCOL R40): checked there.
    const logPath = parseLogPath(rest);
    if (logPath === "bad") return noStore(errorResponse("not_found", "No such log route: log/latest, log/page/<n>, log/page/<n>/<epoch>/<version>."));
    if (logPath) {
      if (request.method !== "GET" && request.method !== "HEAD") return noStore(errorResponse("bad_frame", "The log is read with GET.", 405));
      return host.log.handle(request, who, logPath);
    }
    const action = url.pathname.split("/").pop();
    if (request.method === "POST" && action === "publish" && !url.pathname.includes("/admin/")) {
      // The publish API (PROTOCOL R61) names a bot, not a user: no identity header to read.
      host.ensureLink(request);
      return publishRoute({ commands: host.commands, rawRoomId: host.room.id }, request);
    }
    if (!who) return errorResponse("unauthorized");
    if (request.method === "POST" && rest.length === 1 && rest[0] === "messages") return restPost(request, who, { roomId: host.room.id, commands: host.commands, flow: host.flow });
    if (url.pathname.includes("/admin/")) return host.admin.handle(partyRequest, who, url);
    host.ensureLink(request);
    if (request.method === "GET" && action === "history") return host.history.overHttp(who, url);
    const media = this.media(request.method, url.pathname, who);
    if (media) return media(request);
    if (request.method === "GET" && action === "thread") return host.history.threadOverHttp(who, url);
    if (request.method === "GET" && action === "pins") return host.history.pinsOverHttp(who);
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
    if (!isOperator(who)) return errorResponse("forbidden", "Operators only.");
    if (request.method === "GET" && action === "stats") return json(host.stats());
    if ((request.method === "PATCH" || request.method === "PUT") && action === "settings") {
      const patch = RoomSettingsPatch.safeParse(await request.json().catch(() => undefined));
      if (!patch.success) return errorResponse("bad_frame", patch.error.issues[0]?.message);
      if (patch.data.public && roomKind(host.roomId()) === "dm") return errorResponse("bad_frame", "A direct conversation is never public (PROTOCOL R40).");
      return json({ settings: await host.updateSettings(patch.data) });
    }
    return errorResponse("not_found", "No such route.");
  }

  /**
   * Files (PROTOCOL R30, R32): `POST uploads` (a slot), `POST uploads/<id>/url` (the slot signed again),
   * `GET files/<id>` (a download). The path after the room id decides; anything else is not a file route.
   */
  private media(method: string, pathname: string, who: Identity): ((request: Request) => Promise<Response>) | undefined {
    const match = /\/parties\/room\/[^/]+\/(uploads|files)(?:\/([^/]+))?(\/url)?$/.exec(pathname);
    if (!match) return undefined;
    const [, route, id, resign] = match;
    const { uploads } = this.host;
    if (route === "uploads" && method === "POST" && !id) return async (request) => uploads.slot(who, await request.json().catch(() => undefined));
    if (route === "uploads" && method === "POST" && id && resign) return () => uploads.resign(who, id);
    if (route === "files" && method === "GET" && id && !resign) return () => uploads.download(who, id);
    return async () => errorResponse("not_found", "No such route.");
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
