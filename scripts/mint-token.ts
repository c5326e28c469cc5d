/** Mints an HS256 development token with the claims kaiwa reads (PROTOCOL I7): sub, name, role, exp. */
import { SignJWT } from "jose";

export type MintOptions = { name?: string; role?: "operator"; expiresIn?: string | number; secret: string };

export function mintToken(userId: string, options: MintOptions): Promise<string> {
  const claims: Record<string, string> = {};
  if (options.name) claims.name = options.name;
  if (options.role) claims.role = options.role;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "24h")
    .sign(new TextEncoder().encode(options.secret));
}
