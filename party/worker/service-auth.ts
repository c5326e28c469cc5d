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
import { tokenFromRequest, verifyToken, withIdentity } from "./auth.ts";
import { drainBody, errorResponse, refusedSocket } from "../adapters/http.ts";
import { CLOSE, type Identity } from "../protocol/index.ts";
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
export async function gateRequest(request: Request, lobby: { id: string; env: Record<string, unknown> }): Promise<Request | Response> {
  const env = lobby.env;
  const config = checkConfig(env);
  if (!config.ok) {
    await drainBody(request);
    return errorResponse("internal", config.error.message);
  }
  if (isEncodedId(lobby.id)) {
    await drainBody(request);
    return errorResponse("bad_frame", ENCODED_ID_MESSAGE);
  }
  const checked = await stampCaller(request, env);
  if (isActorCall(checked)) return checked;
  const auth = await verifyToken(tokenFromRequest(request), env);
  if (!auth.ok) {
    await drainBody(request);
    return errorResponse(auth.code, auth.message);
  }
  return withIdentity(checked, auth.identity);
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
  const config = checkConfig(lobby.env);
  if (!config.ok) return refusedSocket("internal", config.error.message, CLOSE.internalError);
  if (isEncodedId(lobby.id)) return refusedSocket("bad_frame", ENCODED_ID_MESSAGE, CLOSE.protocolViolation);
  const auth = await verifyToken(tokenFromRequest(request), lobby.env);
  if (!auth.ok) return refusedSocket(auth.code, auth.message, CLOSE.unauthorized);
  const why = forbid?.(auth.identity);
  if (why) return refusedSocket("forbidden", why, CLOSE.forbidden);
  return withIdentity(request, auth.identity, auth.expiresAt);
}
