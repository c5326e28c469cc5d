import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { IDENTITY_HEADER, identityFrom, verifyToken, withIdentity } from "../../party/adapters/auth.ts";
import { mintToken } from "../../scripts/mint-token.ts";

const secret = "unit-secret";

test("HS256: a valid token yields identity from its claims only", async () => {
  const token = await mintToken("alice", { secret, name: "Alice", role: "operator", expiresIn: "1h" });
  const result = await verifyToken(token, { KAIWA_JWT_SECRET: secret });
  assert.ok(result.ok);
  assert.deepEqual(result.identity, { id: "alice", name: "Alice", role: "operator" });
  // PROTOCOL R19: the token's exp travels with the identity, in ms.
  assert.ok(Math.abs(result.expiresAt - (Date.now() + 3_600_000)) < 5_000, `expiresAt ${result.expiresAt}`);
});

test("missing, forged, expired, exp-less and badly-claimed tokens are refused with typed codes", async () => {
  const env = { KAIWA_JWT_SECRET: secret };
  assert.equal((await verifyToken(undefined, env)) .ok, false);
  const forged = await mintToken("alice", { secret: "other" });
  assert.deepEqual(await verifyToken(forged, env), { ok: false, code: "unauthorized", message: "The token could not be verified." });
  const expired = await mintToken("alice", { secret, expiresIn: Math.floor(Date.now() / 1000) - 60 });
  assert.equal((await verifyToken(expired, env) as { code: string }).code, "token_expired");
  const noExp = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").sign(new TextEncoder().encode(secret));
  assert.equal((await verifyToken(noExp, env)).ok, false, "exp is required");
  const badSub = await mintToken("alice bob", { secret });
  assert.equal((await verifyToken(badSub, env) as { code: string }).code, "unauthorized");
  const badRole = await new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("a").setExpirationTime("1h").sign(new TextEncoder().encode(secret));
  assert.equal((await verifyToken(badRole, env)).ok, false);
  assert.equal((await verifyToken(await mintToken("a", { secret }), {})).ok, false, "no key configured: fail closed");
});

let jwksServer: Server;
let jwksUrl = "";
const keys = await generateKeyPair("RS256");
before(async () => {
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  jwksServer = createServer((_, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  const address = jwksServer.address();
  jwksUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/jwks.json`;
});
after(() => jwksServer.close());

test("JWKS: production keys from the identity provider's key set", async () => {
  const token = await new SignJWT({ name: "Bob" }).setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("bob").setExpirationTime("1h").sign(keys.privateKey);
  const verified = await verifyToken(token, { KAIWA_JWKS_URL: jwksUrl });
  assert.ok(verified.ok);
  assert.deepEqual(verified.identity, { id: "bob", name: "Bob" });
  const hs = await mintToken("bob", { secret });
  assert.equal((await verifyToken(hs, { KAIWA_JWKS_URL: jwksUrl, KAIWA_JWT_SECRET: secret })).ok, false, "with a JWKS, HS256 tokens are not accepted");
});

test("the identity header is the only channel, and a client's copy is overwritten", () => {
  const forged = new Request("http://x/parties/room/r", { headers: { [IDENTITY_HEADER]: JSON.stringify({ sub: "root", role: "operator" }) } });
  const stamped = withIdentity(forged, { id: "alice", name: "Alice" });
  assert.deepEqual(identityFrom(stamped), { id: "alice", name: "Alice" });
  assert.equal(identityFrom(new Request("http://x", { headers: { [IDENTITY_HEADER]: "{not json" } })), undefined);
});
