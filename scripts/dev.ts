/**
 * `npm run dev`: the whole system on its embedded defaults, state persisted in `.kaiwa/state`.
 * Runs `partykit dev` offline (no request.cf lookup) with the development token secret.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT, STATE_DIR, devPublishKey, devSecret } from "./dev-secret.ts";
import { startDevArchive } from "../db/dev-archive.ts";

const port = process.env.PORT ?? "1999";
const archive = await startDevArchive(STATE_DIR);
const args = [
  join(PROJECT_ROOT, "node_modules", "partykit", "dist", "bin.mjs"),
  "dev",
  "--port", port,
  "--disable-request-cf-fetch",
  "--no-hotkeys",
  "--persist", join(STATE_DIR, "state"),
  "--var", `KAIWA_JWT_SECRET=${devSecret()}`,
  "--var", `KAIWA_PUBLISH_KEYS=${devPublishKey()}`, // the publish API's key (README "Publish API"): .kaiwa/dev-publish-key
  ...Object.entries(archive.vars).flatMap(([key, value]) => ["--var", `${key}=${value}`]),
];
console.log(`kaiwa: starting on http://127.0.0.1:${port} (state in .kaiwa/state; ${archive.describe}); mint a token with: npm run token -- alice`);
const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => void archive.stop().finally(() => process.exit(code ?? 0)));
