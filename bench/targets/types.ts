/**
 * What the load tool needs from a server under test. kaiwa and both baselines speak the same frame
 * shapes (welcome / ack / events with seq and clientId), so every scenario drives them the same way.
 */
export type TargetName = "kaiwa" | "socketio" | "ws";

/** One event as the load tool sees it: `text` carries the send time on the generator's clock. */
export type Ev = { seq: number; clientId: string; text: string };

export type ConnHandlers = {
  /** Omit on pure senders: their broadcasts are then not even parsed (keeps the generator cheap). */
  onEvents?: (events: Ev[], receivedAt: number) => void;
  onAck?: (clientId: string, seq: number, receivedAt: number) => void;
  /** The socket closed (by either side): its close code and reason. */
  onClose?: (code: number, reason: string) => void;
};

export type ConnectOptions = {
  room: string;
  user: string;
  session: string;
  localAddress?: string;
  handlers: ConnHandlers;
  /** kaiwa only: resume from here (the others keep no log to resume from). */
  resume?: { epoch: string; lastSeq: number };
};

export interface Conn {
  /** The room's position at join (welcome), where a receiver's log starts. */
  readonly joinSeq: number;
  readonly epoch: string;
  /**
   * The window the server granted in its welcome (kaiwa: PROTOCOL R84); a sender keeps at most this many in
   * flight, as kaiwa's client does. Undefined: the server grants none (the baselines), the plan's window holds.
   */
  readonly window?: number;
  send(clientId: string, n: number, text: string): void;
  close(): void;
  /** Drop without a close handshake, as a network failure would. */
  terminate(): void;
  /** Bytes sent but not yet handed to the kernel: grows once a server that stopped reading fills its buffers. */
  unsentBytes(): number;
}

export type ServerUsage = { rssBytes: number; cpuMs: number; note: string };

export interface Target {
  readonly name: TargetName;
  /** One line on what it stores: printed next to every figure. */
  readonly durability: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  connect(options: ConnectOptions): Promise<Conn>;
  /**
   * The WebSocket URL `connect` would open (a fresh user straight into the room), for a socket driven
   * outside this tool's drivers: the flood scenario's flooder (lib/flooder.ts).
   */
  url(options: Pick<ConnectOptions, "room" | "user" | "session">): Promise<string>;
  usage(): ServerUsage;
  /** Errors the server sent (error frames, refused joins): any is a failed run. */
  readonly errors: string[];
  /**
   * Called before every scenario but the first: a server whose process keeps per-room state (kaiwa's
   * actors) restarts on the same storage, so a scenario does not measure the runtime cleaning up the
   * rooms of the scenarios before it. Servers that keep nothing per room need none.
   */
  fresh?(): Promise<void>;
  /**
   * When a run ends with work unfinished: what the server says of these rooms (`rooms`, one line each,
   * in order) and of itself (`general`, e.g. its log's last errors), so a stall can be told apart from a
   * crash or a failed write. Servers with nothing to ask need none.
   */
  describeRooms?(rooms: string[]): Promise<{ rooms: string[]; general: string[] }>;
}
