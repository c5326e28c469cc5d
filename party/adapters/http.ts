/** JSON responses and typed HTTP errors: the same shape (`{code, message, retryable}`) as error frames. */
import { errorFrame, LIMITS, type ErrorCode } from "../protocol/index.ts";

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  not_member: 403,
  banned: 403,
  muted: 403,
  already_deleted: 409,
  clientid_reused: 409,
  rate_limited: 429,
  slow_mode: 429,
  not_found: 404,
  bad_frame: 400,
  frame_too_large: 413,
  storage_failed: 503,
  archive_unavailable: 503,
  internal: 500,
};

/** `status` overrides the code's usual status (a `bad_frame` for a too-long URL is 414, for too many headers 431). */
export function errorResponse(code: ErrorCode, message?: string, status?: number): Response {
  const { type: _type, ...body } = errorFrame(code, message ? { message } : {});
  return json({ error: body }, status ?? STATUS_OF[code] ?? 400);
}

/**
 * Refuse a WebSocket in a way a browser can see. A refused upgrade (HTTP 401) reaches browser code as a
 * bare close 1006, indistinguishable from a network drop, so clients would retry forever. Instead the
 * socket is accepted, gets one typed error frame and a non-retryable 4xxx close (codes.ts).
 */
export function refusedSocket(code: ErrorCode, message: string, closeCode: number): Response {
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  server.send(JSON.stringify(errorFrame(code, { message })));
  server.close(closeCode, code);
  return new Response(null, { status: 101, webSocket: client });
}

/**
 * Reads a request's body to its end before it is answered. workerd resets a keep-alive connection when a
 * response goes out while the request body is still unread ("can't read more data after a previous read
 * didn't complete"), which failed the client's next request on that connection (measured: ECONNRESET).
 * A clone is drained, so the handler can still read the original (bodies that reach an actor passed the
 * worker's limits, PROTOCOL §7).
 */
export async function drainBody(request: Request): Promise<void> {
  if (request.body && !request.bodyUsed) await discard(request.clone().body, LIMITS.maxActorBodyBytes);
}

/**
 * A refused request's body, read and thrown away chunk by chunk (never held), so the sender, still
 * writing, can read the typed answer (answering first resets the connection: measured, ECONNRESET on the
 * client's write). Only up to `maxBytes` (PROTOCOL §7): past that the rest is left unread and the
 * connection is reset, which is the sender's problem; a refusal never costs the memory of a body.
 */
export async function discardBody(request: Request, maxBytes: number = LIMITS.maxActorBodyBytes): Promise<void> {
  if (request.body && !request.bodyUsed) await discard(request.body, maxBytes);
}

/** Reads `reader` to its end, dropping every chunk, up to `maxBytes` (then it is cancelled). */
export async function discardReader(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number, alreadyRead = 0): Promise<void> {
  let read = alreadyRead;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > maxBytes) return void (await reader.cancel().catch(() => undefined));
    }
  } catch {
    // a body that fails to arrive has nothing left to drain
  }
}

async function discard(body: ReadableStream<Uint8Array> | null | undefined, maxBytes: number): Promise<void> {
  const reader = body?.getReader();
  if (reader) await discardReader(reader, maxBytes);
}
