/** JSON responses and typed HTTP errors: the same shape (`{code, message, retryable}`) as error frames. */
import { errorFrame, type ErrorCode } from "../protocol/index.ts";

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
  not_found: 404,
  bad_frame: 400,
  frame_too_large: 413,
  storage_failed: 503,
  archive_unavailable: 503,
  internal: 500,
};

export function errorResponse(code: ErrorCode, message?: string): Response {
  const { type: _type, ...body } = errorFrame(code, message ? { message } : {});
  return json({ error: body }, STATUS_OF[code] ?? 400);
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
 * A clone is drained, so the handler can still read the original.
 */
export async function drainBody(request: Request): Promise<void> {
  if (request.body && !request.bodyUsed) await request.clone().arrayBuffer().catch(() => undefined);
}
