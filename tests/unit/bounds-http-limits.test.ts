/**
 * The worker's HTTP bounds (PROTOCOL §7) on plain Requests: URL, headers, declared and actual body size,
 * the typed statuses, and telling a WebSocket handshake from a request that only carries `Upgrade`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LIMITS } from "../../party/protocol/index.ts";
import { boundedRequest, isHandshake, oversized, readBody } from "../../party/adapters/http-limits.ts";
import { discardBody, errorResponse } from "../../party/adapters/http.ts";

const BASE = "http://127.0.0.1:1999/parties/room/r1/history";

async function typed(response: Response | undefined, status: number, code: string) {
  assert.ok(response, `expected a ${status} refusal`);
  assert.equal(response.status, status);
  const body = (await response.json()) as { error: { code: string; message: string; retryable: boolean } };
  assert.equal(body.error.code, code);
  assert.equal(body.error.retryable, false);
  assert.equal(typeof body.error.message, "string");
}

/** A body that arrives in chunks and declares no length (`Transfer-Encoding: chunked`). */
function chunked(total: number, chunk = 8192): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(chunk, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size).fill(97));
    },
  });
}

test("PROTOCOL §7: a URL over maxUrlBytes is 414 bad_frame; at the limit it passes", async () => {
  const at = BASE + "?x=" + "a".repeat(LIMITS.maxUrlBytes - BASE.length - 3);
  assert.equal(at.length, LIMITS.maxUrlBytes);
  assert.equal(oversized(new Request(at)), undefined);
  await typed(oversized(new Request(at + "a")), 414, "bad_frame");
});

test("PROTOCOL §7: headers over maxHeaderBytes or maxHeaderCount are 431 bad_frame", async () => {
  assert.equal(oversized(new Request(BASE, { headers: { "x-ok": "a".repeat(LIMITS.maxHeaderBytes - 100) } })), undefined);
  await typed(oversized(new Request(BASE, { headers: { "x-big": "a".repeat(LIMITS.maxHeaderBytes) } })), 431, "bad_frame");
  const many: Record<string, string> = {};
  for (let i = 0; i < LIMITS.maxHeaderCount; i++) many[`x-h${i}`] = "v";
  assert.equal(oversized(new Request(BASE, { headers: many })), undefined);
  many["x-one-more"] = "v";
  await typed(oversized(new Request(BASE, { headers: many })), 431, "bad_frame");
});

test("PROTOCOL §7: a declared body over the bound is 413 frame_too_large before anything is read", async () => {
  const request = new Request(BASE, { method: "POST", headers: { "content-length": String(LIMITS.maxRequestBodyBytes + 1) } });
  await typed(oversized(request), 413, "frame_too_large");
  assert.equal(oversized(request, LIMITS.maxActorBodyBytes), undefined, "an actor's bound is larger");
});

test("PROTOCOL §7: a chunked body is read only up to the bound", async () => {
  const within = new Request(BASE, { method: "POST", body: chunked(LIMITS.maxRequestBodyBytes), duplex: "half" } as RequestInit);
  assert.equal((await readBody(within, LIMITS.maxRequestBodyBytes))?.byteLength, LIMITS.maxRequestBodyBytes);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(8192));
    },
  });
  const over = new Request(BASE, { method: "POST", body: endless, duplex: "half" } as RequestInit);
  assert.equal(await readBody(over, LIMITS.maxRequestBodyBytes), undefined);
  // Past the bound nothing is kept; the rest is discarded (so the sender can read the answer) up to maxActorBodyBytes.
  assert.ok(pulled <= LIMITS.maxActorBodyBytes / 8192 + 2, `read ${pulled} chunks of an endless body`);
});

test("PROTOCOL §7: boundedRequest forwards a body within the bound, refuses one over it (413), drops a GET's", async () => {
  const body = JSON.stringify({ items: [] });
  const ok = await boundedRequest(new Request(BASE, { method: "POST", body, headers: { "content-type": "application/json" } }), LIMITS.maxRequestBodyBytes);
  assert.ok(ok instanceof Request);
  assert.equal(ok.method, "POST");
  assert.equal(ok.headers.get("content-type"), "application/json");
  assert.equal(await ok.text(), body);
  const big = await boundedRequest(new Request(BASE, { method: "POST", body: chunked(LIMITS.maxRequestBodyBytes + 1), duplex: "half" } as RequestInit), LIMITS.maxRequestBodyBytes);
  await typed(big as Response, 413, "frame_too_large");
  const bare = await boundedRequest(new Request(BASE), LIMITS.maxRequestBodyBytes);
  assert.ok(bare instanceof Request && bare.body === null);
});

test("discardBody reads a refused body without holding it, and stops at its bound", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(4096));
    },
  });
  await discardBody(new Request(BASE, { method: "POST", body: endless, duplex: "half" } as RequestInit), 64 * 1024);
  assert.ok(pulled <= 64 / 4 + 2, `pulled ${pulled} chunks`);
});

test("errorResponse keeps the code's status unless told otherwise", async () => {
  assert.equal(errorResponse("bad_frame").status, 400);
  assert.equal(errorResponse("frame_too_large").status, 413);
  assert.equal(errorResponse("bad_frame", "long", 414).status, 414);
});

test("PROTOCOL §7: only a real handshake counts as one (GET, no body, key and version 13)", () => {
  const handshake = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
  assert.equal(isHandshake(new Request(BASE, { headers: handshake })), true);
  // The runtime shows a POST carrying the header as a GET with its body (measured in partykit dev).
  assert.equal(isHandshake(new Request(BASE, { method: "POST", headers: handshake, body: "{}" })), false);
  assert.equal(isHandshake(new Request(BASE, { headers: { ...handshake, "transfer-encoding": "chunked" } })), false);
  assert.equal(isHandshake(new Request(BASE, { headers: { ...handshake, "content-length": "2" } })), false);
  const { "sec-websocket-key": _key, ...keyless } = handshake;
  assert.equal(isHandshake(new Request(BASE, { headers: keyless })), false);
  assert.equal(isHandshake(new Request(BASE, { headers: { ...handshake, "sec-websocket-version": "8" } })), false);
});
