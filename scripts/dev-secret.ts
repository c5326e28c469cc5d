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

/**
 * The development publish key (KAIWA_PUBLISH_KEYS, PROTOCOL R60): the variable's first key if set, else one
 * generated once and kept in `.kaiwa/dev-publish-key`, so `curl` against `npm run dev` works without set-up.
 */
export function devPublishKey(): string {
  const configured = process.env.KAIWA_PUBLISH_KEYS?.split(",")[0]?.trim();
  if (configured) return configured;
  const file = join(STATE_DIR, "dev-publish-key");
  if (!existsSync(file)) {
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(file, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex") + "\n", { mode: 0o600 });
  }
  return readFileSync(file, "utf8").trim();
}
