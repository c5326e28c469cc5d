/**
 * The room's side of presence over y-protocols awareness (PROTOCOL R72-R75): binary frames in, the checks
 * (who may publish a state, typing only for members who may post), the pure AwarenessStates (ownership,
 * stamping, clocks, batching), and binary frames out to every admitted socket. JSON presence and typing
 * frames (PROTOCOL R15) go on beside it unchanged.
 */
import type * as Party from "partykit/server";
import { LIMITS, roomKind, type ErrorFrame, type Identity } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { decodeAwarenessMessage, emptySyncStep2Frame } from "../protocol/awareness.ts";
import { AwarenessStates } from "../core/awareness-states.ts";
import { awarenessRefusal } from "../core/access.ts";
import type { RoomCore } from "../core/room-core.ts";
import type { Conn, ConnState, Reply } from "./types.ts";

export interface AwarenessHost {
  readonly room: Party.Room;
  core(): RoomCore;
  roomId(): string;
  reply(reply: Reply, frame: ErrorFrame): void;
  /** Why this user may not show as typing (the rule of the JSON `typing` frame), or nothing. */
  typingRefusal(who: Identity): ErrorFrame | undefined;
  /** The socket is still receiving its welcome and replay: it gets the snapshot at the end instead. */
  joining(connId: string): boolean;
}

export class RoomAwareness {
  readonly states: AwarenessStates;

  constructor(private readonly host: AwarenessHost) {
    this.states = new AwarenessStates(
      { now: Date.now, schedule: (fn, ms) => void setTimeout(fn, ms), broadcast: (frame) => this.broadcast(frame) },
      LIMITS.signalWindowMs,
    );
  }

  /** One binary frame from an admitted socket (after the frame budget, PROTOCOL R18, and the token check, PROTOCOL R19). */
  frame(conn: Conn, state: ConnState, raw: ArrayBuffer | ArrayBufferView, reply: Reply): void {
    const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw) : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    if (bytes.byteLength > LIMITS.maxFrameBytes) return this.host.reply(reply, errorFrame("frame_too_large", { message: `Frames are at most ${LIMITS.maxFrameBytes} bytes.` }));
    const message = decodeAwarenessMessage(bytes, LIMITS.maxAwarenessClientsPerSocket);
    switch (message.kind) {
      case "malformed":
        return this.host.reply(reply, errorFrame("bad_frame", { message: message.message }));
      case "query":
        for (const frame of this.states.snapshot()) sendBinary(conn, frame);
        return;
      case "sync-step1":
        return sendBinary(conn, emptySyncStep2Frame()); // the room holds no document (PROTOCOL R72)
      case "sync-other":
        return;
      case "awareness": {
        const refused = this.refusal(state, message.entries.some((e) => e.state?.typing === true));
        if (refused) return this.host.reply(reply, refused);
        const result = this.states.apply(conn.id, state.user, message.entries);
        if (result) this.host.reply(reply, errorFrame(result.code, { message: result.message }));
        return;
      }
    }
  }

  /** A socket finished joining: it gets every current state (a y-websocket server does the same). */
  welcomed(conn: Conn): void {
    if (conn.state?.relay !== undefined) return;
    for (const frame of this.states.snapshot()) sendBinary(conn, frame);
  }

  closed(connId: string): void {
    this.states.socketClosed(connId);
  }

  /**
   * PROTOCOL R74: observers (operators watching, relays) read and never publish; a live room's viewers
   * (possibly thousands) may not publish, only its hosts and operators; a state that says `typing: true`
   * follows the `typing` frame's rule (members who may post, not muted or banned).
   */
  private refusal(state: ConnState, typing: boolean): ErrorFrame | undefined {
    const refused = awarenessRefusal({ kind: roomKind(this.host.roomId()), hosts: this.host.core().settings.hosts }, { who: state.user, observer: state.observer === true });
    if (refused) return errorFrame(refused.code, refused);
    return typing ? this.host.typingRefusal(state.user) : undefined;
  }

  /** One flush's frame to every admitted socket but relays (their viewers' protocol is JSON) and joiners. */
  private broadcast(frame: Uint8Array): void {
    for (const conn of this.host.room.getConnections<ConnState>()) {
      if (!conn.state || conn.state.relay !== undefined || this.host.joining(conn.id)) continue;
      sendBinary(conn, frame);
    }
  }
}

function sendBinary(conn: Party.Connection, frame: Uint8Array): void {
  try {
    conn.send(frame);
  } catch {
    // closed under us; its states go with its close
  }
}
