/**
 * The development HS256 secret: `KAIWA_JWT_SECRET` if set, else one generated once and kept in
 * `.kaiwa/dev-secret` (git-ignored), so `npm run dev` and `npm run token` agree without set-up.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const STATE_DIR = join(PROJECT_ROOT, ".kaiwa");

export function devSecret(): string {
  if (process.env.KAIWA_JWT_SECRET) return process.env.KAIWA_JWT_SECRET;
  const file = join(STATE_DIR, "dev-secret");
  if (!existsSync(file)) {
    mkdirSync(STATE_DIR, { recursive: true });
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    writeFileSync(file, Buffer.from(bytes).toString("base64url") + "\n", { mode: 0o600 });
  }
  return readFileSync(file, "utf8").trim();
}
