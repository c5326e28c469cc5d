/**
 * Token verification (PROTOCOL I7). Runs in the worker (onBeforeConnect / onBeforeRequest) so a bad token never
 * wakes a room. Identity reaches the room only through the `x-kaiwa-identity` header this module sets
 * after verification; any copy of that header a client sent is overwritten or removed.
 *
 * Keys: `KAIWA_JWKS_URL` (production: the identity provider's key set, RS256/ES256/EdDSA) or
 * `KAIWA_JWT_SECRET` (development: HS256). With neither, every token is refused (fail closed). Both are
 * validated by party/config.ts; an invalid one refuses every token with `internal`, naming the variable.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { TokenClaims, type ErrorCode, type Identity } from "../protocol/index.ts";
import { ConfigError, readAuthConfig } from "../config.ts";
import { BOT_PREFIX, isBotId } from "../protocol/publish-schema.ts";

export const IDENTITY_HEADER = "x-kaiwa-identity";

/** `expiresAt`: the token's `exp`, in ms since the epoch (a socket opened with it is told when it passes, PROTOCOL R19). */
export type AuthResult = { ok: true; identity: Identity; expiresAt: number } | { ok: false; code: ErrorCode; message: string };

const jwksCache = new Map<string, JWTVerifyGetKey>();
/** HS256 keys imported once per secret: jose would otherwise import the raw secret on every verification. */
const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    key.catch(() => hmacKeys.delete(secret)); // a failed import is tried again next time, not remembered
    hmacKeys.set(secret, key);
  }
  return key;
}

export async function verifyToken(token: string | null | undefined, env: Record<string, unknown>): Promise<AuthResult> {
  let keys: { jwksUrl: string | undefined; jwtSecret: string | undefined };
  try {
    keys = readAuthConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, code: "internal", message: error.message };
    throw error;
  }
  if (!token) return { ok: false, code: "unauthorized", message: "No token: pass ?token=<JWT> or Authorization: Bearer <JWT>." };
  const { jwksUrl, jwtSecret: secret } = keys;
  try {
    const options = { requiredClaims: ["exp", "sub"], clockTolerance: 5 };
    let payload: unknown;
    if (jwksUrl) {
      let keySet = jwksCache.get(jwksUrl);
      if (!keySet) jwksCache.set(jwksUrl, (keySet = createRemoteJWKSet(new URL(jwksUrl))));
      ({ payload } = await jwtVerify(token, keySet, options));
    } else if (secret) {
      ({ payload } = await jwtVerify(token, await hmacKey(secret), { ...options, algorithms: ["HS256"] }));
    } else {
      return { ok: false, code: "unauthorized", message: "The server has no token key configured." };
    }
    const claims = TokenClaims.safeParse(payload);
    if (!claims.success) return { ok: false, code: "unauthorized", message: "The token's claims are not valid (sub, name, role)." };
    const { sub, name, role } = claims.data;
    // Bot ids belong to the publish API (PROTOCOL R61): a user holding one could pass for a bot.
    if (isBotId(sub)) return { ok: false, code: "unauthorized", message: `User ids starting with "${BOT_PREFIX}" are reserved for bots.` };
    const exp = (payload as { exp: number }).exp; // required by jwtVerify's options above
    return { ok: true, identity: { id: sub, name: name ?? sub, ...(role ? { role } : {}) }, expiresAt: exp * 1000 };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, code: "token_expired", message: "The token has expired." };
    return { ok: false, code: "unauthorized", message: "The token could not be verified." };
  }
}

/** Reads the identity the worker stamped. A request without it did not pass verification. */
export function identityFrom(request: Request): Identity | undefined {
  const raw = request.headers.get(IDENTITY_HEADER);
  if (!raw) return undefined;
  try {
    const parsed = TokenClaims.safeParse(JSON.parse(raw));
    if (!parsed.success) return undefined;
    const { sub, name, role } = parsed.data;
    return { id: sub, name: name ?? sub, ...(role ? { role } : {}) };
  } catch {
    return undefined;
  }
}

/** A copy of `request` carrying the verified identity (and its token's expiry), and only that one. */
export function withIdentity(request: Request, identity: Identity, expiresAt?: number): Request {
  const stamped = new Request(request);
  const claims = { sub: identity.id, name: identity.name, ...(identity.role ? { role: identity.role } : {}), ...(expiresAt !== undefined ? { exp: expiresAt } : {}) };
  stamped.headers.set(IDENTITY_HEADER, JSON.stringify(claims));
  return stamped;
}

/** When the token the worker verified for this request expires (ms), if it said. */
export function tokenExpiresAt(request: Request): number | undefined {
  try {
    const exp = (JSON.parse(request.headers.get(IDENTITY_HEADER) ?? "null") as { exp?: unknown } | null)?.exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

export function tokenFromRequest(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header?.toLowerCase().startsWith("bearer ")) return header.slice(7).trim();
  return new URL(request.url).searchParams.get("token");
}
