/**
 * The project's main party: it answers `/health` (for deploy checks and the test harness) and
 * `/archive/search` (party/archive/search.ts).
 * Conversations live in the `room` party (party/room.ts), at /parties/room/<id>.
 */
import type * as Party from "partykit/server";
import { searchRoute } from "./archive/search.ts";

export default class Main implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static onFetch(request: Party.Request, lobby: Party.FetchLobby) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ ok: true, service: "kaiwa" });
    if (url.pathname === "/archive/search") return searchRoute(request as unknown as Request, lobby.env);
    return new Response("Not found", { status: 404 });
  }

  onRequest() {
    return new Response("Not found", { status: 404 });
  }
}
