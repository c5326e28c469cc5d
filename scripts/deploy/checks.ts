/**
 * What `npm run deploy` checks before it touches anything: which variables it deploys, where each came
 * from, and every reason to refuse, each naming the variable to fix.
 *
 * The rules are the run-time ones plus a few that only make sense for production:
 * - `assertDeployableEnv` (party/config.ts): no test-only variable (`KAIWA_TEST_*`) is ever deployed;
 * - `parseConfig` (party/config.ts): every value valid, cross-variable rules (KAIWA_SERVICE_SECRET with
 *   KAIWA_JWKS_URL, push URL and secret together, ...), no unknown `KAIWA_*` name, with the same messages
 *   an actor would log at start;
 * - deploy only: users' tokens are verified by an identity provider's JWKS (KAIWA_JWT_SECRET alone, the
 *   development setup, only with --allow-dev-secret); an archive database (unless --no-archive); no local
 *   database bridge (KAIWA_DB_WS_PROXY); no `.env` where partykit would compile it into the bundle;
 *   object storage for files (KAIWA_S3_*, e.g. Cloudflare's) unless --no-uploads, never on this machine's loopback.
 * Pure: the caller reads the environment, the file and the file system.
 */
import { S3_VARIABLES, assertDeployableEnv, ConfigError, parseConfig, type ConfigProblem, type KaiwaConfig } from "../../party/config.ts";
import type { EnvFileEntry } from "./env-file.ts";

export type { ConfigProblem };

export type DeployFlags = {
  /** Deploy with KAIWA_JWT_SECRET and no KAIWA_JWKS_URL (tokens signed with one shared secret). */
  allowDevSecret: boolean;
  /** Deploy without the archive (no KAIWA_DATABASE_URL, no migrations). */
  noArchive: boolean;
  /** Deploy without object storage: no files in messages (no KAIWA_S3_*). */
  noUploads?: boolean;
};

export type CollectedVars = {
  /** The `KAIWA_*` variables to deploy, each passed as `--var NAME=value`. */
  vars: Record<string, string>;
  /** Where each deployed variable came from: "environment" or the env file's name. */
  sources: Record<string, string>;
  /** Other names from the env file (PARTYKIT_LOGIN, PARTYKIT_TOKEN, CLOUDFLARE_*): partykit's own environment, never deployed. */
  toolEnv: Record<string, string>;
  problems: ConfigProblem[];
};

/** `KAIWA_*` names from the environment and every name from the env file; a name in both with different values is refused. */
export function collectVars(env: Record<string, string | undefined>, file?: { name: string; entries: Map<string, EnvFileEntry> }): CollectedVars {
  const vars: Record<string, string> = {};
  const sources: Record<string, string> = {};
  const toolEnv: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("KAIWA_") || value === undefined) continue;
    vars[name] = value;
    sources[name] = "environment";
  }
  for (const [name, { value }] of file?.entries ?? []) {
    const inEnv = env[name];
    if (inEnv !== undefined && inEnv !== value) {
      problems.push({ variable: name, problem: `set in the environment and in ${file!.name} with different values: unset one` });
      continue;
    }
    if (name.startsWith("KAIWA_")) {
      vars[name] = value;
      sources[name] = inEnv !== undefined ? `environment and ${file!.name}` : file!.name;
    } else toolEnv[name] = value;
  }
  return { vars: sortKeys(vars), sources, toolEnv, problems };
}

export type DeployCheck = {
  problems: ConfigProblem[];
  /** Not refused, but worth reading before production. */
  warnings: ConfigProblem[];
  /** The configuration the actors will load, when there is no problem. */
  config: KaiwaConfig | undefined;
};

/** The messages of the deploy-only rules, word for word (tests/unit/deploy.test.ts holds them to it). */
export const MESSAGES = {
  noTokenKey:
    "required: your identity provider's JWKS URL, which verifies users' tokens (e.g. https://your-tenant.example.com/.well-known/jwks.json); KAIWA_JWT_SECRET instead only with --allow-dev-secret",
  devSecretOnly:
    "required in production: KAIWA_JWT_SECRET alone means every token is signed with one shared secret (the development setup); set KAIWA_JWKS_URL, or pass --allow-dev-secret to deploy with the secret anyway",
  noDatabase:
    "required: the archive's Postgres URL (a Neon connection string, postgresql://USER:PASSWORD@HOST.neon.tech/DB?sslmode=require); or pass --no-archive to deploy without the archive (no search, and rooms never prune their history)",
  databaseWithNoArchive: "set, but --no-archive was given: remove one of the two",
  wsProxy: "a local development bridge (plain ws://, no TLS to Postgres): never deploy it",
  dotEnv: (path: string) =>
    `${path} exists: partykit deploy compiles every value in it into the uploaded bundle (as process.env); move it out of the project (name it .env.production and pass --env-file .env.production)`,
  publicOrigin:
    "unset: alarms call back through the first origin an actor saw; set it to the deployment's own URL (e.g. https://kaiwa.YOUR-USER.partykit.dev)",
  hibernateOff:
    "off: every actor holding a socket is billed for 128 MB for as long as it is connected (about $4 a month per connected user: docs/CAPACITY.md); KAIWA_HIBERNATE=1 bills only the time actors work (at some cost to a hot room's msgs/s: party/room/server.ts)",
  noStorage:
    "required: S3-compatible object storage for files in messages (Cloudflare: create a bucket and an API token, then set KAIWA_S3_ENDPOINT=https://<account>.r2.cloudflarestorage.com, KAIWA_S3_BUCKET, KAIWA_S3_ACCESS_KEY_ID, KAIWA_S3_SECRET_ACCESS_KEY); or pass --no-uploads to deploy without files",
  storageWithNoUploads: "set, but --no-uploads was given: remove one of the two",
  localStorage: "a local development server (the embedded S3 of npm run dev): never deploy it",
  notNeon:
    "the host is not a Neon host (*.neon.tech): the archive's driver speaks Neon's WebSocket protocol, so another Postgres needs a Neon-compatible WebSocket proxy in front of it",
} as const;

