/**
 * `npm run dev`: the whole system on its embedded defaults, state persisted in `.kaiwa/state`, the archive
 * in `.kaiwa/pglite` and files in the embedded S3 server's `.kaiwa/s3` (or the KAIWA_S3_* storage you set).
 * Runs `partykit dev` offline (no request.cf lookup) with the development token secret.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT, STATE_DIR, devPublishKey, devSecret } from "./dev-secret.ts";
import { startDevArchive } from "../db/dev-archive.ts";
import { S3_VARIABLES } from "../party/config.ts";
import { startEmbeddedS3 } from "./embedded-s3.ts";

const port = process.env.PORT ?? "1999";
const archive = await startDevArchive(STATE_DIR);
// Files: your own S3-compatible storage when KAIWA_S3_* are set, else the embedded server.
const externalS3 = S3_VARIABLES.every((name) => process.env[name]);
const s3 = externalS3 ? undefined : await startEmbeddedS3(join(STATE_DIR, "s3"));
const s3Vars: Record<string, string> = s3 ? s3.vars : Object.fromEntries([...S3_VARIABLES, "KAIWA_S3_REGION"].flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])));
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
  ...Object.entries(s3Vars).flatMap(([key, value]) => ["--var", `${key}=${value}`]),
];
console.log(`kaiwa: starting on http://127.0.0.1:${port} (state in .kaiwa/state; ${archive.describe}; files: ${s3 ? `embedded S3 at ${s3.endpoint}, in .kaiwa/s3` : "KAIWA_S3_ENDPOINT"}); mint a token with: npm run token -- alice`);
const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => void Promise.all([archive.stop(), s3?.stop()]).finally(() => process.exit(code ?? 0)));
