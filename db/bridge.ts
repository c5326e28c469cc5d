/**
 * A WebSocket-to-TCP bridge of the kind Neon's wsproxy is: `@neondatabase/serverless` speaks the Postgres
 * wire protocol over a WebSocket (workerd has no raw TCP for it), and this pipes each socket to one TCP
 * connection to a Postgres server. Used in development and tests only; production talks to Neon directly.
 *
 * `serial`: PGlite is one backend behind pglite-socket's multiplexer, which misbehaves when two clients'
 * protocol messages interleave (an unnamed statement parsed by one client is bound by another) or when a
 * client drops mid-transaction while another is queued. With `serial`, the bridge admits one WebSocket
 * session at a time and queues the rest; a session that goes quiet for `idleMs` is cut so it cannot hold
 * everyone else up. A real Postgres gets `serial: false` (one backend per connection).
 */
import { createServer } from "node:http";
import { connect } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { TerminateWatch } from "./terminate-watch.ts";

export type BridgeOptions = { target: { host: string; port: number }; port?: number; serial: boolean; idleMs?: number };
export type Bridge = { port: number; sessions: { opened: number; maxConcurrent: number; queued: number }; close(): Promise<void> };

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const sessions = { opened: 0, maxConcurrent: 0, queued: 0 };
  let active = 0;
  // Plain GET /stats shows the session counters (tests prove with them that PGlite's sessions never overlapped).
  const http = createServer((_request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ ...sessions, active }));
  });
  const server = new WebSocketServer({ server: http });
  await new Promise<void>((resolve, reject) => http.listen(options.port ?? 0, "127.0.0.1", resolve).once("error", reject));
  const waiting: WebSocket[] = [];
  const earlyData = new WeakMap<WebSocket, { early: Buffer[]; keep: (data: Buffer) => void }>();
  const admit = () => {
    while (waiting.length > 0 && (!options.serial || active === 0)) {
      const ws = waiting.shift()!;
      sessions.queued = waiting.length;
      if (ws.readyState === ws.OPEN) pipe(ws);
    }
  };
  const pipe = (ws: WebSocket) => {
    active++;
    sessions.opened++;
    sessions.maxConcurrent = Math.max(sessions.maxConcurrent, active);
    const tcp = connect(options.target);
    tcp.setNoDelay(true);
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.terminate(), options.idleMs ?? 30_000);
    };
    const watch = new TerminateWatch();
    // Writes before the TCP connect completes are queued by Node.
    const forward = (data: Buffer) => {
      touch();
      if (tcp.writable) tcp.write(data);
      if (watch.push(data)) tcp.end(); // the session is over: free the slot now, not at the idle timeout
    };
    const held = earlyData.get(ws);
    if (held) {
      ws.off("message", held.keep);
      held.early.forEach(forward);
    }
    ws.on("message", forward);
    tcp.on("data", (data) => (touch(), ws.send(data)));
    let done = false;
    // The next session starts only once this TCP connection is fully closed, so the server has seen it go.
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      active--;
      admit();
    };
    tcp.once("close", () => (ws.close(), finish()));
    tcp.on("error", () => ws.terminate());
    ws.once("close", () => tcp.destroyed || tcp.end());
    ws.on("error", () => tcp.destroy());
    touch();
  };
  server.on("connection", (ws) => {
    // The driver sends its startup message as soon as the socket opens, while it may still be queued
    // here: keep what arrives until the session is admitted, or it would wait forever for a reply.
    const early: Buffer[] = [];
    const keep = (data: Buffer) => early.push(data);
    ws.on("message", keep);
    earlyData.set(ws, { early, keep });
    waiting.push(ws);
    sessions.queued = waiting.length;
    admit();
  });
  const port = (http.address() as { port: number }).port;
  return {
    port,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
