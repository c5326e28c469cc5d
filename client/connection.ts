import ReconnectingWebSocket from "partysocket/ws";
import { bareHost, isLocalHost } from "./hosts.ts";
import { CLOSE } from "../party/protocol/codes.ts";

/**
 * One connection attempt: one partysocket ReconnectingWebSocket whose own reconnection is switched off
 * (`maxRetries: 0`). It is `partysocket/ws`, the socket PartySocket extends, without PartySocket's URL and
 * room layer (~1.3 KiB gzipped), which this client replaces with the one line in `urlOf`.
 * The room drives retries itself (full-jitter backoff, close-code table, fresh token) and opens a new
 * Connection per attempt. A fresh object per attempt, rather than `reconnect()` on one socket, means
 * a stale socket can never deliver a late event (its listeners are gone) and each attempt gets its own
 * PartyKit connection id, so a half-open predecessor is never confused with its successor.
 */
export type ConnectionOptions = {
  host: string;
  room: string;
  party: string;
  protocol?: "ws" | "wss";
  /** A WebSocket class for runtimes without a global one (Node 20: the `ws` package). */
  WebSocket?: unknown;
  /** Evaluated when the socket's URL is built, i.e. once per attempt. */
  query: () => Promise<Record<string, string>>;
  connectionTimeoutMs?: number;
};

export type ConnectionHandlers = {
  onOpen(): void;
  onMessage(data: unknown): void;
  /** Called at most once per Connection, for a close or a failure to connect; nothing follows it. */
  onClose(code: number, reason: string): void;
};

export class Connection {
  readonly #socket: ReconnectingWebSocket;
  #handlers: ConnectionHandlers | null;

  constructor(options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.#handlers = handlers;
    this.#socket = new ReconnectingWebSocket(() => urlOf(options), undefined, {
      WebSocket: options.WebSocket,
      maxRetries: 0,
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    });
    // Binary frames (awareness, PROTOCOL R72) as ArrayBuffers in every runtime, not Blobs to read asynchronously.
    this.#socket.binaryType = "arraybuffer";
    this.#socket.addEventListener("open", this.#onOpen);
    this.#socket.addEventListener("message", this.#onMessage);
    this.#socket.addEventListener("close", this.#onClose);
    this.#socket.addEventListener("error", this.#onError);
  }

  get isOpen(): boolean {
    return this.#handlers !== null && this.#socket.readyState === ReconnectingWebSocket.OPEN;
  }

  /** Sends only on an open socket; never lets partysocket buffer (a buffered command could go out twice). */
  send(frame: string | Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.#socket.send(frame as string | Uint8Array<ArrayBuffer>); // lib0 builds on plain ArrayBuffers
    return true;
  }

  /** Ends this attempt without calling any handler. */
  close(code: number = CLOSE.normal, reason = "client closed"): void {
    this.#detach();
    this.#socket.close(code, reason);
  }

  #detach(): void {
    this.#handlers = null;
    this.#socket.removeEventListener("open", this.#onOpen);
    this.#socket.removeEventListener("message", this.#onMessage);
    this.#socket.removeEventListener("close", this.#onClose);
    this.#socket.removeEventListener("error", this.#onError);
  }

  #finish(code: number, reason: string): void {
    const handlers = this.#handlers;
    if (!handlers) return;
    this.#detach();
    this.#socket.close();
    handlers.onClose(code, reason);
  }

  #onOpen = (): void => this.#handlers?.onOpen();
  #onMessage = (event: MessageEvent): void => this.#handlers?.onMessage(event.data);
  // partysocket reports a socket error as a synthetic close (1000) followed by the error event; a
  // failure before any socket exists (the query/token getter threw) arrives as an error event alone.
  // Either way it ends this attempt, with a code that isRetryableClose treats as retryable.
  #onClose = (event: { code: number; reason: string }): void => this.#finish(event.code, event.reason);
  #onError = (event: { message?: string }): void => this.#finish(1006, event.message || "connection error");
}

/**
 * `ws(s)://host/parties/<party>/<room>?<query>`, as PartySocket builds it: `ws` for local and private hosts
 * unless told, a scheme or trailing slash on `host` tolerated. PartyKit names each socket from a `_pk`
 * param when there is one, else with a fresh UUID, so this client (a new socket per attempt) sends none.
 */
async function urlOf(options: ConnectionOptions): Promise<string> {
  const host = bareHost(options.host);
  const protocol = options.protocol ?? (isLocalHost(host) ? "ws" : "wss");
  return `${protocol}://${host}/parties/${options.party}/${options.room}?${new URLSearchParams(await options.query())}`;
}
