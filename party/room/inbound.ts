/**
 * One inbound socket frame, from bytes to the part that handles it: the flow checks that come before any
 * work (PROTOCOL R18), decoding at the boundary (PROTOCOL I8, R11), the expired-token check (PROTOCOL R19), then history,
 * reads and typing to their parts and commands, one by one, to deciding (PROTOCOL R17 for batches).
 */
import { CLOSE, ClientFrame, Command, type ErrorFrame } from "../protocol/index.ts";
import { checkFrame, decodeFrame } from "../protocol/decode.ts";
import { plainSend } from "../protocol/plain-send.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { safeSend } from "../adapters/sockets.ts";
import type { RoomCommands } from "./commands.ts";
import type { RoomFlow } from "./flow.ts";
import type { RoomHistory } from "./history.ts";
import type { RoomMembers } from "./members.ts";
import type { RoomAwareness } from "./awareness.ts";
import type { TokenExpiry } from "../adapters/token-expiry.ts";
import type { RoomWriter } from "./writer.ts";
import { SocketReply } from "./socket-reply.ts";
import type { Conn, ConnState, Reply } from "./types.ts";

export interface InboundHost {
  /** Whether a socket was cut off, and cutting one off (each socket reply closes through it). */
  readonly writer: Pick<RoomWriter, "isResyncing" | "cutOff">;
  readonly flow: Pick<RoomFlow, "frame">;
  readonly expiry: Pick<TokenExpiry<ConnState>, "expired" | "end">;
  readonly commands: Pick<RoomCommands, "submit" | "throttle">;
  readonly history: Pick<RoomHistory, "overSocket" | "threadOverSocket">;
  readonly members: Pick<RoomMembers, "readOverSocket" | "typing">;
  readonly awareness: Pick<RoomAwareness, "frame">;
  reply(reply: Reply, frame: ErrorFrame): void;
  refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void;
}

export class RoomInbound {
  constructor(private readonly host: InboundHost) {}

  frame(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn): void {
    const { host } = this;
    if (raw === "ping") return void safeSend(conn, "pong"); // half-open detection (client/heartbeat)
    // A socket already cut off: whatever it still sends is dropped unread (PROTOCOL R18, I4).
    if (host.writer.isResyncing(conn.id)) return;
    const state = conn.state;
    if (!state) return host.refuse(conn, errorFrame("unauthorized"), CLOSE.unauthorized);
    const reply = new SocketReply(conn, host.writer);
    const wait = host.flow.frame(state.user);
    if (wait > 0) return host.commands.throttle(reply, wait, undefined);
    if (typeof raw !== "string") {
      // Binary frames are y-protocols awareness (PROTOCOL R72), after the same budget and token check.
      if (host.expiry.expired(state)) return host.expiry.end(conn, undefined);
      return host.awareness.frame(conn, state, raw, reply);
    }
    const decoded = decodeFrame(raw, ClientFrame, plainSend);
    // PROTOCOL R19: an expired token's socket has nothing decided; the refusal names what it sent.
    if (host.expiry.expired(state)) return host.expiry.end(conn, decoded.ok ? refOf(decoded.frame) : undefined);
    if (!decoded.ok) return host.reply(reply, decoded.error);
    const frame = decoded.frame;
    if (frame.type === "history") return void host.history.overSocket(reply, state, frame);
    if (frame.type === "thread") return void host.history.threadOverSocket(reply, state, frame);
    if (frame.type === "read") return void host.members.readOverSocket(reply, state.user, frame.seq, frame.requestId);
    if (frame.type === "typing") return host.members.typing(reply, state.user);
    if (frame.type === "batch") {
      // PROTOCOL R17: each element as if it were its own frame, in order; a bad one is answered alone.
      for (const element of frame.commands) {
        const checked = checkFrame(element, Command, plainSend);
        if (!checked.ok) host.reply(reply, checked.error);
        else if (!host.commands.submit(reply, state, checked.frame)) return; // throttled: the rest is resent
      }
      return;
    }
    host.commands.submit(reply, state, frame);
  }
}

/** The id a frame's answer would carry: its clientId or requestId, or its first command's. */
function refOf(frame: ClientFrame): string | undefined {
  if (frame.type === "batch") {
    const first = frame.commands[0] as { clientId?: unknown } | undefined;
    return typeof first?.clientId === "string" ? first.clientId : undefined;
  }
  return "clientId" in frame ? frame.clientId : "requestId" in frame ? frame.requestId : undefined;
}
