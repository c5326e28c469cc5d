/**
 * The one configuration loader (party/config.ts) and the test switches (party/test-switches.ts), on plain
 * objects: defaults, each variable's validation, messages that name the variable, memo, test mode, deploy check.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ARCHIVE_DEFAULTS,
  ConfigError,
  DIRECTORY_DEFAULTS,
  ROOM_DEFAULTS,
  TEST_SWITCHES_OFF,
  assertDeployableEnv,
  checkConfig,
  configVariables,
  loadConfig,
  loadTestSwitches,
  parseConfig,
  readAuthConfig,
  readDatabaseConfig,
} from "../../party/config.ts";
import { MAX_TIMER_MS, TEST_SWITCHES, readTestSwitches } from "../../party/test-switches.ts";
import { LIMITS } from "../../party/protocol/limits.ts";
import { archiveSettingsFromEnv } from "../../party/archive/config.ts";
import { archiveConfigFromEnv } from "../../party/archive/connection.ts";
import { pushConfigFrom } from "../../party/adapters/push.ts";
import { verifyToken } from "../../party/adapters/auth.ts";
import { gateRequest } from "../../party/adapters/service-auth.ts";
import { devServerVars, TEST_SECRET } from "../helpers/dev-server.ts";

/** The problems of an env the loader must refuse, as `<variable>: <problem>` lines. */
function problems(env: Record<string, unknown>): string[] {
  const result = parseConfig(env);
  assert.equal(result.ok, false, `expected ${JSON.stringify(env)} to be refused`);
  return result.ok ? [] : result.error.problems.map((p) => `${p.variable}: ${p.problem}`);
}

function config(env: Record<string, unknown>) {
  const result = parseConfig(env);
  if (!result.ok) assert.fail(result.error.message);
  return result.config;
}

/** Silences console.error around `fn` and returns what was logged. */
function logged(fn: () => void): string[] {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  try {
    fn();
  } finally {
    console.error = original;
  }
  return lines;
}

describe("defaults", () => {
  it("an empty env is valid and every value is its default", () => {
    const c = config({});
    assert.deepEqual(c.auth, { jwtSecret: undefined, jwksUrl: undefined, serviceSecret: undefined });
    assert.equal(c.hibernate, false);
    assert.equal(c.publicOrigin, undefined);
    assert.deepEqual(c.room, { resumeMaxEvents: 10_000, flushWindowMs: 0, notifyAlarmMs: 10_000, messagesPerSecond: 10, messageBurst: 30 });
    assert.equal(c.push, undefined);
    assert.deepEqual(c.directory, { intervalMs: 2000, timeoutMs: 10_000 });
    assert.deepEqual(c.archive, { db: undefined, ...ARCHIVE_DEFAULTS });
    assert.deepEqual(c.test, TEST_SWITCHES_OFF);
    assert.deepEqual(c.directory, DIRECTORY_DEFAULTS);
  });

  it("the room's defaults are the protocol's LIMITS", () => {
    assert.equal(ROOM_DEFAULTS.resumeMaxEvents, LIMITS.resumeMaxEvents);
    assert.equal(ROOM_DEFAULTS.flushWindowMs, LIMITS.flushWindowMs);
  });

  it("variables other than KAIWA_* are none of its business", () => {
    assert.equal(parseConfig({ PATH: "/bin", HOME: 3, kaiwa_flush_window_ms: "x" }).ok, true);
  });

  it("the configuration is frozen", () => {
    const c = config({ KAIWA_DATABASE_URL: "postgres://u:p@h/db" });
    assert.throws(() => ((c.room as { flushWindowMs: number }).flushWindowMs = 5));
    assert.ok(Object.isFrozen(c.archive.db));
  });
});

