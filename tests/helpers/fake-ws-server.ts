/**
 * A scripted stand-in for a kaiwa actor in client unit tests: a bare `ws` server that records what each
 * socket sent and lets the test answer, so the client's wiring is tested without PartyKit.
 */
import { after, before } from "node:test";
import { WebSocket, WebSocketServer } from "ws";

export type Frame = { type: string; [key: string]: unknown };
export type Peer = { ws: WebSocket; query: URLSearchParams; path: string; frames: Frame[]; raw: string[]; binary: Uint8Array[] };

/** Starts a server for the current test file (node:test before/after) and returns its live state. */
export function fakeServer(handlers: { onPeer(peer: Peer): void; onFrame(peer: Peer, frame: Frame): void }): { peers: Peer[]; port(): number } {
  let wss: WebSocketServer | null = null;
  let port = 0;
  const peers: Peer[] = [];
  before(async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    wss = server;
    await new Promise<void>((resolve) => server.once("listening", resolve));
    const address = server.address();
    port = typeof address === "object" && address ? address.port : 0;
    server.on("connection", (ws, request) => {
      const url = new URL(request.url ?? "/", "http://x");
      const peer: Peer = { ws, query: url.searchParams, path: url.pathname, frames: [], raw: [], binary: [] };
      peers.push(peer);
      ws.on("message", (data, isBinary) => {
        // Binary frames are awareness (PROTOCOL R72): kept apart, never parsed as JSON.
        if (isBinary) return void peer.binary.push(new Uint8Array(data as Buffer));
        const text = data.toString();
        peer.raw.push(text);
        if (text === "ping") return;
        const frame: Frame = JSON.parse(text);
        // A `batch` is its commands in order, as the real room reads it (PROTOCOL R17); `raw` keeps the wire frames.
        for (const each of frame.type === "batch" ? (frame.commands as Frame[]) : [frame]) {
          peer.frames.push(each);
          handlers.onFrame(peer, each);
        }
      });
      handlers.onPeer(peer);
    });
  });
  after(() => new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve())));
  return { peers, port: () => port };
}

export async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
