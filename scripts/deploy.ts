/**
 * `npm run deploy -- [--env-file .env.production] [--dry-run] [--allow-dev-secret] [--no-archive] [--no-uploads]`:
 * checks every variable, builds the bundle, applies the archive's migrations and runs `partykit deploy`
 * with `--var` for each variable. The steps and their rules are in scripts/deploy/run.ts; this file gives
 * them the real environment, file system, database and partykit CLI.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { listMigrations, migrate } from "../db/migrate.ts";
import { buildBundle } from "./deploy/bundle.ts";
import { runDeploy } from "./deploy/run.ts";

const ROOT = join(import.meta.dirname, "..");
const PARTYKIT = join(ROOT, "node_modules", "partykit", "dist", "bin.mjs");

/** The `.env` partykit's getConfig would load: the nearest one from `from` upward (find-up). */
function findDotEnv(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, ".env");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

const code = await runDeploy(process.argv.slice(2), {
  env: process.env,
  root: ROOT,
  readFile: (path) => readFileSync(path, "utf8"),
  findDotEnv,
  buildBundle,
  listMigrations: () => listMigrations().map((m) => m.version),
  migrate,
  partykit: (args, env) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [PARTYKIT, ...args], { cwd: ROOT, env, stdio: "inherit" });
      child.on("error", (error) => {
        console.error(`deploy: cannot run partykit: ${error.message}`);
        resolve(1);
      });
      child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0)));
    }),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
process.exitCode = code;
