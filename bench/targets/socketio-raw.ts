/**
 * A raw `ws` client speaking Engine.IO v4 / Socket.IO v5 framing, so the Socket.IO baseline is driven as
 * cheaply as kaiwa (socket.io-client would decode every broadcast per socket and make the generator the
 * bottleneck). Packets: `0{…}` open, `40` connect, `42[name,data]` event, `42<id>[…]` event with ack,
 * `43<id>[…]` ack, `2`/`3` ping/pong.
 */
import WebSocket from "ws";
import { cachedDecode } from "./frame-cache.ts";
import type { Conn, ConnHandlers, Ev } from "./types.ts";

const EVENTS_PREFIX = '42["events",';

function decodeEvents(text: string): Ev[] {
  return (JSON.parse(text.slice(2))[1] as Ev[]).map((e) => ({ seq: e.seq, clientId: e.clientId, text: e.text }));
}

export function socketIoConnect(url: string, localAddress: string | undefined, handlers: ConnHandlers, errors: string[]): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false });
    const pendingAcks = new Map<number, string>();
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
      if (text === "2") return ws.send("3");
      if (text.startsWith("0{")) return ws.send("40");
      if (text.startsWith("43")) {
        const bracket = text.indexOf("[");
        const id = Number(text.slice(2, bracket));
        const clientId = pendingAcks.get(id);
        if (clientId === undefined) return void errors.push(`socket.io: unknown ack ${id}`);
        pendingAcks.delete(id);
        handlers.onAck?.(clientId, JSON.parse(text.slice(bracket))[0].seq, at);
        return;
      }
      if (text.startsWith('42["welcome"') && !welcomed) {
        welcomed = true;
        clearTimeout(timer);
        const joinSeq = JSON.parse(text.slice(2))[1].lastSeq as number;
        resolve({
          joinSeq,
          epoch: "",
          send: (clientId, n, body) => {
            pendingAcks.set(n, clientId);
            ws.send(`42${n}${JSON.stringify(["send", { clientId, text: body }])}`);
          },
          close: () => ws.close(),
          terminate: () => ws.terminate(),
          unsentBytes: () => ws.bufferedAmount,
        });
      } else if (text.startsWith("44")) {
        errors.push(`socket.io connect error: ${text}`);
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
