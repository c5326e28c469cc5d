/**
 * Actor-to-actor calls (room → inbox notifications, inbox → room commands, inbox → inbox presence).
 *
 * Normally they go through `room.context.parties.<party>.get(id).fetch()`, which reaches the target
 * actor directly and never passes the worker; the caller marks them with CALLER_HEADER. Requests from
 * outside always pass the worker, whose onBeforeRequest deletes that header unless the request carries a
 * valid service token, so a client can never pose as an actor.
 *
 * Why a service token at all: inside `onAlarm`, partykit 0.0.115 refuses `context.parties` (and after a
 * restart an actor woken only by its alarm never gets them), so an alarm-driven retry must go the long
 * way, through the public URL and the worker, and prove it is an actor. It is a short-lived HS256 JWT keyed
 * by KAIWA_SERVICE_SECRET (or KAIWA_JWT_SECRET in development).
 *
 * The gates below are also where a bad configuration fails fast: before anything else they check the
 * whole configuration (party/config.ts), so the first request from outside already gets a typed
 * `internal` error naming the variable (HTTP 500; sockets: an error frame and close 1011).
 */
import { jwtVerify, SignJWT } from "jose";
import { IDENTITY_HEADER, tokenFromRequest, verifyToken, withIdentity } from "./auth.ts";
import { discardBody, errorResponse, refusedSocket } from "./http.ts";
import { CLOSE, LIMITS, type Identity } from "../protocol/index.ts";
import { boundedRequest, isHandshake, oversized, refuseFakeUpgrade } from "./http-limits.ts";
import { checkConfig, readAuthConfig } from "../config.ts";

export const CALLER_HEADER = "x-kaiwa-caller";
export const SERVICE_TOKEN_HEADER = "x-kaiwa-service-token";
const AUDIENCE = "kaiwa-service";

/** KAIWA_SERVICE_SECRET, else KAIWA_JWT_SECRET (party/config.ts); undefined when neither is set or valid. */
function serviceKey(env: Record<string, unknown>): Uint8Array | undefined {
  let secret: string | undefined;
  try {
    secret = readAuthConfig(env).serviceSecret;
  } catch {
    secret = undefined; // named by the gates and the actors' loadConfig; here it only means "no key"
  }
  return secret ? new TextEncoder().encode(secret) : undefined;
}

export async function signServiceToken(env: Record<string, unknown>): Promise<string> {
  const key = serviceKey(env);
  if (!key) throw new Error("No KAIWA_SERVICE_SECRET (or KAIWA_JWT_SECRET) to sign actor-to-actor calls with");
  return new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("kaiwa-actor").setAudience(AUDIENCE).setExpirationTime("2m").sign(key);
}

async function isServiceToken(token: string | null, env: Record<string, unknown>): Promise<boolean> {
  const key = serviceKey(env);
  if (!token || !key) return false;
  try {
    await jwtVerify(token, key, { audience: AUDIENCE, algorithms: ["HS256"], requiredClaims: ["exp"] });
    return true;
  } catch {
    return false;
  }
}

/**
 * Worker side: a copy of `request` with CALLER_HEADER set to "actor" only if it carried a valid service
 * token, and removed otherwise.
 */
export async function stampCaller(request: Request, env: Record<string, unknown>): Promise<Request> {
  const stamped = new Request(request);
  const token = request.headers.get(SERVICE_TOKEN_HEADER);
  stamped.headers.delete(SERVICE_TOKEN_HEADER);
  if (await isServiceToken(token, env)) stamped.headers.set(CALLER_HEADER, "actor");
  else stamped.headers.delete(CALLER_HEADER);
  return stamped;
}

export function isActorCall(request: Request): boolean {
  return request.headers.get(CALLER_HEADER) === "actor";
}

export type PartyFetch = (path: string, init: RequestInit) => Promise<Response>;

/**
 * Calls another actor: directly when the runtime allows (`direct` throws inside onAlarm or before the
 * actor has seen a request), else through `origin` with a service token.
 */
export async function callActor(
  direct: () => PartyFetch,
  fallback: { origin: string | undefined; party: string; id: string; env: Record<string, unknown> },
  path: string,
  init: RequestInit & { headers: Record<string, string> },
): Promise<Response> {
  let fetcher: PartyFetch | undefined;
  try {
    fetcher = direct();
  } catch {
    fetcher = undefined;
  }
  const headers = { ...init.headers, [CALLER_HEADER]: "actor" };
  if (fetcher) return fetcher(path, { ...init, headers });
  if (!fallback.origin) throw new Error("no origin recorded yet for an actor call from an alarm");
  // Ids go as written: the worker refuses percent-encoded ids (see isEncodedId).
  const url = `${fallback.origin}/parties/${fallback.party}/${fallback.id}${path}`;
  return fetch(url, { ...init, headers: { ...headers, [SERVICE_TOKEN_HEADER]: await signServiceToken(fallback.env) } });
}

/**
 * The worker's gate for HTTP requests to rooms and inboxes (a valid configuration first, else a typed 500
 * naming the variable): an actor with a valid service token keeps the
 * identity it asserts (it acts for a user it has already verified); anyone else needs a valid user token,
 * whose identity replaces whatever identity header came along (PROTOCOL I7).
 */
