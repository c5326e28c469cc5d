/**
 * The publish API's credential (PROTOCOL R60): `Authorization: Bearer <key>` with one of KAIWA_PUBLISH_KEYS.
 *
 * Why a key of its own and not the actor token of service-auth.ts: an actor token lets its holder assert
 * any user's identity to any actor (that is what inboxes need), and KAIWA_SERVICE_SECRET may fall back to
 * the user-token secret. An app's backend gets a narrower power: posting bot messages through this API,
 * nothing else. The key never signs anything (config.ts refuses a key equal to a token secret), and no
 * token opens the API: a user token or an actor token in its place is refused with a typed error.
 * Keys are compared through their SHA-256 digests in constant time, so timing says nothing about a key.
 */
import { verifyToken } from "../adapters/auth.ts";
import type { ErrorCode } from "../protocol/index.ts";

export type PublishAuth = { ok: true; key: number } | { ok: false; code: ErrorCode; message: string };

export async function verifyPublishKey(request: Request, keys: readonly string[], env: Record<string, unknown>): Promise<PublishAuth> {
  if (keys.length === 0) return { ok: false, code: "forbidden", message: "The publish API is off on this deployment (set KAIWA_PUBLISH_KEYS)." };
  const header = request.headers.get("authorization") ?? "";
  const presented = header.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : "";
  if (!presented) return { ok: false, code: "unauthorized", message: "The publish API needs Authorization: Bearer <publish key>." };
  const digest = await sha256(presented);
  let match = -1;
  for (const [index, key] of keys.entries()) if (equalDigests(digest, await sha256(key))) match = index; // no early exit
  if (match >= 0) return { ok: true, key: match };
  // A token in place of the key: say so, so the mistake is plain (nothing about any key is revealed).
  if ((await verifyToken(presented, env)).ok) {
    return { ok: false, code: "forbidden", message: "A user token cannot publish: the publish API takes a publish key (KAIWA_PUBLISH_KEYS)." };
  }
  return { ok: false, code: "unauthorized", message: "The publish key is not valid." };
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function equalDigests(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i] ?? 0);
  return diff === 0;
}