describe("numbers", () => {
  const numeric: Array<[string, number, boolean]> = [
    // name, minimum, milliseconds (capped at the longest timer)
    ["KAIWA_RESUME_MAX_EVENTS", 0, false],
    ["KAIWA_FLUSH_WINDOW_MS", 0, true],
    ["KAIWA_NOTIFY_ALARM_MS", 0, true],
    ["KAIWA_DIRECTORY_INTERVAL_MS", 1, true],
    ["KAIWA_DIRECTORY_TIMEOUT_MS", 1, true],
    ["KAIWA_RETENTION_EVENTS", 1, false],
    ["KAIWA_ARCHIVE_BATCH_ROWS", 1, false],
    ["KAIWA_ARCHIVE_ROWS_PER_ALARM", 1, false],
    ["KAIWA_ARCHIVE_DELAY_MS", 0, true],
    ["KAIWA_ARCHIVE_RETRY_BASE_MS", 1, true],
  ];
  const configOf = config;
  const read = (c: ReturnType<typeof config>, name: string): number =>
    ({
      KAIWA_RESUME_MAX_EVENTS: c.room.resumeMaxEvents,
      KAIWA_FLUSH_WINDOW_MS: c.room.flushWindowMs,
      KAIWA_NOTIFY_ALARM_MS: c.room.notifyAlarmMs,
      KAIWA_DIRECTORY_INTERVAL_MS: c.directory.intervalMs,
      KAIWA_DIRECTORY_TIMEOUT_MS: c.directory.timeoutMs,
      KAIWA_RETENTION_EVENTS: c.archive.retentionEvents,
      KAIWA_ARCHIVE_BATCH_ROWS: c.archive.batchRows,
      KAIWA_ARCHIVE_ROWS_PER_ALARM: c.archive.rowsPerAlarm,
      KAIWA_ARCHIVE_DELAY_MS: c.archive.drainDelayMs,
      KAIWA_ARCHIVE_RETRY_BASE_MS: c.archive.retryBaseMs,
    })[name]!;

  for (const [name, min, ms] of numeric) {
    it(`${name}: a whole number >= ${min}, as a string (--var) or a number (partykit.json)`, () => {
      // The retry base may not exceed the cap: lift the cap so the base alone is tested.
      const config = (env: Record<string, unknown>) => configOf(name === "KAIWA_ARCHIVE_RETRY_BASE_MS" ? { ...env, KAIWA_ARCHIVE_RETRY_CAP_MS: MAX_TIMER_MS } : env);
      assert.equal(read(config({ [name]: "250" }), name), 250);
      assert.equal(read(config({ [name]: 250 }), name), 250);
      assert.equal(read(config({ [name]: String(min) }), name), min);
      for (const bad of ["abc", "", " 5", "5 ", "1.5", "-1", "+5", "1e3", "0x10", "5ms"]) {
        assert.deepEqual(problems({ [name]: bad }), [`${name}: expected a whole number >= ${min}, got ${JSON.stringify(bad)}`]);
      }
      assert.deepEqual(problems({ [name]: 1.5 }), [`${name}: expected a whole number >= ${min}, got 1.5`]);
      assert.deepEqual(problems({ [name]: true }), [`${name}: expected a whole number >= ${min}, got true`]);
      if (min > 0) assert.deepEqual(problems({ [name]: "0" }), [`${name}: expected a whole number >= ${min}, got "0"`]);
      if (ms) {
        assert.equal(read(config({ [name]: String(MAX_TIMER_MS) }), name), MAX_TIMER_MS);
        assert.deepEqual(problems({ [name]: String(MAX_TIMER_MS + 1) }), [`${name}: expected a whole number <= ${MAX_TIMER_MS} (the longest timer delay), got "${MAX_TIMER_MS + 1}"`]);
      }
    });
  }

  it("names the variable and what is wrong, in the error's message", () => {
    const result = parseConfig({ KAIWA_FLUSH_WINDOW_MS: "abc" });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.error instanceof ConfigError);
    assert.match(result.error.message, /KAIWA_FLUSH_WINDOW_MS: expected a whole number >= 0, got "abc"/);
    assert.deepEqual(result.error.problems, [{ variable: "KAIWA_FLUSH_WINDOW_MS", problem: 'expected a whole number >= 0, got "abc"' }]);
  });

  it("reports every problem at once", () => {
    assert.deepEqual(problems({ KAIWA_FLUSH_WINDOW_MS: "abc", KAIWA_RETENTION_EVENTS: "0", KAIWA_HIBERNATE: "yes" }).map((p) => p.split(":")[0]), [
      "KAIWA_HIBERNATE",
      "KAIWA_FLUSH_WINDOW_MS",
      "KAIWA_RETENTION_EVENTS",
    ]);
  });

  it("KAIWA_ARCHIVE_RETRY_CAP_MS: >= 1 and not below the base", () => {
    assert.equal(config({ KAIWA_ARCHIVE_RETRY_BASE_MS: "100", KAIWA_ARCHIVE_RETRY_CAP_MS: "1000" }).archive.retryCapMs, 1000);
    assert.deepEqual(problems({ KAIWA_ARCHIVE_RETRY_CAP_MS: "0" }), ['KAIWA_ARCHIVE_RETRY_CAP_MS: expected a whole number >= 1, got "0"']);
    assert.deepEqual(problems({ KAIWA_ARCHIVE_RETRY_CAP_MS: "100" }), ["KAIWA_ARCHIVE_RETRY_CAP_MS: must be >= KAIWA_ARCHIVE_RETRY_BASE_MS (500), got 100"]);
    assert.deepEqual(problems({ KAIWA_ARCHIVE_RETRY_BASE_MS: "60000" }), ["KAIWA_ARCHIVE_RETRY_CAP_MS: must be >= KAIWA_ARCHIVE_RETRY_BASE_MS (60000), got 30000"]);
  });
});

