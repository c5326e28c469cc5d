/**
 * `npm run deploy` (scripts/deploy.ts, scripts/deploy/*): the env file's format, where variables come
 * from, every reason to refuse (word for word what the user reads), the order of the steps with fake
 * effects (the dry run touches no database and uploads nothing; migrations run before partykit), and the
 * real CLI end to end in a dry run, passing and refusing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BundleError, buildBundle, type BundleReport } from "../../scripts/deploy/bundle.ts";
import { MESSAGES, checkDeploy, collectVars, formatProblems, type DeployFlags } from "../../scripts/deploy/checks.ts";
import { EnvFileError, parseEnvFile } from "../../scripts/deploy/env-file.ts";
import { runDeploy, type DeployDeps } from "../../scripts/deploy/run.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const FLAGS: DeployFlags = { allowDevSecret: false, noArchive: false };
const DB = "postgresql://kaiwa:s3cret-pw@ep-cool-name-123456.eu-central-1.aws.neon.tech/kaiwa?sslmode=require";
/** A complete production configuration. */
const PRODUCTION = {
  KAIWA_JWKS_URL: "https://idp.example.com/.well-known/jwks.json",
  KAIWA_SERVICE_SECRET: "service-secret-0123456789abcdef",
  KAIWA_DATABASE_URL: DB,
  KAIWA_PUBLIC_ORIGIN: "https://kaiwa.example.partykit.dev",
  KAIWA_HIBERNATE: "1",
  KAIWA_S3_ENDPOINT: "https://0123456789abcdef.r2.cloudflarestorage.com",
  KAIWA_S3_BUCKET: "kaiwa-files",
  KAIWA_S3_ACCESS_KEY_ID: "access-key-id-0123",
  KAIWA_S3_SECRET_ACCESS_KEY: "secret-access-key-0123456789",
};

/** `NAME: problem` lines of a refused configuration. */
function problems(vars: Record<string, string>, flags: Partial<DeployFlags> = {}, dotEnv?: string): string[] {
  const check = checkDeploy(vars, { ...FLAGS, ...flags }, dotEnv);
  assert.equal(check.config, undefined, "refused configurations have no config");
  return check.problems.map((p) => `${p.variable}: ${p.problem}`);
}

describe("env file", () => {
  it("reads NAME=value lines: comments, export, bare, single- and double-quoted values", () => {
    const text = [
      "\uFEFF# production",
      "",
      "KAIWA_JWKS_URL=https://idp.example.com/jwks.json   # the IdP",
      "export KAIWA_SERVICE_SECRET='a#b c\\n'",
      'KAIWA_PUSH_SECRET="x\\ny \\"q\\" \\\\"',
      "  KAIWA_EMPTY=  ",
      "PARTYKIT_LOGIN=me\r",
    ].join("\n");
    const entries = parseEnvFile(text, ".env.production");
    assert.deepEqual(
      Object.fromEntries([...entries].map(([k, v]) => [k, v.value])),
      { KAIWA_JWKS_URL: "https://idp.example.com/jwks.json", KAIWA_SERVICE_SECRET: "a#b c\\n", KAIWA_PUSH_SECRET: 'x\ny "q" \\', KAIWA_EMPTY: "", PARTYKIT_LOGIN: "me" },
    );
    assert.equal(entries.get("KAIWA_SERVICE_SECRET")!.line, 4);
  });

  it("refuses what it cannot read for sure, naming file and line, never the value", () => {
    assert.throws(() => parseEnvFile("=1", "prod.env"), EnvFileError);
    assert.throws(() => parseEnvFile("OK=1\nnot a line with s3cret", "prod.env"), { message: "prod.env:2: expected NAME=value (the value is not shown)" });
    assert.throws(() => parseEnvFile("A=1\n\nA=2", "prod.env"), { message: "prod.env:3: A is set twice (lines 1 and 3); keep one" });
    assert.throws(() => parseEnvFile("A='open", "prod.env"), { message: "prod.env:1: the value's single quote is not closed" });
    assert.throws(() => parseEnvFile('A="x" y', "prod.env"), { message: "prod.env:1: unexpected text after the quoted value" });
  });
});

