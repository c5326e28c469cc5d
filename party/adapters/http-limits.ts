/**
 * What an HTTP request may cost before anything reads it (PROTOCOL §7): the worker checks the URL, the
 * headers and the declared body size of every request, and reads a body only up to a bound, before any
 * actor is touched. `partykit dev`'s runtime takes 100 KB URLs, 100 KB of headers, 300 headers and 20 MB
 * bodies (measured), so these limits are the application's own. Refusals are typed (PROTOCOL I8): 414, 431
 * `bad_frame` and 413 `frame_too_large`, never a 500.
 *
 * It also tells a WebSocket handshake from a request that only carries `Upgrade: websocket` (a POST with
 * it, or a GET without the handshake's keys). partykit routes by that header alone, to the socket path,
 * where the runtime refused to upgrade a POST with an uncaught error and an untyped 500 (measured): such a
 * request is refused with a typed 400 before it reaches an actor.
 */
import { LIMITS } from "../protocol/index.ts";
import { discardBody, discardReader, errorResponse } from "./http.ts";

/** A refusal for a URL, headers or a declared body over the limits, or undefined. */
export function oversized(request: Request, maxBodyBytes: number = LIMITS.maxRequestBodyBytes): Response | undefined {
  // A URL is ASCII (anything else is percent-encoded): its length is its size in bytes.
  if (request.url.length > LIMITS.maxUrlBytes) return errorResponse("bad_frame", `URLs are at most ${LIMITS.maxUrlBytes} bytes, query string included.`, 414);
  let count = 0;
  let bytes = 0;
  request.headers.forEach((value, name) => {
    count++;
    bytes += name.length + value.length + 4; // "name: value\r\n"
  });
  if (count > LIMITS.maxHeaderCount || bytes > LIMITS.maxHeaderBytes) {
    return errorResponse("bad_frame", `Requests carry at most ${LIMITS.maxHeaderCount} headers and ${LIMITS.maxHeaderBytes} bytes of them.`, 431);
  }
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBodyBytes) return tooLarge(maxBodyBytes);
  return undefined;
}

export function tooLarge(maxBodyBytes: number): Response {
  return errorResponse("frame_too_large", `Request bodies are at most ${maxBodyBytes} bytes.`);
}

/**
 * The body, read up to `maxBytes` (a chunked body declares no length: its size is known only by reading
 * it). Over the limit: undefined; what was read is dropped and the rest discarded (discardBody).
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer> | null | undefined> {
  const reader = request.body?.getReader();
  if (!reader) return null;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      chunks.length = 0;
      await discardReader(reader, LIMITS.maxActorBodyBytes, total);
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/**
 * A copy of `request` whose body was read within `maxBytes`, for forwarding to an actor; or the typed
 * refusal. Bodiless methods forward without one (whatever was sent is read and dropped, within the limit).
 */
export async function boundedRequest(request: Request, maxBytes: number): Promise<Request | Response> {
  const refused = oversized(request, maxBytes);
  if (refused) {
    await discardBody(request);
    return refused;
  }
  if (!request.body) return request;
  let body: Uint8Array<ArrayBuffer> | null | undefined;
  try {
    body = await readBody(request, maxBytes);
  } catch {
    return errorResponse("bad_frame", "The request body could not be read.");
  }
  if (body === undefined) return tooLarge(maxBytes);
  const headers = new Headers(request.headers);
  headers.delete("content-length"); // set again from the buffered body
  headers.delete("transfer-encoding");
  const bodiless = request.method === "GET" || request.method === "HEAD";
  return new Request(request.url, { method: request.method, headers, ...(bodiless ? {} : { body }), redirect: request.redirect });
}

/**
 * Whether a request partykit sends down the socket path (it carries `Upgrade: websocket`) is a WebSocket
 * handshake (RFC 6455 §4.1): a GET with no body, a `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`.
 * The runtime presents a POST that carries the header as a GET with a body (measured), so the body counts.
 */
export function isHandshake(request: Request): boolean {
  const headers = request.headers;
  if (request.method !== "GET") return false;
  if (request.body !== null || (headers.get("content-length") ?? "0") !== "0" || headers.has("transfer-encoding")) return false;
  return !!headers.get("sec-websocket-key") && headers.get("sec-websocket-version") === "13";
}

export const NOT_A_HANDSHAKE =
  "Upgrade: websocket is only for WebSocket handshakes (GET, no body, Sec-WebSocket-Key, Sec-WebSocket-Version: 13); HTTP routes take no Upgrade header.";

/** The typed answer to a request that carries `Upgrade: websocket` without being a handshake. */
export async function refuseFakeUpgrade(request: Request): Promise<Response> {
  await discardBody(request);
  return errorResponse("bad_frame", NOT_A_HANDSHAKE);
}

export function wantsUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}