describe("flags, strings and URLs", () => {
  it('KAIWA_HIBERNATE: "1" or "0" (1, 0, true, false from JSON)', () => {
    for (const on of ["1", 1, true]) assert.equal(config({ KAIWA_HIBERNATE: on }).hibernate, true);
    for (const off of ["0", 0, false]) assert.equal(config({ KAIWA_HIBERNATE: off }).hibernate, false);
    for (const bad of ["true", "yes", "on", "", "2"]) {
      assert.deepEqual(problems({ KAIWA_HIBERNATE: bad }), [`KAIWA_HIBERNATE: expected "1" (on) or "0" (off), got ${JSON.stringify(bad)}`]);
    }
  });

  it("secrets: non-empty strings, never echoed", () => {
    for (const name of ["KAIWA_JWT_SECRET", "KAIWA_SERVICE_SECRET"]) {
      assert.deepEqual(problems({ [name]: "" }), [`${name}: expected a non-empty string (leave the variable out to unset it), got ""`]);
      const shown = problems({ [name]: 12345 }).join();
      assert.doesNotMatch(shown, /12345/);
      assert.match(shown, new RegExp(`^${name}: expected a non-empty string`));
    }
    assert.deepEqual(problems({ KAIWA_PUSH_URL: "https://push.example/hook", KAIWA_PUSH_SECRET: "" }), [
      'KAIWA_PUSH_SECRET: expected a non-empty string (leave the variable out to unset it), got ""',
    ]);
  });

  it("the service key is KAIWA_SERVICE_SECRET, else KAIWA_JWT_SECRET", () => {
    assert.equal(config({ KAIWA_JWT_SECRET: "dev" }).auth.serviceSecret, "dev");
    assert.equal(config({ KAIWA_JWT_SECRET: "dev", KAIWA_SERVICE_SECRET: "svc" }).auth.serviceSecret, "svc");
  });

  it("KAIWA_JWKS_URL: an http(s) URL, and needs a service key", () => {
    const url = "https://idp.example/.well-known/jwks.json";
    assert.equal(config({ KAIWA_JWKS_URL: url, KAIWA_SERVICE_SECRET: "s" }).auth.jwksUrl, url);
    assert.equal(config({ KAIWA_JWKS_URL: url, KAIWA_JWT_SECRET: "s" }).auth.serviceSecret, "s");
    assert.deepEqual(problems({ KAIWA_JWKS_URL: "idp.example/jwks", KAIWA_SERVICE_SECRET: "s" }), ['KAIWA_JWKS_URL: expected a https:// or http:// URL, got "idp.example/jwks"']);
    assert.deepEqual(problems({ KAIWA_JWKS_URL: "ftp://idp.example/jwks", KAIWA_SERVICE_SECRET: "s" }), ['KAIWA_JWKS_URL: expected a https:// or http:// URL, got "ftp://idp.example/jwks"']);
    assert.deepEqual(problems({ KAIWA_JWKS_URL: url }), ["KAIWA_SERVICE_SECRET: required with KAIWA_JWKS_URL: actor-to-actor calls made from alarms are signed with it"]);
  });

  it("KAIWA_PUSH_URL and KAIWA_PUSH_SECRET: both or neither; the URL is not echoed", () => {
    assert.deepEqual(config({ KAIWA_PUSH_URL: "https://push.example/hook?key=k", KAIWA_PUSH_SECRET: "s" }).push, { url: "https://push.example/hook?key=k", secret: "s" });
    assert.deepEqual(problems({ KAIWA_PUSH_URL: "https://push.example/hook" }), ["KAIWA_PUSH_SECRET: required when KAIWA_PUSH_URL is set (pushes are signed with it)"]);
    assert.deepEqual(problems({ KAIWA_PUSH_SECRET: "s" }), ["KAIWA_PUSH_URL: required when KAIWA_PUSH_SECRET is set (where to push)"]);
    assert.deepEqual(problems({ KAIWA_PUSH_URL: "push.example/hook?key=SECRETKEY", KAIWA_PUSH_SECRET: "s" }), [
      "KAIWA_PUSH_URL: expected a https:// or http:// URL, got something that is not a URL (value not shown)",
    ]);
  });

  it("KAIWA_DATABASE_URL: a postgres URL whose password is never echoed; KAIWA_DB_WS_PROXY: host:port with it", () => {
    assert.deepEqual(config({ KAIWA_DATABASE_URL: "postgresql://u:pw@ep-x.neon.tech/db?sslmode=require" }).archive.db, { url: "postgresql://u:pw@ep-x.neon.tech/db?sslmode=require" });
    assert.deepEqual(config({ KAIWA_DATABASE_URL: "postgres://u:pw@127.0.0.1:5432/postgres", KAIWA_DB_WS_PROXY: "127.0.0.1:5433" }).archive.db, {
      url: "postgres://u:pw@127.0.0.1:5432/postgres",
      wsProxy: "127.0.0.1:5433",
    });
    assert.deepEqual(problems({ KAIWA_DATABASE_URL: "mysql://u:hunter2@h/db" }), ['KAIWA_DATABASE_URL: expected a postgres:// or postgresql:// URL, got a "mysql:" URL (value not shown)']);
    assert.doesNotMatch(problems({ KAIWA_DATABASE_URL: "u:hunter2 at h" }).join(), /hunter2/);
    for (const bad of ["ws://127.0.0.1:5433", "127.0.0.1", "127.0.0.1:99999", "host:port"]) {
      assert.deepEqual(problems({ KAIWA_DATABASE_URL: "postgres://h/db", KAIWA_DB_WS_PROXY: bad }), [`KAIWA_DB_WS_PROXY: expected host:port without a scheme (e.g. "127.0.0.1:5433"), got ${JSON.stringify(bad)}`]);
    }
    assert.deepEqual(problems({ KAIWA_DB_WS_PROXY: "127.0.0.1:5433" }), ["KAIWA_DB_WS_PROXY: set without KAIWA_DATABASE_URL (it only routes the archive's connection)"]);
  });

  it("KAIWA_PUBLIC_ORIGIN: an origin, normalised without the trailing slash", () => {
    assert.equal(config({ KAIWA_PUBLIC_ORIGIN: "https://kaiwa.example.partykit.dev" }).publicOrigin, "https://kaiwa.example.partykit.dev");
    assert.equal(config({ KAIWA_PUBLIC_ORIGIN: "https://kaiwa.example.partykit.dev/" }).publicOrigin, "https://kaiwa.example.partykit.dev");
    assert.equal(config({ KAIWA_PUBLIC_ORIGIN: "http://127.0.0.1:1999" }).publicOrigin, "http://127.0.0.1:1999");
    for (const bad of ["kaiwa.example.partykit.dev", "https://kaiwa.example/parties", "https://kaiwa.example/?x=1", "ws://kaiwa.example"]) {
      assert.deepEqual(problems({ KAIWA_PUBLIC_ORIGIN: bad }), [
        `KAIWA_PUBLIC_ORIGIN: expected an origin such as "https://kaiwa.example.partykit.dev" (scheme and host, no path), got ${JSON.stringify(bad)}`,
      ]);
    }
  });

  it("an unknown KAIWA_* variable is refused, with the likely name", () => {
    assert.deepEqual(problems({ KAIWA_FLUSH_WINDOW: "5" }), ["KAIWA_FLUSH_WINDOW: not a variable kaiwa reads (did you mean KAIWA_FLUSH_WINDOW_MS?)"]);
    assert.deepEqual(problems({ KAIWA_TEST_HOLD_NOTIFI: "1", KAIWA_TEST_MODE: "1" }), ["KAIWA_TEST_HOLD_NOTIFI: not a variable kaiwa reads (did you mean KAIWA_TEST_HOLD_NOTIFY?)"]);
    assert.deepEqual(problems({ KAIWA_SOMETHING_ELSE: "5" }), ["KAIWA_SOMETHING_ELSE: not a variable kaiwa reads"]);
  });

  it("every KAIWA_* name in party/ is one the loader knows", () => {
    const known = new Set(configVariables().map((v) => v.name));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".ts")) files.push(path);
      }
    };
    walk(join(import.meta.dirname, "..", "..", "party"));
    const unknown = new Set<string>();
    for (const file of files) {
      for (const [name] of readFileSync(file, "utf8").matchAll(/KAIWA_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g)) if (!known.has(name)) unknown.add(name);
    }
    assert.deepEqual([...unknown], []);
  });
});

