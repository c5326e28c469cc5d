/** A bare `ws` socket with a frame log, for tests that must send what the typed client never would. */
import WebSocket from "ws";
import type { DevServer } from "./dev-server.ts";

export type RawSocket = {
  ws: WebSocket;
  frames: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** Resolves with the first frame (already received or future) matching `match`, after index `from`. */
  next(match: (frame: any) => boolean, timeoutMs?: number, from?: number): Promise<any>;
};

export function rawSocket(server: DevServer, room: string, query: Record<string, string>): Promise<RawSocket> {
  return rawPartySocket(server, "room", room, query);
}

export async function rawPartySocket(server: DevServer, party: string, id: string, query: Record<string, string>): Promise<RawSocket> {
  const params = new URLSearchParams(query);
  const ws = new WebSocket(`ws://${server.host}/parties/${party}/${id}?${params}`);
  const frames: any[] = [];
  const waiters: Array<() => void> = [];
  ws.on("message", (data, isBinary) => {
    // Binary frames are awareness (PROTOCOL R72): logged as bytes, never parsed as JSON.
    const text = isBinary ? "" : data.toString();
    frames.push(isBinary ? { type: "binary", bytes: new Uint8Array(data as Buffer) } : text === "pong" ? "pong" : JSON.parse(text));
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const next = (match: (frame: any) => boolean, timeoutMs = 10_000, from = 0) =>
    new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`)), timeoutMs);
      const check = () => {
        const found = frames.slice(from).find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else waiters.push(check);
      };
      check();
    });
  return { ws, frames, closed, next, send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)) };
}

/** Resolves with the close code the client saw, or fails if the socket is not closed within `ms`. */
export function closedWithin(socket: RawSocket, ms: number): Promise<number> {
  return Promise.race([
    socket.closed.then(({ code }) => code),
    new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms)),
  ]);
}
