/**
 * The project's main party, answered in the worker: `/health` (for deploy checks and the test harness),
 * the operator admin API at `/admin/*` (party/worker/admin-api.ts), `/archive/search` (party/worker/search-route.ts)
 * and the publish API for app backends at `/publish/*` (party/worker/publish-api.ts).
 * Conversations live in the `room` party (party/room/server.ts), at /parties/room/<id>; the dashboard is
 * served from public/ (partykit.json `serve`).
 */
import type * as Party from "partykit/server";
import { ADMIN_PREFIX, handleAdmin } from "./admin-api.ts";
import { searchRoute } from "./search-route.ts";
import { corsPreflight, withCors } from "./cors.ts";
import { PUBLISH_PREFIX, handlePublish } from "./publish-api.ts";
import { checkConfig } from "../config.ts";
import { discardBody, errorResponse } from "../adapters/http.ts";
import { oversized, refuseFakeUpgrade, wantsUpgrade } from "../adapters/http-limits.ts";

export default class Main implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static async onFetch(partyRequest: Party.Request, lobby: Party.FetchLobby) {
    const request = partyRequest as unknown as Request;
    // An invalid configuration refuses every request, naming the variable (party/config.ts).
    const config = checkConfig(lobby.env);
    if (!config.ok) return errorResponse("internal", config.error.message);
    // Sockets are for rooms and inboxes only; the routes here are plain HTTP (PROTOCOL §7).
    if (wantsUpgrade(request)) return refuseFakeUpgrade(request);
    const refused = oversized(request);
    if (refused) {
      await discardBody(request);
      return refused;
    }
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ ok: true, service: "kaiwa" });
    if (url.pathname.startsWith(ADMIN_PREFIX)) return handleAdmin(request, lobby);
    if (url.pathname === "/archive/search") return request.method === "OPTIONS" ? corsPreflight() : withCors(await searchRoute(request, lobby.env));
    if (url.pathname.startsWith(PUBLISH_PREFIX)) return handlePublish(request, lobby, config.config);
    return new Response("Not found", { status: 404 });
  }

  onRequest() {
    return new Response("Not found", { status: 404 });
  }
}
