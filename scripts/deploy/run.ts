/**
 * `npm run deploy` as a function of its arguments and its effects, so the unit tests can run every path
 * (scripts/deploy.ts passes the real ones). In order, each step only if the one before passed:
 * 1. read the variables: `KAIWA_*` from the environment and every line of `--env-file`;
 * 2. check them (scripts/deploy/checks.ts): the run-time rules of party/config.ts and the deploy-only ones;
 * 3. build the bundle partykit would upload (scripts/deploy/bundle.ts);
 * 4. apply the archive's migrations (db/migrate.ts) to KAIWA_DATABASE_URL, unless --no-archive;
 * 5. run `partykit deploy --var NAME=value` for each variable.
 * `--dry-run` stops after 3, naming what 4 and 5 would do: no upload, no database connection.
 * Exit codes: 0 done, 2 refused (arguments or configuration: nothing touched), 1 a step failed.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ArchiveConfig } from "../../party/config.ts";
import type { BundleReport } from "./bundle.ts";
import { checkDeploy, collectVars, formatProblems, shownValue } from "./checks.ts";
import { EnvFileError, parseEnvFile } from "./env-file.ts";

export type DeployDeps = {
  /** The process environment (KAIWA_* are deployed; INIT_CWD resolves a relative --env-file as npm's caller typed it). */
  env: Record<string, string | undefined>;
  /** The project root (where partykit.json is). */
  root: string;
  readFile(path: string): string;
  /** A `.env` that `partykit deploy` would read from `root` (it looks upward, like find-up), if any. */
  findDotEnv(root: string): string | undefined;
  buildBundle(root: string): Promise<BundleReport>;
  /** Versions of db/migrations, in order. */
  listMigrations(): string[];
  /** Applies pending migrations; resolves the versions it applied. */
  migrate(config: ArchiveConfig): Promise<string[]>;
  /** Runs partykit's CLI with `args` and `env`; resolves its exit code. */
  partykit(args: string[], env: Record<string, string | undefined>): Promise<number>;
  out(line: string): void;
  err(line: string): void;
};

export const USAGE = `usage: npm run deploy -- [--env-file FILE] [--dry-run] [--allow-dev-secret] [--no-archive] [--no-uploads] [--preview NAME] [--name NAME] [--domain DOMAIN]

Deploys kaiwa with \`partykit deploy\`, passing every KAIWA_* variable (from the environment and FILE) as --var,
after checking them and applying the archive's migrations to KAIWA_DATABASE_URL.
  --env-file FILE      read variables from FILE (NAME=value lines); KAIWA_* are deployed, other names
                       (PARTYKIT_LOGIN, PARTYKIT_TOKEN, CLOUDFLARE_*) go to partykit's environment only
  --dry-run            check everything and build the bundle; upload nothing, connect to no database
  --allow-dev-secret   allow KAIWA_JWT_SECRET without KAIWA_JWKS_URL (tokens signed with one shared secret)
  --no-archive         deploy without KAIWA_DATABASE_URL (no archive, no search, no migrations)
  --no-uploads         deploy without KAIWA_S3_* object storage (no files in messages)
  --preview, --name, --domain   passed to partykit deploy`;