/** Every reason to refuse `vars` for production, and the warnings; `dotEnvPath`: a `.env` partykit would read. */
export function checkDeploy(vars: Record<string, string>, flags: DeployFlags, dotEnvPath?: string): DeployCheck {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const add = (variable: string, problem: string) => {
    if (!problems.some((p) => p.variable === variable && p.problem === problem)) problems.push({ variable, problem });
  };

  // Test-only variables first: nothing else about them matters.
  const testOnly = new Set<string>();
  try {
    assertDeployableEnv(vars);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      testOnly.add(p.variable);
      add(p.variable, p.problem);
    }
  }

  // The run-time rules, on what would run (test-only variables already refused, so left out here).
  const runtime = Object.fromEntries(Object.entries(vars).filter(([name]) => !testOnly.has(name)));
  const parsed = parseConfig(runtime);
  if (!parsed.ok) for (const p of parsed.error.problems) add(p.variable, p.problem);

  // Deploy-only rules.
  const set = (name: string) => vars[name] !== undefined;
  if (!set("KAIWA_JWKS_URL") && !set("KAIWA_JWT_SECRET")) add("KAIWA_JWKS_URL", MESSAGES.noTokenKey);
  else if (!set("KAIWA_JWKS_URL") && !flags.allowDevSecret) add("KAIWA_JWKS_URL", MESSAGES.devSecretOnly);
  if (flags.noArchive && set("KAIWA_DATABASE_URL")) add("KAIWA_DATABASE_URL", MESSAGES.databaseWithNoArchive);
  if (!flags.noArchive && !set("KAIWA_DATABASE_URL")) add("KAIWA_DATABASE_URL", MESSAGES.noDatabase);
  if (set("KAIWA_DB_WS_PROXY")) add("KAIWA_DB_WS_PROXY", MESSAGES.wsProxy);
  if (flags.noUploads && set("KAIWA_S3_ENDPOINT")) add("KAIWA_S3_ENDPOINT", MESSAGES.storageWithNoUploads);
  if (!flags.noUploads) for (const name of S3_VARIABLES) if (!set(name)) add(name, MESSAGES.noStorage);
  if (/^https?:\/\/(127\.|localhost|\[::1\])/i.test(vars.KAIWA_S3_ENDPOINT ?? "")) add("KAIWA_S3_ENDPOINT", MESSAGES.localStorage);
  if (dotEnvPath) add(".env", MESSAGES.dotEnv(dotEnvPath));

  if (!set("KAIWA_PUBLIC_ORIGIN")) warnings.push({ variable: "KAIWA_PUBLIC_ORIGIN", problem: MESSAGES.publicOrigin });
  if (vars.KAIWA_HIBERNATE !== "1") warnings.push({ variable: "KAIWA_HIBERNATE", problem: MESSAGES.hibernateOff });
  const host = databaseHost(vars.KAIWA_DATABASE_URL);
  if (host !== undefined && !/(^|\.)neon\.tech$/i.test(host)) warnings.push({ variable: "KAIWA_DATABASE_URL", problem: MESSAGES.notNeon });

  return { problems, warnings, config: problems.length === 0 && parsed.ok ? parsed.config : undefined };
}

/** How problems are shown to the user: one `  NAME: problem` line each, after a header. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  const header = `deploy: refusing to deploy (${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was uploaded and no database was touched):`;
  return [header, ...problems.map((p) => `  ${p.variable}: ${p.problem}`)].join("\n");
}

/** Variables whose values are credentials: shown as `<set, N characters>`, never as text. */
export function isSecretVariable(name: string): boolean {
  return /SECRET|TOKEN|PASSWORD|KEY/.test(name) || name === "KAIWA_DATABASE_URL" || name === "KAIWA_PUSH_URL";
}

/** A value as it may be printed. */
export function shownValue(name: string, value: string): string {
  return isSecretVariable(name) ? `<set, ${value.length} characters>` : value;
}

function databaseHost(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined; // parseConfig already named it
  }
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
