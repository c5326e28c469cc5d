/**
 * The inbox's HTTP routes (PROTOCOL IB7): the user's own `GET /conversations`, and the actor routes
 * `POST /notify` (a room's snapshots and events, PROTOCOL IB2) and `POST /presence` (a contact's online
 * status, PROTOCOL IB6). Which caller may use which route: party/core/inbox-access.ts.
 */
import type * as Party from "partykit/server";
import { NotifyBody, PresenceBody, type Notification } from "../protocol/index.ts";
import { identityFrom } from "../adapters/auth.ts";
import { drainBody, errorResponse, json } from "../adapters/http.ts";
import { isActorCall } from "../adapters/service-auth.ts";
import { actorRoute, userRoute } from "../core/inbox-access.ts";
import type { InboxCore } from "../core/inbox-core.ts";
import type { StoredPresence } from "./keys.ts";

/** What the inbox shell lends this part. */
export interface RoutesHost {
  readonly inboxId: string;
  /** The conversation list (read only). */
  conversations(): InboxCore;
  /** An actor called: the origin it came through is remembered if none is yet. */
  noteActorOrigin(origin: string): Promise<void>;
  applyNotifications(notifications: Notification[]): Promise<void>;
  notePresence(update: StoredPresence): Promise<void>;
}

export class InboxRoutes {
  constructor(private readonly host: RoutesHost) {}

  async handle(request: Party.Request): Promise<Response> {
    const req = request as unknown as Request;
    await drainBody(req); // every answer below may come before the body is read
    const url = new URL(request.url);
    const action = url.pathname.split("/").pop();
    if (!isActorCall(req)) {
      const route = userRoute(identityFrom(req), this.host.inboxId, request.method, action);
      if (typeof route !== "string") return errorResponse(route.code, route.message);
      const list = this.host.conversations();
      return json({ ...list.page(url.searchParams.get("before") ?? undefined, 50), totalUnread: list.totalUnread() });
    }
    await this.host.noteActorOrigin(url.origin);
    const body: unknown = await request.json().catch(() => undefined);
    const route = actorRoute(request.method, action);
    if (route === "notify") {
      const parsed = NotifyBody.safeParse(body);
      if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
      await this.host.applyNotifications(parsed.data.notifications);
      return json({ ok: true });
    }
    if (route === "presence") {
      const parsed = PresenceBody.safeParse(body);
      if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
      await this.host.notePresence(parsed.data);
      return json({ ok: true });
    }
    return errorResponse(route.code, route.message);
  }
}