export async function gateRequest(
  request: Request,
  lobby: { id: string; env: Record<string, unknown> },
  /** Requests the party answers without a token (a room's log reads, PROTOCOL R40): passed on with no identity. */
  anonymous?: (request: Request) => boolean,
): Promise<Request | Response> {
  const env = lobby.env;
  const config = checkConfig(env);
  if (!config.ok) {
    await discardBody(request);
    return errorResponse("internal", config.error.message);
  }
  // URL, headers and a declared body over the limits (PROTOCOL §7), before anything else is read. An
  // actor's call may declare more than a user's, so only the larger bound is checked before the token.
  const refused = oversized(request, LIMITS.maxActorBodyBytes);
  if (refused) {
    await discardBody(request);
    return refused;
  }
  if (isEncodedId(lobby.id)) {
    await discardBody(request);
    return errorResponse("bad_frame", ENCODED_ID_MESSAGE);
  }
  const checked = await stampCaller(request, env);
  // Bodies are read here, within the caller's bound, so no actor ever reads an unbounded one.
  if (isActorCall(checked)) return boundedRequest(checked, LIMITS.maxActorBodyBytes);
  if (anonymous?.(request) && tokenFromRequest(request) === null) {
    checked.headers.delete(IDENTITY_HEADER); // no identity but a verified one ever reaches an actor (PROTOCOL I7)
    return boundedRequest(checked, LIMITS.maxRequestBodyBytes);
  }
  const auth = await verifyToken(tokenFromRequest(request), env);
  if (!auth.ok) {
    await discardBody(checked); // the copy took the body over
    const refused = errorResponse(auth.code, auth.message);
    if (anonymous?.(request)) refused.headers.set("cache-control", "no-store"); // a log read's refusal is never cached (PROTOCOL R42)
    return refused;
  }
  const bounded = await boundedRequest(checked, LIMITS.maxRequestBodyBytes);
  return bounded instanceof Response ? bounded : withIdentity(bounded, auth.identity);
}

/**
 * PartyKit routes by the raw path, so `dm:a:b` and `dm%3Aa%3Ab` would be two actors holding two logs of
 * one conversation. Ids are used exactly as written (partysocket and `context.parties` never encode them);
 * an encoded id is refused before any actor exists for it.
 */
export const ENCODED_ID_MESSAGE = "Room and user ids are used as written, never percent-encoded (dm:a:b, not dm%3Aa%3Ab).";
export function isEncodedId(id: string): boolean {
  return id.includes("%");
}

/**
 * The worker's gate for WebSocket upgrades to rooms and inboxes: a valid configuration (else close 1011
 * with the typed `internal` frame naming the variable), canonical ids only, a valid user token
 * (refusals are an accepted socket with one typed error frame and a 4xxx close), then the party's own
 * rule (`forbid` returns why this user may not open this actor), and the verified identity stamped (PROTOCOL I7).
 */
export async function gateSocket(
  request: Request,
  lobby: { id: string; env: Record<string, unknown> },
  forbid?: (who: Identity) => string | undefined,
): Promise<Request | Response> {
  // partykit sends every request with `Upgrade: websocket` here; one that is no handshake (a POST to an
  // HTTP route with that header) cannot be given a socket: a typed 400 instead of the runtime's 500.
  if (!isHandshake(request)) return refuseFakeUpgrade(request);
  const config = checkConfig(lobby.env);
  if (!config.ok) return refusedSocket("internal", config.error.message, CLOSE.internalError);
  // A handshake's URL (the token may travel in it) and headers are bounded like any request's (PROTOCOL §7).
  const refused = oversized(request);
  if (refused) return refusedSocket("bad_frame", describeRefusal(refused.status), CLOSE.protocolViolation);
  if (isEncodedId(lobby.id)) return refusedSocket("bad_frame", ENCODED_ID_MESSAGE, CLOSE.protocolViolation);
  // A relay shard in a process of its own subscribes over the network (PROTOCOL R55): a valid service token
  // makes the socket an actor's, as `context.parties` does in-process; a wrong one is refused outright.
  if (request.headers.has(SERVICE_TOKEN_HEADER)) {
    const stamped = await stampCaller(request, lobby.env);
    if (!isActorCall(stamped)) return refusedSocket("unauthorized", "The service credential is not valid.", CLOSE.unauthorized);
    return stamped;
  }
  const auth = await verifyToken(tokenFromRequest(request), lobby.env);
  if (!auth.ok) return refusedSocket(auth.code, auth.message, CLOSE.unauthorized);
  const why = forbid?.(auth.identity);
  if (why) return refusedSocket("forbidden", why, CLOSE.forbidden);
  const stamped = withIdentity(request, auth.identity, auth.expiresAt);
  // Only a socket an actor opens through `context.parties` (which never passes here) is an actor's: a
  // client's copy of the header would make it a relay (PROTOCOL R52).
  stamped.headers.delete(CALLER_HEADER);
  return stamped;
}

/** The refusal's words for a socket (its error frame), from the status `oversized` chose. */
function describeRefusal(status: number): string {
  return status === 414
    ? `Connect URLs are at most ${LIMITS.maxUrlBytes} bytes, query string included.`
    : `Handshakes carry at most ${LIMITS.maxHeaderCount} headers and ${LIMITS.maxHeaderBytes} bytes of them.`;
}