describe("where variables come from", () => {
  it("KAIWA_* from the environment and the file; other file names only for partykit's environment", () => {
    const file = { name: ".env.production", entries: parseEnvFile("KAIWA_DATABASE_URL=postgres://h/db\nPARTYKIT_TOKEN=t\nKAIWA_JWKS_URL=https://a/j", ".env.production") };
    const collected = collectVars({ KAIWA_JWKS_URL: "https://a/j", PATH: "/bin", HOME: "/root", KAIWA_HIBERNATE: "1" }, file);
    assert.deepEqual(collected.vars, { KAIWA_DATABASE_URL: "postgres://h/db", KAIWA_HIBERNATE: "1", KAIWA_JWKS_URL: "https://a/j" });
    assert.deepEqual(collected.sources, { KAIWA_DATABASE_URL: ".env.production", KAIWA_HIBERNATE: "environment", KAIWA_JWKS_URL: "environment and .env.production" });
    assert.deepEqual(collected.toolEnv, { PARTYKIT_TOKEN: "t" });
    assert.deepEqual(collected.problems, []);
  });

  it("a name set in both with different values is refused: which one was meant is not for the script to guess", () => {
    const file = { name: ".env.production", entries: parseEnvFile("KAIWA_JWT_SECRET=prod", ".env.production") };
    assert.deepEqual(collectVars({ KAIWA_JWT_SECRET: "dev" }, file).problems, [
      { variable: "KAIWA_JWT_SECRET", problem: "set in the environment and in .env.production with different values: unset one" },
    ]);
  });
});