export async function runDeploy(argv: string[], deps: DeployDeps): Promise<number> {
  const { out, err } = deps;
  let values: { "dry-run"?: boolean; "env-file"?: string; "allow-dev-secret"?: boolean; "no-archive"?: boolean; "no-uploads"?: boolean; preview?: string; name?: string; domain?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        "dry-run": { type: "boolean" },
        "env-file": { type: "string" },
        "allow-dev-secret": { type: "boolean" },
        "no-archive": { type: "boolean" },
        "no-uploads": { type: "boolean" },
        preview: { type: "string" },
        name: { type: "string" },
        domain: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    err(`deploy: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const dryRun = values["dry-run"] ?? false;
  const flags = { allowDevSecret: values["allow-dev-secret"] ?? false, noArchive: values["no-archive"] ?? false, noUploads: values["no-uploads"] ?? false };

  // 1. The variables.
  let file: { name: string; entries: ReturnType<typeof parseEnvFile> } | undefined;
  if (values["env-file"] !== undefined) {
    const name = values["env-file"];
    let text: string;
    try {
      text = deps.readFile(resolve(deps.env.INIT_CWD ?? deps.root, name));
    } catch (error) {
      err(`deploy: --env-file ${name}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return 2;
    }
    try {
      file = { name, entries: parseEnvFile(text, name) };
    } catch (error) {
      if (!(error instanceof EnvFileError)) throw error;
      err(`deploy: ${error.message}`);
      return 2;
    }
  }
  const collected = collectVars(deps.env, file);
  const names = Object.keys(collected.vars);
  out(`deploy: ${dryRun ? "dry run: " : ""}${names.length} variable${names.length === 1 ? "" : "s"} to deploy${names.length ? ":" : ""}`);
  for (const name of names) out(`  ${name}=${shownValue(name, collected.vars[name]!)} (${collected.sources[name]})`);
  const toolNames = Object.keys(collected.toolEnv);
  if (toolNames.length) out(`deploy: for partykit's own environment, not deployed: ${toolNames.join(", ")}`);

  // 2. The checks.
  const check = checkDeploy(collected.vars, flags, deps.findDotEnv(deps.root));
  const problems = [...collected.problems, ...check.problems];
  for (const w of check.warnings) err(`deploy: warning: ${w.variable}: ${w.problem}`);
  if (problems.length > 0 || !check.config) {
    err(formatProblems(problems));
    return 2;
  }
  out("deploy: configuration valid (party/config.ts's rules, as every actor applies them at start, and the deploy-only ones)");

  // 3. The bundle.
  let bundle: BundleReport;
  try {
    bundle = await deps.buildBundle(deps.root);
  } catch (error) {
    err(`deploy: ${(error as Error).message}`);
    return 1;
  }
  out(
    `deploy: bundle built: ${bundle.main} + parties ${bundle.parties.join(", ")}: ${bundle.bytes.toLocaleString("en-US")} bytes (${bundle.gzipBytes.toLocaleString("en-US")} gzipped), ` +
      `${bundle.inputs} source files, packages ${bundle.packages.join(", ") || "none"}; Node built-ins imported: ${bundle.builtins.length ? bundle.builtins.join(", ") : "none"}`,
  );
  if (bundle.assets) out(`deploy: static assets built: ${bundle.assets.entry} (${bundle.assets.bytes.toLocaleString("en-US")} bytes; nothing written)`);

  // 4. The archive's migrations.
  const db = check.config.archive.db;
  const migrations = deps.listMigrations();
  if (!db) out("deploy: archive: off (--no-archive): no migrations");
  else if (dryRun) out(`deploy: archive: would apply those of ${migrations.length} migrations not yet applied (${migrations.join(", ")}); dry run: no database touched`);
  else {
    try {
      const applied = await deps.migrate(db);
      out(`deploy: archive: ${applied.length ? `applied ${applied.join(", ")}` : `up to date (${migrations.length} migrations)`}`);
    } catch (error) {
      err(`deploy: archive: migrations failed, nothing deployed: ${(error as Error).message}`);
      return 1;
    }
  }

  // 5. partykit deploy.
  const passThrough = (["preview", "name", "domain"] as const).flatMap((key) => (values[key] !== undefined ? [`--${key}`, values[key]!] : []));
  const args = ["deploy", ...passThrough, ...names.flatMap((name) => ["--var", `${name}=${collected.vars[name]}`])];
  const shown = ["deploy", ...passThrough, ...names.flatMap((name) => ["--var", `${name}=${shownValue(name, collected.vars[name]!)}`])];
  if (dryRun) {
    out(`deploy: would run: partykit ${shown.join(" ")}`);
    out("deploy: dry run passed: nothing uploaded, no database touched");
    return 0;
  }
  out(`deploy: running: partykit ${shown.join(" ")}`);
  const code = await deps.partykit(args, { ...deps.env, ...collected.toolEnv });
  if (code !== 0) {
    err(`deploy: partykit deploy failed (exit ${code})${db ? "; the migrations above stay applied (they are additive, the running version works with them)" : ""}`);
    return 1;
  }
  out("deploy: deployed");
  return 0;
}
