/**
 * The project's main party: it only answers `/health` (for deploy checks and the test harness).
 * Conversations live in the `room` party (party/room.ts), at /parties/room/<id>.
 */
import type * as Party from "partykit/server";

export default class Main implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static onFetch(request: Party.Request) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ ok: true, service: "kaiwa" });
    return new Response("Not found", { status: 404 });
  }

  onRequest() {
    return new Response("Not found", { status: 404 });
  }
}