describe("memo and failing at start", () => {
  it("parses an env object once, and an equal one (the worker's fresh env per request) once", () => {
    const env = { KAIWA_FLUSH_WINDOW_MS: "3", KAIWA_MEMO_TEST_ONLY_PADDING: undefined };
    const first = loadConfig(env);
    assert.equal(loadConfig(env), first);
    assert.equal(loadConfig({ ...env }), first);
    assert.equal(first.room.flushWindowMs, 3);
  });

  it("throws ConfigError naming the variable, and logs it once", () => {
    const env = { KAIWA_NOTIFY_ALARM_MS: "soon" };
    const lines = logged(() => {
      for (let i = 0; i < 3; i++) assert.throws(() => loadConfig({ ...env }), (e: unknown) => e instanceof ConfigError && /KAIWA_NOTIFY_ALARM_MS: expected a whole number >= 0, got "soon"/.test(e.message));
    });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /refusing to start: .*KAIWA_NOTIFY_ALARM_MS/);
    const checked = checkConfig(env);
    assert.equal(checked.ok, false);
  });

  it("the module readers delegate to it", () => {
    const env = {
      KAIWA_RESUME_MAX_EVENTS: "7",
      KAIWA_DATABASE_URL: "postgres://h/db",
      KAIWA_RETENTION_EVENTS: "64",
      KAIWA_PUSH_URL: "https://push.example",
      KAIWA_PUSH_SECRET: "s",
      KAIWA_TEST_MODE: "1",
      KAIWA_TEST_ARCHIVE_LOSE_REPLY_AT: "1",
      KAIWA_TEST_HOLD_NOTIFY: "1",
    };
    const config = loadConfig(env);
    assert.equal(config.room.resumeMaxEvents, 7);
    assert.equal(config.test.holdNotify, true);
    assert.equal(config.test.failReleaseStage, "release");
    const archive = archiveSettingsFromEnv(env);
    assert.equal(archive.retentionEvents, 64);
    assert.equal(archive.testLoseReplyAt, 1);
    assert.deepEqual(archive.db, { url: "postgres://h/db" });
    assert.deepEqual(pushConfigFrom(env), { url: "https://push.example", secret: "s" });
    logged(() => assert.throws(() => loadConfig({ KAIWA_RESUME_MAX_EVENTS: "-1" }), /KAIWA_RESUME_MAX_EVENTS/));
  });

  it("the database reader checks only its two variables, so scripts may pass process.env", () => {
    const processEnv = { PATH: "/bin", KAIWA_TEST_DB: "postgres", KAIWA_PG_BIN: "/x", KAIWA_DATABASE_URL: "postgres://h/db", KAIWA_DB_WS_PROXY: "127.0.0.1:1" };
    assert.deepEqual(archiveConfigFromEnv(processEnv), { url: "postgres://h/db", wsProxy: "127.0.0.1:1" });
    assert.deepEqual(readDatabaseConfig({}), undefined);
    assert.throws(() => archiveConfigFromEnv({ KAIWA_DATABASE_URL: "nope" }), /KAIWA_DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it("token verification and the worker's gate answer a typed `internal` error naming the variable", async () => {
    assert.deepEqual(readAuthConfig({ KAIWA_JWT_SECRET: "k" }), { jwtSecret: "k", jwksUrl: undefined, serviceSecret: "k" });
    const auth = await verifyToken("x.y.z", { KAIWA_JWKS_URL: "not a url" });
    assert.equal(auth.ok, false);
    assert.equal(!auth.ok && auth.code, "internal");
    assert.match(!auth.ok ? auth.message : "", /KAIWA_JWKS_URL: expected a https:\/\/ or http:\/\/ URL/);

    const env = { KAIWA_JWT_SECRET: "k", KAIWA_TEST_HOLD_NOTIFY: "1" };
    let pending: Promise<Request | Response> | undefined;
    const lines = logged(() => void (pending = gateRequest(new Request("http://x/parties/room/general/history", { method: "POST", body: "{}" }), { id: "general", env })));
    const gated = await pending!;
    assert.ok(gated instanceof Response);
    assert.equal(gated.status, 500);
    const body = (await gated.json()) as { error: { code: string; message: string; retryable: boolean } };
    assert.equal(body.error.code, "internal");
    assert.match(body.error.message, /KAIWA_TEST_HOLD_NOTIFY: a test-only switch, set without KAIWA_TEST_MODE=1/);
    assert.match(lines.join("\n"), /KAIWA_TEST_HOLD_NOTIFY/);
  });
});

describe("test switches", () => {
  it("loadTestSwitches({}) is all off", () => {
    const off = loadTestSwitches({});
    assert.deepEqual(off, TEST_SWITCHES_OFF);
    assert.deepEqual(off, {
      mode: false,
      writeDelayMs: 0,
      failWriteAt: 0,
      hangWriteAt: 0,
      writeStallMs: 0,
      failReleaseAt: 0,
      failReleaseStage: "release",
      holdNotify: false,
      archiveLoseReplyAt: 0,
      failAuditWrite: false,
      directoryDelayMs: 0,
      maxSessionsInMemory: 0,
      uploadTtlMs: 0,
      presignSeconds: 0,
      idleCloseMs: 0,
      idleCloseBytes: 0,
      idleSweepMs: 0,
      directoryMaxRooms: 0,
      catchUpMaxBytes: 0,
    });
    assert.ok(Object.isFrozen(off));
  });

  it("test mode alone changes nothing", () => {
    assert.deepEqual(loadTestSwitches({ KAIWA_TEST_MODE: "1" }), { ...TEST_SWITCHES_OFF, mode: true });
    assert.deepEqual(config({ KAIWA_TEST_MODE: "0" }).test, TEST_SWITCHES_OFF);
  });

  const on: Record<string, [string, unknown, keyof typeof TEST_SWITCHES_OFF, unknown]> = {
    KAIWA_TEST_WRITE_DELAY_MS: ["30", 30, "writeDelayMs", "slow"],
    KAIWA_TEST_FAIL_WRITE_AT: ["3", 3, "failWriteAt", "-3"],
    KAIWA_TEST_HANG_WRITE_AT: ["3", 3, "hangWriteAt", "third"],
    KAIWA_TEST_WRITE_STALL_MS: ["1500", 1_500, "writeStallMs", "soon"],
    KAIWA_TEST_FAIL_RELEASE_AT: ["2", 2, "failReleaseAt", "2.5"],
    KAIWA_TEST_FAIL_RELEASE_STAGE: ["state", "state", "failReleaseStage", "before"],
    KAIWA_TEST_HOLD_NOTIFY: ["1", true, "holdNotify", "yes"],
    KAIWA_TEST_ARCHIVE_LOSE_REPLY_AT: ["1", 1, "archiveLoseReplyAt", "first"],
    KAIWA_TEST_FAIL_AUDIT_WRITE: ["1", true, "failAuditWrite", "on"],
    KAIWA_TEST_DIRECTORY_DELAY_MS: ["120000", 120_000, "directoryDelayMs", "1e5"],
    KAIWA_TEST_MAX_SESSIONS_IN_MEMORY: ["10", 10, "maxSessionsInMemory", "ten"],
    KAIWA_TEST_UPLOAD_TTL_MS: ["4000", 4_000, "uploadTtlMs", "4s"],
    KAIWA_TEST_PRESIGN_SECONDS: ["2", 2, "presignSeconds", "604801"],
    KAIWA_TEST_IDLE_CLOSE_MS: ["1500", 1_500, "idleCloseMs", "1.5s"],
    KAIWA_TEST_IDLE_CLOSE_BYTES: ["4096", 4_096, "idleCloseBytes", "4k"],
    KAIWA_TEST_IDLE_SWEEP_MS: ["250", 250, "idleSweepMs", "-1"],
    KAIWA_TEST_DIRECTORY_MAX_ROOMS: ["5", 5, "directoryMaxRooms", "five"],
    KAIWA_TEST_CATCH_UP_MAX_BYTES: ["2000", 2_000, "catchUpMaxBytes", "2kb"],
  };

  it("the table covers every switch", () => {
    assert.deepEqual(Object.keys(on).sort(), Object.keys(TEST_SWITCHES).sort());
  });

  for (const [name, [raw, value, field, bad]] of Object.entries(on)) {
    it(`${name}: acts only with KAIWA_TEST_MODE=1, refused without it, validated`, () => {
      assert.equal(loadTestSwitches({ KAIWA_TEST_MODE: "1", [name]: raw })[field], value);
      assert.equal(config({ KAIWA_TEST_MODE: 1, [name]: raw }).test[field], value);
      const refusal = `${name}: a test-only switch, set without KAIWA_TEST_MODE=1: it would not act; remove it (tests: set KAIWA_TEST_MODE=1)`;
      assert.deepEqual(problems({ [name]: raw }), [refusal]);
      assert.deepEqual(problems({ KAIWA_TEST_MODE: "0", [name]: raw }), [refusal]);
      assert.throws(() => loadTestSwitches({ [name]: raw }), (e: unknown) => e instanceof ConfigError && e.message.includes(refusal));
      const invalid = problems({ KAIWA_TEST_MODE: "1", [name]: bad });
      assert.equal(invalid.length, 1);
      assert.match(invalid[0]!, new RegExp(`^${name}: expected .*, got ${JSON.stringify(bad)}`));
      // Refused without test mode, the switch never reaches the configuration: nothing can act on it.
      const { switches } = readTestSwitches({ [name]: raw });
      assert.deepEqual(switches, TEST_SWITCHES_OFF);
    });
  }

  it("KAIWA_TEST_MODE itself: \"1\" or \"0\"", () => {
    assert.deepEqual(problems({ KAIWA_TEST_MODE: "true" }), ['KAIWA_TEST_MODE: expected "1" (on) or "0" (off), got "true"']);
  });

  it("a switch set to its off value without test mode is refused too: it is a test configuration", () => {
    assert.equal(problems({ KAIWA_TEST_FAIL_WRITE_AT: "0" }).length, 1);
  });
});

describe("assertDeployableEnv", () => {
  it("passes a production configuration", () => {
    assert.doesNotThrow(() => assertDeployableEnv({ KAIWA_JWKS_URL: "https://idp/jwks", KAIWA_SERVICE_SECRET: "s", KAIWA_HIBERNATE: "0" }));
    assert.doesNotThrow(() => assertDeployableEnv({}));
  });

  it("throws naming every test-only variable", () => {
    assert.throws(
      () => assertDeployableEnv({ KAIWA_JWKS_URL: "https://idp/jwks", KAIWA_TEST_MODE: "0", KAIWA_TEST_FAIL_WRITE_AT: "3" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.map((p) => p.variable).join() === "KAIWA_TEST_FAIL_WRITE_AT,KAIWA_TEST_MODE" &&
        /KAIWA_TEST_FAIL_WRITE_AT: test-only: never deploy it/.test(e.message) &&
        /KAIWA_TEST_MODE: test-only/.test(e.message),
    );
    assert.throws(() => assertDeployableEnv({ KAIWA_TEST_HOLD_NOTIFI: "1" }), /KAIWA_TEST_HOLD_NOTIFI/);
  });
});

describe("the test harness's vars (tests/helpers/dev-server.ts)", () => {
  it("sets KAIWA_TEST_MODE=1 exactly when a switch is passed, unless told", () => {
    // Tests lift the per-user message rate (PROTOCOL R18) unless they set it.
    assert.deepEqual(devServerVars(), { KAIWA_JWT_SECRET: TEST_SECRET, KAIWA_MESSAGES_PER_SECOND: 0 });
    assert.deepEqual(devServerVars({ vars: { KAIWA_FLUSH_WINDOW_MS: 2 } }), { KAIWA_JWT_SECRET: TEST_SECRET, KAIWA_MESSAGES_PER_SECOND: 0, KAIWA_FLUSH_WINDOW_MS: 2 });
    assert.equal(devServerVars({ vars: { KAIWA_MESSAGES_PER_SECOND: 5 } }).KAIWA_MESSAGES_PER_SECOND, 5);
    assert.equal(devServerVars({ vars: { KAIWA_TEST_HOLD_NOTIFY: "1" } }).KAIWA_TEST_MODE, "1");
    assert.equal(devServerVars({ vars: { KAIWA_TEST_HOLD_NOTIFY: "1" }, testMode: false }).KAIWA_TEST_MODE, undefined);
    assert.equal(devServerVars({ testMode: true }).KAIWA_TEST_MODE, "1");
    assert.equal(devServerVars({ vars: { KAIWA_TEST_MODE: "0", KAIWA_TEST_HOLD_NOTIFY: "1" } }).KAIWA_TEST_MODE, "0");
    // What the harness passes is what the loader accepts.
    assert.equal(parseConfig(devServerVars({ vars: { KAIWA_TEST_WRITE_DELAY_MS: 30 } })).ok, true);
  });
});
