/**
 * A raw `ws` connection speaking the kaiwa frame shapes (party/protocol/schema.ts): welcome, ack, events,
 * error, and `batch` for commands sent in the same tick, as the typed client sends them. The bare ws
 * baseline speaks the same shapes, so both use this driver. Raw sockets rather than the
 * typed client keep the generator cheap (no zod parse per frame); the reconnect storm uses the real client.
 */
import WebSocket from "ws";
import { packCommands } from "../../client/frame-packer.ts";
import { cachedDecode } from "./frame-cache.ts";
import type { Conn, ConnHandlers, Ev } from "./types.ts";

const EVENTS_PREFIX = '{"type":"events"';

function decodeEvents(text: string): Ev[] {
  return (JSON.parse(text).events as Ev[]).map((e) => ({ seq: e.seq, clientId: e.clientId, text: e.text }));
}

export function rawConnect(url: string, localAddress: string | undefined, handlers: ConnHandlers, errors: string[]): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false });
    let welcomed = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("no welcome within 30 s"));
    }, 30_000);
    ws.on("message", (data) => {
      const at = performance.now();
      const text = data.toString();
      if (text.startsWith(EVENTS_PREFIX)) {
        if (handlers.onEvents) handlers.onEvents(cachedDecode(text, decodeEvents), at);
        return;
      }
      if (text === "pong") return;
      const frame = JSON.parse(text);
      if (frame.type === "ack") {
        if (handlers.onAck) for (const ack of frame.acks) handlers.onAck(ack.clientId, ack.seq, at);
      } else if (frame.type === "welcome" && !welcomed) {
        welcomed = true;
        clearTimeout(timer);
        // Sends made in one tick leave in `batch` frames, packed by the client library's own packer (PROTOCOL R17).
        const batchAccepted = Array.isArray(frame.accepts) && frame.accepts.includes("batch");
        let pending: string[] = [];
        const flush = () => {
          const commands = pending;
          pending = [];
          for (const out of batchAccepted ? packCommands(commands) : commands) ws.send(out);
        };
        resolve({
          joinSeq: frame.lastSeq,
          epoch: frame.epoch ?? "",
          send: (clientId, n, body) => {
            if (pending.push(JSON.stringify({ type: "send", clientId, n, text: body })) === 1) queueMicrotask(flush);
          },
          close: () => ws.close(),
          terminate: () => ws.terminate(),
          unsentBytes: () => ws.bufferedAmount,
        });
      } else if (frame.type === "error") {
        errors.push(`${frame.code}: ${frame.message}`);
      }
    });
    ws.on("error", (error) => {
      clearTimeout(timer);
      if (!welcomed) reject(error);
    });
    ws.once("close", (code, reason) => {
      clearTimeout(timer);
      if (!welcomed) reject(new Error(`closed ${code} ${reason} before welcome`));
      handlers.onClose?.(code, reason.toString());
    });
  });
}