describe("what is refused, word for word", () => {
  it("a complete production configuration passes, with the configuration the actors will load", () => {
    const check = checkDeploy(PRODUCTION, FLAGS);
    assert.deepEqual(check.problems, []);
    assert.deepEqual(check.warnings, []);
    assert.equal(check.config!.auth.jwksUrl, PRODUCTION.KAIWA_JWKS_URL);
    assert.equal(check.config!.archive.db!.url, DB);
  });

  it("a missing KAIWA_DATABASE_URL", () => {
    const { KAIWA_DATABASE_URL: _, ...rest } = PRODUCTION;
    assert.deepEqual(problems(rest), [
      "KAIWA_DATABASE_URL: required: the archive's Postgres URL (a Neon connection string, postgresql://USER:PASSWORD@HOST.neon.tech/DB?sslmode=require); or pass --no-archive to deploy without the archive (no search, and rooms never prune their history)",
    ]);
    assert.deepEqual(checkDeploy(rest, { ...FLAGS, noArchive: true }).problems, [], "--no-archive deploys without it");
  });

  it("object storage for files (PROTOCOL R30): all of KAIWA_S3_* unless --no-uploads, never a local server", () => {
    const { KAIWA_S3_ENDPOINT: _e, KAIWA_S3_BUCKET: _b, KAIWA_S3_ACCESS_KEY_ID: _k, KAIWA_S3_SECRET_ACCESS_KEY: _s, ...none } = PRODUCTION;
    assert.deepEqual(problems(none), ["KAIWA_S3_ENDPOINT", "KAIWA_S3_BUCKET", "KAIWA_S3_ACCESS_KEY_ID", "KAIWA_S3_SECRET_ACCESS_KEY"].map((name) => `${name}: ${MESSAGES.noStorage}`));
    assert.deepEqual(checkDeploy(none, { ...FLAGS, noUploads: true }).problems, [], "--no-uploads deploys without it");
    assert.deepEqual(problems(PRODUCTION, { noUploads: true }), [`KAIWA_S3_ENDPOINT: ${MESSAGES.storageWithNoUploads}`]);
    const { KAIWA_S3_BUCKET: _only, ...half } = PRODUCTION;
    assert.ok(problems(half).some((p) => p.startsWith("KAIWA_S3_BUCKET: required with KAIWA_S3_ENDPOINT")), "the run-time rule: all or none");
    assert.deepEqual(problems({ ...PRODUCTION, KAIWA_S3_ENDPOINT: "http://127.0.0.1:4568" }), [`KAIWA_S3_ENDPOINT: ${MESSAGES.localStorage}`]);
  });

  it("--no-archive next to a database URL", () => {
    assert.deepEqual(problems(PRODUCTION, { noArchive: true }), ["KAIWA_DATABASE_URL: set, but --no-archive was given: remove one of the two"]);
  });

  it("no way to verify tokens at all", () => {
    const { KAIWA_JWKS_URL: _, KAIWA_SERVICE_SECRET: __, ...rest } = PRODUCTION;
    assert.deepEqual(problems(rest), [
      "KAIWA_JWKS_URL: required: your identity provider's JWKS URL, which verifies users' tokens (e.g. https://your-tenant.example.com/.well-known/jwks.json); KAIWA_JWT_SECRET instead only with --allow-dev-secret",
    ]);
    assert.deepEqual(problems(rest, { allowDevSecret: true }), [`KAIWA_JWKS_URL: ${MESSAGES.noTokenKey}`], "the flag does not make a secret appear");
  });

  it("the development secret alone: refused unless --allow-dev-secret", () => {
    const { KAIWA_JWKS_URL: _, KAIWA_SERVICE_SECRET: __, ...rest } = PRODUCTION;
    const dev = { ...rest, KAIWA_JWT_SECRET: "one-shared-secret" };
    assert.deepEqual(problems(dev), [
      "KAIWA_JWKS_URL: required in production: KAIWA_JWT_SECRET alone means every token is signed with one shared secret (the development setup); set KAIWA_JWKS_URL, or pass --allow-dev-secret to deploy with the secret anyway",
    ]);
    const allowed = checkDeploy(dev, { ...FLAGS, allowDevSecret: true });
    assert.deepEqual(allowed.problems, []);
    assert.equal(allowed.config!.auth.serviceSecret, "one-shared-secret", "the secret also signs actor-to-actor calls, as at run time");
  });

  it("a JWKS URL without a service secret: the run-time rule, in the run-time words", () => {
    const { KAIWA_SERVICE_SECRET: _, ...rest } = PRODUCTION;
    assert.deepEqual(problems(rest), ["KAIWA_SERVICE_SECRET: required with KAIWA_JWKS_URL: actor-to-actor calls made from alarms are signed with it"]);
  });

  it("test-only variables, with or without test mode, each named once", () => {
    assert.deepEqual(problems({ ...PRODUCTION, KAIWA_TEST_WRITE_DELAY_MS: "50" }), [
      "KAIWA_TEST_WRITE_DELAY_MS: test-only: never deploy it (remove it from the deploy's --var list)",
    ]);
    assert.deepEqual(problems({ ...PRODUCTION, KAIWA_TEST_MODE: "1", KAIWA_TEST_FAIL_WRITE_AT: "3" }), [
      "KAIWA_TEST_FAIL_WRITE_AT: test-only: never deploy it (remove it from the deploy's --var list)",
      "KAIWA_TEST_MODE: test-only: never deploy it (remove it from the deploy's --var list)",
    ]);
  });

  it("values and names the actors would refuse, with their messages; secrets never shown", () => {
    const lines = problems({ ...PRODUCTION, KAIWA_FLUSH_WINDOW_MS: "abc", KAIWA_RETENTON_EVENTS: "5", KAIWA_DATABASE_URL: "mysql://root:hunter2@db/kaiwa" });
    assert.deepEqual(lines, [
      'KAIWA_FLUSH_WINDOW_MS: expected a whole number >= 0, got "abc"',
      'KAIWA_DATABASE_URL: expected a postgres:// or postgresql:// URL, got a "mysql:" URL (value not shown)',
      "KAIWA_RETENTON_EVENTS: not a variable kaiwa reads (did you mean KAIWA_RETENTION_EVENTS?)",
    ]);
    assert.ok(!lines.join("\n").includes("hunter2"));
  });

  it("the local database bridge, and a .env partykit would compile into the bundle", () => {
    assert.deepEqual(problems({ ...PRODUCTION, KAIWA_DB_WS_PROXY: "127.0.0.1:5433" }), [
      "KAIWA_DB_WS_PROXY: a local development bridge (plain ws://, no TLS to Postgres): never deploy it",
    ]);
    assert.deepEqual(problems(PRODUCTION, {}, "/srv/kaiwa/.env"), [
      ".env: /srv/kaiwa/.env exists: partykit deploy compiles every value in it into the uploaded bundle (as process.env); move it out of the project (name it .env.production and pass --env-file .env.production)",
    ]);
  });

  it("warnings: no public origin, hibernation off, a database that is not Neon", () => {
    const { KAIWA_PUBLIC_ORIGIN: _, KAIWA_HIBERNATE: __, ...rest } = PRODUCTION;
    const check = checkDeploy({ ...rest, KAIWA_DATABASE_URL: "postgres://u:p@db.internal:5432/kaiwa" }, FLAGS);
    assert.deepEqual(check.problems, []);
    assert.deepEqual(
      check.warnings.map((w) => w.variable),
      ["KAIWA_PUBLIC_ORIGIN", "KAIWA_HIBERNATE", "KAIWA_DATABASE_URL"],
    );
  });

  it("how problems are shown", () => {
    assert.equal(
      formatProblems([{ variable: "KAIWA_DATABASE_URL", problem: "required: x" }]),
      "deploy: refusing to deploy (1 problem; nothing was uploaded and no database was touched):\n  KAIWA_DATABASE_URL: required: x",
    );
  });
});

