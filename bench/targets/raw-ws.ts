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
const EVENTS_PREFIX_BYTES = Buffer.from(EVENTS_PREFIX);

/**
 * A broadcast frame, told from its first bytes: a socket that does not read broadcasts (a pure sender)
 * drops it without decoding it to a string. Under a flood (scenarios/flood.ts) every sender in the room
 * gets every events frame of the flood (tens of MB a second from the bare ws server), and decoding each
 * only to drop it is load-generator time taken from the receivers that measure.
 */
export function isEventsFrame(data: unknown, prefix: Buffer = EVENTS_PREFIX_BYTES): boolean {
  return Buffer.isBuffer(data) && data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

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
    ws.on("message", (data, isBinary) => {
      if (isBinary) return; // awareness states (PROTOCOL R72): the bench measures messages only
      const at = performance.now();
      if (!handlers.onEvents && isEventsFrame(data)) return;
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
          ...(typeof frame.window === "number" ? { window: frame.window } : {}),
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
