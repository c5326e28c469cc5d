/**
 * How a one-to-one message travels in the one-to-one scenario.
 *
 * Today: every device connects to the pair's DM room `dm:<a>:<b>` (a < b) and the message goes
 * client → room (sequenced, stored) → the recipient's devices and the sender's other devices.
 *
 * For kaiwa, DMs take the inbox route (InboxDmPath, PROTOCOL IB1): each device holds one socket to its
 * user's inbox; a DM goes client → inbox(sender) → DM room (sequenced, stored) → inbox(recipient) →
 * every device, and back to the sender's other devices.
 */
import WebSocket from "ws";
import type { Conn, ConnHandlers, Ev, Target } from "./types.ts";
import type { KaiwaTarget } from "./kaiwa.ts";

export interface DmPath {
  readonly name: string;
  /** The id under which the ledger tracks this pair's conversation. */
  conversation(a: string, b: string): string;
  connectDevice(me: string, peer: string, device: string, handlers: ConnHandlers): Promise<Conn>;
}

/** The DM room directly (all targets; for kaiwa the canonical sorted `dm:a:b` room id). */
export class RoomDmPath implements DmPath {
  readonly name = "dm room";
  constructor(private readonly target: Target) {}

  conversation(a: string, b: string): string {
    return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
  }

  connectDevice(me: string, peer: string, device: string, handlers: ConnHandlers): Promise<Conn> {
    return this.target.connect({ room: this.conversation(me, peer), user: me, session: `${me}-${device}`, handlers });
  }
}

/**
 * kaiwa's inbox (party/inbox.ts): one socket per device to /parties/inbox/<user>, DMs as `dm` frames,
 * acks carrying the room, live `events` frames per room. Raw `ws` like the room driver (no zod per frame).
 */
export class InboxDmPath implements DmPath {
  readonly name = "inbox";
  constructor(private readonly target: KaiwaTarget) {}

  conversation(a: string, b: string): string {
    return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
  }

  async connectDevice(me: string, peer: string, device: string, handlers: ConnHandlers): Promise<Conn> {
    const room = this.conversation(me, peer);
    const query = new URLSearchParams({ token: await this.target.token(me), session: `${me}-${device}` });
    const ws = new WebSocket(`ws://${this.target.server.host}/parties/inbox/${me}?${query}`, { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      let welcomed = false;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error("no inbox welcome within 30 s"));
      }, 30_000);
      ws.on("message", (data) => {
        const at = performance.now();
        const text = data.toString();
        if (text === "pong") return;
        const frame = JSON.parse(text);
        if (frame.type === "events" && frame.room === room) {
          handlers.onEvents?.(frame.events.map((e: Ev) => ({ seq: e.seq, clientId: e.clientId, text: e.text })), at);
        } else if (frame.type === "ack") {
          for (const ack of frame.acks) if (ack.room === room) handlers.onAck?.(ack.clientId, ack.seq, at);
        } else if (frame.type === "welcome" && !welcomed) {
          welcomed = true;
          clearTimeout(timer);
          const row = (frame.conversations as Array<{ room: string; lastSeq: number }>).find((c) => c.room === room);
          resolve({
            joinSeq: row?.lastSeq ?? 0,
            epoch: "",
            send: (clientId, n, text) => ws.send(JSON.stringify({ type: "dm", to: peer, clientId, n, text })),
            close: () => ws.close(),
            terminate: () => ws.terminate(),
            unsentBytes: () => ws.bufferedAmount,
          });
        } else if (frame.type === "error") {
          this.target.errors.push(`${frame.code}: ${frame.message}`);
        }
      });
      ws.on("error", (error) => {
        clearTimeout(timer);
        if (!welcomed) reject(error);
      });
      ws.once("close", (code, reason) => {
        clearTimeout(timer);
        if (!welcomed) reject(new Error(`inbox closed ${code} ${reason} before welcome`));
        handlers.onClose?.(code, reason.toString());
      });
    });
  }
}

export function dmPathFor(target: Target): DmPath {
  return target.name === "kaiwa" ? new InboxDmPath(target as KaiwaTarget) : new RoomDmPath(target);
}