// ---- The steps, with fake effects.

type Calls = { bundle: number; migrate: string[]; partykit: Array<{ args: string[]; env: Record<string, string | undefined> }>; out: string[]; err: string[]; order: string[] };

function fakeDeps(env: Record<string, string | undefined>, options: { files?: Record<string, string>; migrate?: () => Promise<string[]>; partykitExit?: number; dotEnv?: string } = {}): { deps: DeployDeps; calls: Calls } {
  const calls: Calls = { bundle: 0, migrate: [], partykit: [], out: [], err: [], order: [] };
  const report: BundleReport = { main: "party/worker/main.ts", parties: ["room"], bytes: 1000, gzipBytes: 300, inputs: 3, packages: ["zod"], builtins: [] };
  const deps: DeployDeps = {
    env,
    root: "/project",
    readFile: (path) => {
      const text = options.files?.[path];
      if (text === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      return text;
    },
    findDotEnv: () => options.dotEnv,
    buildBundle: async () => {
      calls.bundle++;
      calls.order.push("bundle");
      return report;
    },
    listMigrations: () => ["001_archive", "002_search_query_functions"],
    migrate: async (config) => {
      calls.migrate.push(config.url);
      calls.order.push("migrate");
      return options.migrate ? options.migrate() : ["002_search_query_functions"];
    },
    partykit: async (args, childEnv) => {
      calls.partykit.push({ args, env: childEnv });
      calls.order.push("partykit");
      return options.partykitExit ?? 0;
    },
    out: (line) => void calls.out.push(line),
    err: (line) => void calls.err.push(line),
  };
  return { deps, calls };
}

describe("the steps", () => {
  it("--dry-run checks and builds, and neither connects to the database nor runs partykit", async () => {
    const { deps, calls } = fakeDeps({ ...PRODUCTION, PATH: "/bin" });
    assert.equal(await runDeploy(["--dry-run"], deps), 0);
    assert.deepEqual(calls.order, ["bundle"]);
    assert.equal(calls.out.at(-1), "deploy: dry run passed: nothing uploaded, no database touched");
    const all = [...calls.out, ...calls.err].join("\n");
    assert.ok(!all.includes("s3cret-pw") && !all.includes(PRODUCTION.KAIWA_SERVICE_SECRET), "no secret printed");
    assert.ok(all.includes(`KAIWA_DATABASE_URL=<set, ${DB.length} characters>`), all);
  });

  it("a missing variable: exit 2, the message on stderr, and nothing built, migrated or uploaded", async () => {
    const { KAIWA_DATABASE_URL: _, ...rest } = PRODUCTION;
    for (const argv of [["--dry-run"], []]) {
      const { deps, calls } = fakeDeps(rest);
      assert.equal(await runDeploy(argv, deps), 2);
      assert.deepEqual(calls.order, []);
      assert.deepEqual(calls.err, [
        "deploy: refusing to deploy (1 problem; nothing was uploaded and no database was touched):\n" +
          "  KAIWA_DATABASE_URL: required: the archive's Postgres URL (a Neon connection string, postgresql://USER:PASSWORD@HOST.neon.tech/DB?sslmode=require); or pass --no-archive to deploy without the archive (no search, and rooms never prune their history)",
      ]);
    }
  });

  it("a deploy migrates first, then runs partykit deploy with --var for each variable and the file's tool variables", async () => {
    const file = "KAIWA_HIBERNATE=1\nPARTYKIT_LOGIN=me\nPARTYKIT_TOKEN=tok";
    const { deps, calls } = fakeDeps({ ...PRODUCTION, INIT_CWD: "/home/me/kaiwa" }, { files: { "/home/me/kaiwa/.env.production": file } });
    assert.equal(await runDeploy(["--env-file", ".env.production", "--preview", "pr-7"], deps), 0);
    assert.deepEqual(calls.order, ["bundle", "migrate", "partykit"]);
    assert.deepEqual(calls.migrate, [DB]);
    assert.deepEqual(calls.partykit[0]!.args, [
      "deploy",
      "--preview",
      "pr-7",
      "--var",
      `KAIWA_DATABASE_URL=${DB}`,
      "--var",
      "KAIWA_HIBERNATE=1",
      "--var",
      `KAIWA_JWKS_URL=${PRODUCTION.KAIWA_JWKS_URL}`,
      "--var",
      `KAIWA_PUBLIC_ORIGIN=${PRODUCTION.KAIWA_PUBLIC_ORIGIN}`,
      "--var",
      `KAIWA_S3_ACCESS_KEY_ID=${PRODUCTION.KAIWA_S3_ACCESS_KEY_ID}`,
      "--var",
      `KAIWA_S3_BUCKET=${PRODUCTION.KAIWA_S3_BUCKET}`,
      "--var",
      `KAIWA_S3_ENDPOINT=${PRODUCTION.KAIWA_S3_ENDPOINT}`,
      "--var",
      `KAIWA_S3_SECRET_ACCESS_KEY=${PRODUCTION.KAIWA_S3_SECRET_ACCESS_KEY}`,
      "--var",
      `KAIWA_SERVICE_SECRET=${PRODUCTION.KAIWA_SERVICE_SECRET}`,
    ]);
    assert.equal(calls.partykit[0]!.env.PARTYKIT_TOKEN, "tok");
    assert.ok(calls.out.includes("deploy: archive: applied 002_search_query_functions"));
    assert.equal(calls.out.at(-1), "deploy: deployed");
  });

  it("failed migrations stop the deploy before partykit", async () => {
    const { deps, calls } = fakeDeps(PRODUCTION, { migrate: () => Promise.reject(new Error("connection refused")) });
    assert.equal(await runDeploy([], deps), 1);
    assert.deepEqual(calls.order, ["bundle", "migrate"]);
    assert.deepEqual(calls.err, ["deploy: archive: migrations failed, nothing deployed: connection refused"]);
  });

  it("--no-archive: no migrations; a failed partykit deploy is exit 1", async () => {
    const { KAIWA_DATABASE_URL: _, ...rest } = PRODUCTION;
    const { deps, calls } = fakeDeps(rest, { partykitExit: 3 });
    assert.equal(await runDeploy(["--no-archive"], deps), 1);
    assert.deepEqual(calls.order, ["bundle", "partykit"]);
    assert.deepEqual(calls.err, ["deploy: partykit deploy failed (exit 3)"]);
  });

  it("bad arguments and an unreadable env file: exit 2 with the reason", async () => {
    let { deps, calls } = fakeDeps(PRODUCTION);
    assert.equal(await runDeploy(["--dryrun"], deps), 2);
    assert.match(calls.err[0]!, /^deploy: Unknown option '--dryrun'/);
    ({ deps, calls } = fakeDeps(PRODUCTION));
    assert.equal(await runDeploy(["--env-file", "missing.env"], deps), 2);
    assert.deepEqual(calls.err, ["deploy: --env-file missing.env: cannot read it (ENOENT)"]);
  });
});

// ---- The real CLI and the real build.

/** Runs `npm run deploy` the way CI does (node + tsx), with only `env` as its KAIWA_* variables. */
function cli(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KAIWA_") && k !== "INIT_CWD"));
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "deploy.ts"), ...args], { cwd: ROOT, env: { ...clean, ...env }, encoding: "utf8", timeout: 120_000 });
}

describe("the CLI", () => {
  it("a dry run with a production environment passes and builds the real bundle", () => {
    const run = cli(["--dry-run"], PRODUCTION);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /deploy: bundle built: party\/worker\/main\.ts \+ parties room, inbox, directory, relay: [\d,]+ bytes/);
    assert.match(run.stdout, /Node built-ins imported: none/);
    assert.match(run.stdout, /deploy: dry run passed: nothing uploaded, no database touched\n$/);
    assert.ok(!run.stdout.includes("s3cret-pw"));
  });

  it("a dry run without KAIWA_DATABASE_URL fails with the message", () => {
    const { KAIWA_DATABASE_URL: _, ...rest } = PRODUCTION;
    const run = cli(["--dry-run"], rest);
    assert.equal(run.status, 2);
    assert.ok(run.stderr.includes(`  KAIWA_DATABASE_URL: ${MESSAGES.noDatabase}\n`), run.stderr);
    assert.ok(!run.stdout.includes("bundle built"));
  });
});

describe("the bundle", () => {
  it("a party that does not compile fails the build with esbuild's message, naming the file", async () => {
    const root = mkdtempSync(join(tmpdir(), "kaiwa-deploy-"));
    try {
      symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
      mkdirSync(join(root, "party"));
      writeFileSync(join(root, "partykit.json"), JSON.stringify({ name: "x", main: "party/main.ts", parties: { room: "party/room.ts" } }));
      writeFileSync(join(root, "party", "main.ts"), "export default { onFetch() { return new Response('ok'); } };\n");
      writeFileSync(join(root, "party", "room.ts"), "import { gone } from './missing.ts';\nexport default class Room { x = gone; }\n");
      await assert.rejects(buildBundle(root), (error: Error) => error instanceof BundleError && /Could not resolve "\.\/missing\.ts"/.test(error.message) && /party\/room\.ts/.test(error.message));
      writeFileSync(join(root, "party", "room.ts"), "export const notDefault = 1;\n");
      await assert.rejects(buildBundle(root), /No matching export in "[^"]*party\/room\.ts" for import "default"/);
      writeFileSync(join(root, "party", "room.ts"), "export default class Room {}\n");
      const report = await buildBundle(root);
      assert.deepEqual([report.main, report.parties, report.builtins], ["party/main.ts", ["room"], []]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
