/**
 * The one configuration loader: every `KAIWA_*` variable the party code reads (`partykit dev --var`,
 * `partykit deploy --var`, or partykit.json `vars`) is validated here with zod, defaults are applied here,
 * and nothing else reads `env.KAIWA_*`.
 *
 * Fails at start: an invalid configuration makes `loadConfig` throw a ConfigError whose message names each
 * variable and what is wrong (`KAIWA_FLUSH_WINDOW_MS: expected a whole number >= 0, got "abc"`), and it
 * is logged once. Actors call `loadConfig(room.env)` in their constructor, so an actor with a bad
 * configuration never runs; the worker's gates (party/adapters/service-auth.ts) call `checkConfig` first, so
 * the first request from outside already gets a typed `internal` error naming the variable (HTTP 500, or
 * an error frame and close 1011 on a socket) instead of reaching an actor.
 *
 * Memoised per env object (an actor's `room.env` lives as long as the actor) and, because the worker gets
 * a fresh env object on every request, per content as well: the hot path never parses.
 * Unknown `KAIWA_*` names are refused too: a misspelt variable would otherwise be silently ignored.
 * Test-only switches (`KAIWA_TEST_*`) are defined in party/test-switches.ts and come back as `config.test`.
 */
import {
  ConfigError,
  TEST_MODE_VAR,
  TEST_PREFIX,
  TEST_SWITCHES,
  milliseconds,
  readTestSwitches,
  shown,
  varSchema,
  wholeNumber,
  flag,
  type ConfigProblem,
  type TestSwitches,
  type VarOptions,
  type VarSchema,
} from "./test-switches.ts";
import { config as zodConfig } from "zod/mini";
import en from "zod/v4/locales/en.js";

// The protocol's schemas are zod/mini (party/protocol/schema.ts), which loads no messages itself: the
// server's typed errors (`text: Too big: expected string to have <=4000 characters`) need zod's English.
zodConfig(en());

/** The archive's database: `KAIWA_DATABASE_URL`, and a local bridge for dev and tests (`KAIWA_DB_WS_PROXY`). */
export type ArchiveConfig = { url: string; wsProxy?: string };
/**
 * S3-compatible object storage for files in messages (PROTOCOL R30): Cloudflare's in production, the embedded
 * server in dev and tests. Objects are addressed path-style: `<endpoint>/<bucket>/<key>`.
 */
export type S3Config = { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region: string };
/** The push hook for offline users (`KAIWA_PUSH_URL`, `KAIWA_PUSH_SECRET`). */
export type PushConfig = { url: string; secret: string };

export { ConfigError, type ConfigProblem, type TestSwitches } from "./test-switches.ts";
export { TEST_SWITCHES_OFF, loadTestSwitches } from "./test-switches.ts";

export type KaiwaConfig = {
  readonly auth: {
    /** HS256 secret for user tokens (development). */
    readonly jwtSecret: string | undefined;
    /** The identity provider's JWKS URL (production); takes precedence over jwtSecret. */
    readonly jwksUrl: string | undefined;
    /** Key of actor-to-actor service tokens: KAIWA_SERVICE_SECRET, else KAIWA_JWT_SECRET. */
    readonly serviceSecret: string | undefined;
  };
  /** The publish API's credentials (KAIWA_PUBLISH_KEYS, PROTOCOL R60); none: the API is off. */
  readonly publish: { readonly keys: readonly string[] };
  /** WebSocket hibernation for rooms and inboxes. */
  readonly hibernate: boolean;
  /** WebSocket hibernation for live rooms' relay shards' viewer sockets (PROTOCOL R52); on unless set to 0. */
  readonly relayHibernate: boolean;
  /** How long a relay gathers the room's frames into one frame for its viewers (PROTOCOL R54); 0: each at once. */
  readonly relayCoalesceMs: number;
  /** The room process's origin when relays run in a process of their own (PROTOCOL R55); unset: in-process. */
  readonly relayUpstream: string | undefined;
  /** The deployment's own origin, without a trailing slash; unset: the first origin an actor saw. */
  readonly publicOrigin: string | undefined;
  readonly room: {
    readonly resumeMaxEvents: number;
    readonly flushWindowMs: number;
    readonly notifyAlarmMs: number;
    /** Per user per room (PROTOCOL R18): messages a second, 0 = no limit; a room's settings override it. */
    readonly messagesPerSecond: number;
    /** Per user per room: how many messages may come at once before the rate applies. */
    readonly messageBurst: number;
  };
  /** The push hook for offline users; undefined: off. */
  readonly push: PushConfig | undefined;
  readonly directory: { readonly intervalMs: number; readonly timeoutMs: number };
  readonly archive: {
    /** undefined: no archive, and rooms never prune. */
    readonly db: ArchiveConfig | undefined;
    readonly retentionEvents: number;
    readonly batchRows: number;
    readonly rowsPerAlarm: number;
    readonly drainDelayMs: number;
    readonly retryBaseMs: number;
    readonly retryCapMs: number;
  };
  /** Files in messages (PROTOCOL R30-R33); undefined: no object storage, uploads are refused (`uploads_off`). */
  readonly s3: S3Config | undefined;
  /** Test-only fault switches: all off unless KAIWA_TEST_MODE=1 (party/test-switches.ts). */
  readonly test: TestSwitches;
};

/** The KAIWA_S3_* variables that must be set together (KAIWA_S3_REGION has a default). */
export const S3_VARIABLES = ["KAIWA_S3_ENDPOINT", "KAIWA_S3_BUCKET", "KAIWA_S3_ACCESS_KEY_ID", "KAIWA_S3_SECRET_ACCESS_KEY"] as const;

/** Defaults of the room's numbers: the same as LIMITS.resumeMaxEvents and LIMITS.flushWindowMs (unit-tested). */
export const ROOM_DEFAULTS = { resumeMaxEvents: 10_000, flushWindowMs: 0, notifyAlarmMs: 10_000, messagesPerSecond: 10, messageBurst: 30 } as const;
export const DIRECTORY_DEFAULTS = { intervalMs: 2000, timeoutMs: 10_000 } as const;
/** A relay shard gathers the room's frames for this long into one frame for its viewers (PROTOCOL R54). */
export const RELAY_COALESCE_MS = 100;
export const ARCHIVE_DEFAULTS = {
  retentionEvents: 10_000,
  batchRows: 500,
  rowsPerAlarm: 5_000,
  drainDelayMs: 200,
  retryBaseMs: 500,
  retryCapMs: 30_000,
} as const;

// ---- Value parsers beyond the shared ones (party/test-switches.ts).

/** Any non-empty string (a key: never echoed). */
function secretString(): VarSchema<string> {
  return varSchema((raw) =>
    typeof raw === "string" && raw.length > 0 ? { value: raw } : { problem: `expected a non-empty string (leave the variable out to unset it), got ${shown(raw, { secret: raw !== "" })}` },
  );
}

function parseUrl(raw: unknown): URL | undefined {
  if (typeof raw !== "string") return undefined;
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

/** An absolute URL with one of `protocols`. */
function url(protocols: string[], options: VarOptions = {}): VarSchema<string> {
  const expected = `expected a ${protocols.map((p) => p + "//").join(" or ")} URL`;
  return varSchema((raw) => {
    const parsed = parseUrl(raw);
    if (!parsed) return { problem: `${expected}, got ${options.secret && typeof raw === "string" ? "something that is not a URL (value not shown)" : shown(raw)}` };
    if (!protocols.includes(parsed.protocol)) return { problem: `${expected}, got ${options.secret ? `a "${parsed.protocol}" URL (value not shown)` : shown(raw)}` };
    return { value: raw as string };
  });
}

/** `https://host[:port]` (or http), nothing after it but an optional "/"; normalised to the bare origin. */
function origin(): VarSchema<string> {
  return varSchema((raw) => {
    const parsed = parseUrl(raw);
    const bare = parsed && (parsed.protocol === "https:" || parsed.protocol === "http:") && parsed.pathname === "/" && !parsed.search && !parsed.hash && !parsed.username;
    return bare ? { value: parsed.origin } : { problem: `expected an origin such as "https://kaiwa.example.partykit.dev" (scheme and host, no path), got ${shown(raw)}` };
  });
}

/** An S3 bucket or region name: lower-case letters, digits, dots and hyphens. */
function bucketName(): VarSchema<string> {
  return varSchema((raw) =>
    typeof raw === "string" && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw) ? { value: raw } : { problem: `expected 3-63 of a-z, 0-9, "." and "-", got ${shown(raw)}` },
  );
}

/** `host:port`, no scheme (the driver adds `ws://`). */
function hostPort(): VarSchema<string> {
  return varSchema((raw) => {
    const match = typeof raw === "string" ? /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw) : null;
    return match && Number(match[2]) >= 1 && Number(match[2]) <= 65_535
      ? { value: raw as string }
      : { problem: `expected host:port without a scheme (e.g. "127.0.0.1:5433"), got ${shown(raw)}` };
  });
}

/**
 * KAIWA_PUBLISH_KEYS: one or more bearer keys (comma-separated, for rotation), each 32-256 URL-safe
 * characters: long enough that guessing is hopeless, plain enough for a header. Never echoed.
 */
function publishKeys(): VarSchema<string[]> {
  return varSchema((raw) => {
    if (typeof raw !== "string") return { problem: `expected comma-separated keys, got ${shown(raw, { secret: true })}` };
    const keys = raw.split(",").map((key) => key.trim());
    const bad = keys.findIndex((key) => !/^[A-Za-z0-9_-]{32,256}$/.test(key));
    if (bad >= 0) return { problem: `key ${bad + 1} of ${keys.length} is not 32-256 characters of [A-Za-z0-9_-] (value not shown; make one with: openssl rand -hex 32)` };
    return { value: keys };
  });
}

// ---- Every production variable: its schema, default and meaning (the README's table is this one).

type Spec = { schema: VarSchema<unknown>; default: string; rule: string; meaning: string };
const spec = <T>(schema: VarSchema<T>, fallback: string, rule: string, meaning: string): Spec => ({ schema: schema as VarSchema<unknown>, default: fallback, rule, meaning });

/** Built on first use (not at import: protocol/limits.ts imports this file, and client bundles carry it). */
let specs: Readonly<Record<string, Spec>> | undefined;
function variables(): Readonly<Record<string, Spec>> {
  return (specs ??= {
    KAIWA_JWT_SECRET: spec(secretString(), "unset", "non-empty string", "HS256 secret for user tokens (development)"),
    KAIWA_JWKS_URL: spec(url(["https:", "http:"]), "unset", "http(s) URL", "your identity provider's JWKS URL (production); takes precedence over the secret"),
    KAIWA_SERVICE_SECRET: spec(secretString(), "KAIWA_JWT_SECRET", "non-empty string; required with KAIWA_JWKS_URL unless KAIWA_JWT_SECRET is set", "key of actor-to-actor calls made from alarms"),
    KAIWA_PUBLISH_KEYS: spec(publishKeys(), "unset (publish API off)", "comma-separated keys of 32-256 characters [A-Za-z0-9_-], none equal to a token secret", "the publish API's service credentials (Authorization: Bearer <key>); two during a rotation"),
    KAIWA_PUBLIC_ORIGIN: spec(origin(), "the first origin an actor saw", "http(s) origin, no path", "the deployment's own origin, which alarms call back through"),
    KAIWA_HIBERNATE: spec(flag(), "0", '"1" or "0"', "WebSocket hibernation for rooms and inboxes"),
    KAIWA_RELAY_HIBERNATE: spec(flag(), "1", '"1" or "0"', "WebSocket hibernation for relay shards' viewer sockets"),
    KAIWA_RELAY_COALESCE_MS: spec(milliseconds(0), String(RELAY_COALESCE_MS), "whole number of ms >= 0 (0: forward each frame at once)", "how long after the first waiting event's commit a relay shard sends the room's frames, gathered into one frame for all its viewers"),
    KAIWA_RELAY_UPSTREAM: spec(origin(), "unset (relays subscribe in-process)", "http(s) origin, no path", "the room process's origin, for relay shards run in a process of their own (they prove themselves with a service token)"),
    KAIWA_RESUME_MAX_EVENTS: spec(wholeNumber(0), String(ROOM_DEFAULTS.resumeMaxEvents), "whole number >= 0", "how far behind a client may be and still resume by replay"),
    KAIWA_FLUSH_WINDOW_MS: spec(milliseconds(0), String(ROOM_DEFAULTS.flushWindowMs), "whole number of ms >= 0", "group-commit window"),
    KAIWA_NOTIFY_ALARM_MS: spec(milliseconds(0), String(ROOM_DEFAULTS.notifyAlarmMs), "whole number of ms >= 0", "how soon a room retries notifying inboxes after a write"),
    KAIWA_MESSAGES_PER_SECOND: spec(wholeNumber(0), String(ROOM_DEFAULTS.messagesPerSecond), "whole number >= 0 (0: no limit)", "messages a user may post per second in one room (token bucket; rooms override it in their settings)"),
    KAIWA_MESSAGE_BURST: spec(wholeNumber(1), String(ROOM_DEFAULTS.messageBurst), "whole number >= 1", "messages a user may post at once before the per-second rate applies"),
    KAIWA_PUSH_URL: spec(url(["https:", "http:"], { secret: true }), "unset (no push)", "http(s) URL; set together with KAIWA_PUSH_SECRET", "push hook for offline users"),
    KAIWA_PUSH_SECRET: spec(secretString(), "unset", "non-empty string; set together with KAIWA_PUSH_URL", "HMAC-SHA256 key of the push hook's signature"),
    KAIWA_DIRECTORY_INTERVAL_MS: spec(milliseconds(1), String(DIRECTORY_DEFAULTS.intervalMs), "whole number of ms >= 1", "at most one directory report per room per interval"),
    KAIWA_DIRECTORY_TIMEOUT_MS: spec(milliseconds(1), String(DIRECTORY_DEFAULTS.timeoutMs), "whole number of ms >= 1", "a directory report not answered by then counts as failed"),
    KAIWA_DATABASE_URL: spec(url(["postgres:", "postgresql:"], { secret: true }), "unset (no archive)", "postgres:// or postgresql:// URL", "the archive's Postgres URL"),
    KAIWA_DB_WS_PROXY: spec(hostPort(), "unset (Neon's defaults)", "host:port, no scheme; only with KAIWA_DATABASE_URL", "a local bridge: plain ws://, no Postgres TLS"),
    KAIWA_RETENTION_EVENTS: spec(wholeNumber(1), String(ARCHIVE_DEFAULTS.retentionEvents), "whole number >= 1", "events a room keeps in its own storage"),
    KAIWA_ARCHIVE_BATCH_ROWS: spec(wholeNumber(1), String(ARCHIVE_DEFAULTS.batchRows), "whole number >= 1", "rows per upsert transaction"),
    KAIWA_ARCHIVE_ROWS_PER_ALARM: spec(wholeNumber(1), String(ARCHIVE_DEFAULTS.rowsPerAlarm), "whole number >= 1", "rows per alarm run"),
    KAIWA_ARCHIVE_DELAY_MS: spec(milliseconds(0), String(ARCHIVE_DEFAULTS.drainDelayMs), "whole number of ms >= 0", "delay from a commit to its drain"),
    KAIWA_ARCHIVE_RETRY_BASE_MS: spec(milliseconds(1), String(ARCHIVE_DEFAULTS.retryBaseMs), "whole number of ms >= 1", "drain retry backoff: first delay, doubling"),
    KAIWA_ARCHIVE_RETRY_CAP_MS: spec(milliseconds(1), String(ARCHIVE_DEFAULTS.retryCapMs), "whole number of ms >= 1 and >= KAIWA_ARCHIVE_RETRY_BASE_MS", "drain retry backoff: cap"),
    KAIWA_S3_ENDPOINT: spec(origin(), "unset (no uploads)", "http(s) origin, no path; set with the other KAIWA_S3_* variables", "S3-compatible storage for files (Cloudflare: https://<account>.r2.cloudflarestorage.com)"),
    KAIWA_S3_BUCKET: spec(bucketName(), "unset", "a bucket name (3-63 of a-z, 0-9, . and -)", "the bucket files go to; keep it private"),
    KAIWA_S3_ACCESS_KEY_ID: spec(secretString(), "unset", "non-empty string", "access key id for the bucket (Cloudflare: an API token's key id)"),
    KAIWA_S3_SECRET_ACCESS_KEY: spec(secretString(), "unset", "non-empty string", "secret access key for the bucket"),
    KAIWA_S3_REGION: spec(bucketName(), "auto", "a region name (Cloudflare: auto)", "the region URLs are signed for"),
  });
}

/** Every variable the loader knows, with default, validation and meaning; test switches last. */
export function configVariables(): Array<{ name: string; default: string; rule: string; meaning: string; testOnly: boolean }> {
  const production = Object.entries(variables()).map(([name, s]) => ({ name, default: s.default, rule: s.rule, meaning: s.meaning, testOnly: false }));
  const test = [
    { name: TEST_MODE_VAR, default: "0", rule: '"1" or "0"', meaning: "1: the test switches below act; a switch set without it refuses the configuration", testOnly: true },
    ...Object.entries(TEST_SWITCHES).map(([name, s]) => ({ name, default: "off", rule: s.rule, meaning: s.meaning, testOnly: true })),
  ];
  return [...production, ...test];
}

/** Reads `names` from env: the valid values (unset ones absent) and a problem for each invalid one. */
function readVariables(env: Record<string, unknown>, names: readonly string[]): { values: Record<string, unknown>; problems: ConfigProblem[] } {
  const all = variables();
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const name of names) {
    const parsed = all[name]!.schema.safeParse(env[name]);
    if (!parsed.success) problems.push({ variable: name, problem: parsed.error.issues[0]?.message ?? "invalid" });
    else if (parsed.data !== undefined) values[name] = parsed.data;
  }
  return { values, problems };
}

export type ConfigResult = { ok: true; config: KaiwaConfig } | { ok: false; error: ConfigError };

/** Parses and validates the whole configuration, without memo or logging (tests, scripts). */
export function parseConfig(env: Record<string, unknown>): ConfigResult {
  const known = variables();
  const { values: v, problems } = readVariables(env, Object.keys(known));
  const test = readTestSwitches(env);
  problems.push(...test.problems);

  for (const name of Object.keys(env)) {
    if (!name.startsWith("KAIWA_") || name in known || name === TEST_MODE_VAR || name in TEST_SWITCHES || env[name] === undefined) continue;
    const near = closest(name, [...Object.keys(known), TEST_MODE_VAR, ...Object.keys(TEST_SWITCHES)]);
    problems.push({ variable: name, problem: `not a variable kaiwa reads${near ? ` (did you mean ${near}?)` : ""}` });
  }
  // Rules across variables: each names the variable to fix.
  const set = (name: string) => env[name] !== undefined;
  if (set("KAIWA_PUSH_URL") && !set("KAIWA_PUSH_SECRET")) problems.push({ variable: "KAIWA_PUSH_SECRET", problem: "required when KAIWA_PUSH_URL is set (pushes are signed with it)" });
  if (set("KAIWA_PUSH_SECRET") && !set("KAIWA_PUSH_URL")) problems.push({ variable: "KAIWA_PUSH_URL", problem: "required when KAIWA_PUSH_SECRET is set (where to push)" });
  if (set("KAIWA_JWKS_URL") && !set("KAIWA_SERVICE_SECRET") && !set("KAIWA_JWT_SECRET")) {
    problems.push({ variable: "KAIWA_SERVICE_SECRET", problem: "required with KAIWA_JWKS_URL: actor-to-actor calls made from alarms are signed with it" });
  }
  // A publish key opens only the publish API: one that also signs tokens would let its holder mint users or actors.
  const keys = (v.KAIWA_PUBLISH_KEYS as string[] | undefined) ?? [];
  for (const secret of ["KAIWA_JWT_SECRET", "KAIWA_SERVICE_SECRET"]) {
    if (keys.includes(env[secret] as string)) problems.push({ variable: "KAIWA_PUBLISH_KEYS", problem: `a key equals ${secret}; use a key of its own (openssl rand -hex 32)` });
  }
  if (set("KAIWA_DB_WS_PROXY") && !set("KAIWA_DATABASE_URL")) problems.push({ variable: "KAIWA_DB_WS_PROXY", problem: "set without KAIWA_DATABASE_URL (it only routes the archive's connection)" });
  // Object storage is all or nothing: a half-configured bucket would fail at the first upload, not at start.
  const s3Set = S3_VARIABLES.filter(set);
  if (s3Set.length > 0 || set("KAIWA_S3_REGION")) {
    for (const name of S3_VARIABLES) if (!set(name)) problems.push({ variable: name, problem: `required with ${s3Set[0] ?? "KAIWA_S3_REGION"} (object storage needs all of ${S3_VARIABLES.join(", ")})` });
  }
  const retryBaseMs = (v.KAIWA_ARCHIVE_RETRY_BASE_MS as number | undefined) ?? ARCHIVE_DEFAULTS.retryBaseMs;
  const retryCapMs = (v.KAIWA_ARCHIVE_RETRY_CAP_MS as number | undefined) ?? ARCHIVE_DEFAULTS.retryCapMs;
  if (retryCapMs < retryBaseMs && !problems.some((p) => p.variable.startsWith("KAIWA_ARCHIVE_RETRY_"))) {
    problems.push({ variable: "KAIWA_ARCHIVE_RETRY_CAP_MS", problem: `must be >= KAIWA_ARCHIVE_RETRY_BASE_MS (${retryBaseMs}), got ${retryCapMs}` });
  }
  if (problems.length > 0) return { ok: false, error: new ConfigError(problems) };

  const str = (name: string) => v[name] as string | undefined;
  const num = (name: string, fallback: number) => (v[name] as number | undefined) ?? fallback;
  const databaseUrl = str("KAIWA_DATABASE_URL");
  const wsProxy = str("KAIWA_DB_WS_PROXY");
  const pushUrl = str("KAIWA_PUSH_URL");
  const pushSecret = str("KAIWA_PUSH_SECRET");
  const config: KaiwaConfig = {
    auth: {
      jwtSecret: str("KAIWA_JWT_SECRET"),
      jwksUrl: str("KAIWA_JWKS_URL"),
      serviceSecret: str("KAIWA_SERVICE_SECRET") ?? str("KAIWA_JWT_SECRET"),
    },
    publish: { keys },
    hibernate: (v.KAIWA_HIBERNATE as boolean | undefined) ?? false,
    relayHibernate: (v.KAIWA_RELAY_HIBERNATE as boolean | undefined) ?? true,
    relayCoalesceMs: num("KAIWA_RELAY_COALESCE_MS", RELAY_COALESCE_MS),
    relayUpstream: str("KAIWA_RELAY_UPSTREAM"),
    publicOrigin: str("KAIWA_PUBLIC_ORIGIN"),
    room: {
      resumeMaxEvents: num("KAIWA_RESUME_MAX_EVENTS", ROOM_DEFAULTS.resumeMaxEvents),
      flushWindowMs: num("KAIWA_FLUSH_WINDOW_MS", ROOM_DEFAULTS.flushWindowMs),
      notifyAlarmMs: num("KAIWA_NOTIFY_ALARM_MS", ROOM_DEFAULTS.notifyAlarmMs),
      messagesPerSecond: num("KAIWA_MESSAGES_PER_SECOND", ROOM_DEFAULTS.messagesPerSecond),
      messageBurst: num("KAIWA_MESSAGE_BURST", ROOM_DEFAULTS.messageBurst),
    },
    push: pushUrl && pushSecret ? { url: pushUrl, secret: pushSecret } : undefined,
    directory: {
      intervalMs: num("KAIWA_DIRECTORY_INTERVAL_MS", DIRECTORY_DEFAULTS.intervalMs),
      timeoutMs: num("KAIWA_DIRECTORY_TIMEOUT_MS", DIRECTORY_DEFAULTS.timeoutMs),
    },
    archive: {
      db: databaseUrl ? { url: databaseUrl, ...(wsProxy ? { wsProxy } : {}) } : undefined,
      retentionEvents: num("KAIWA_RETENTION_EVENTS", ARCHIVE_DEFAULTS.retentionEvents),
      batchRows: num("KAIWA_ARCHIVE_BATCH_ROWS", ARCHIVE_DEFAULTS.batchRows),
      rowsPerAlarm: num("KAIWA_ARCHIVE_ROWS_PER_ALARM", ARCHIVE_DEFAULTS.rowsPerAlarm),
      drainDelayMs: num("KAIWA_ARCHIVE_DELAY_MS", ARCHIVE_DEFAULTS.drainDelayMs),
      retryBaseMs,
      retryCapMs,
    },
    s3: str("KAIWA_S3_ENDPOINT")
      ? {
          endpoint: str("KAIWA_S3_ENDPOINT")!,
          bucket: str("KAIWA_S3_BUCKET")!,
          accessKeyId: str("KAIWA_S3_ACCESS_KEY_ID")!,
          secretAccessKey: str("KAIWA_S3_SECRET_ACCESS_KEY")!,
          region: str("KAIWA_S3_REGION") ?? "auto",
        }
      : undefined,
    test: test.switches,
  };
  return { ok: true, config: deepFreeze(config) };
}

// ---- Memo: per env object, and per content (the worker's env is a fresh object on every request).

const byObject = new WeakMap<object, ConfigResult>();
const byContent = new Map<string, ConfigResult>();

/** The KAIWA_* part of env as a string: the only part the result depends on. */
function fingerprint(env: Record<string, unknown>): string {
  let key = "";
  for (const name in env) {
    if (!name.startsWith("KAIWA_")) continue;
    const value = env[name];
    key += `${name}\u0000${typeof value}\u0000${String(value)}\u0001`;
  }
  return key;
}

/**
 * The configuration for this env, or the error naming what is wrong; memoised, never throws. The first
 * time an env is found invalid the error is logged (console.error), once.
 */
export function checkConfig(env: Record<string, unknown>): ConfigResult {
  let result = byObject.get(env);
  if (result) return result;
  const key = fingerprint(env);
  result = byContent.get(key);
  if (!result) {
    result = parseConfig(env);
    if (!result.ok) console.error(`kaiwa: refusing to start: ${result.error.message}`);
    if (byContent.size >= 16) byContent.clear(); // one deployment has one env; tests may have a few
    byContent.set(key, result);
  }
  byObject.set(env, result);
  return result;
}

/** The configuration for this env (memoised); throws ConfigError naming every variable that is wrong. */
export function loadConfig(env: Record<string, unknown>): KaiwaConfig {
  const result = checkConfig(env);
  if (!result.ok) throw result.error;
  return result.config;
}

// ---- Partial readers, for code that may run with a partial env (Node scripts with process.env, unit
// tests of one module): they check only the variables they return, with the same rules and messages.

/** The archive's database (KAIWA_DATABASE_URL, KAIWA_DB_WS_PROXY); undefined when unset. Throws ConfigError. */
export function readDatabaseConfig(env: Record<string, unknown>): ArchiveConfig | undefined {
  const { values, problems } = readVariables(env, ["KAIWA_DATABASE_URL", "KAIWA_DB_WS_PROXY"]);
  if (problems.length) throw new ConfigError(problems);
  const url = values.KAIWA_DATABASE_URL as string | undefined;
  const wsProxy = values.KAIWA_DB_WS_PROXY as string | undefined;
  return url ? { url, ...(wsProxy ? { wsProxy } : {}) } : undefined;
}

const authByObject = new WeakMap<object, KaiwaConfig["auth"] | ConfigError>();

/** The token keys (KAIWA_JWKS_URL, KAIWA_JWT_SECRET, KAIWA_SERVICE_SECRET), memoised per env object. Throws ConfigError. */
export function readAuthConfig(env: Record<string, unknown>): KaiwaConfig["auth"] {
  let result = authByObject.get(env);
  if (!result) {
    const whole = byObject.get(env);
    if (whole?.ok) result = whole.config.auth;
    else {
      const { values, problems } = readVariables(env, ["KAIWA_JWKS_URL", "KAIWA_JWT_SECRET", "KAIWA_SERVICE_SECRET"]);
      const jwtSecret = values.KAIWA_JWT_SECRET as string | undefined;
      result = problems.length
        ? new ConfigError(problems)
        : Object.freeze({ jwtSecret, jwksUrl: values.KAIWA_JWKS_URL as string | undefined, serviceSecret: (values.KAIWA_SERVICE_SECRET as string | undefined) ?? jwtSecret });
    }
    authByObject.set(env, result);
  }
  if (result instanceof ConfigError) throw result;
  return result;
}

// ---- Deploy.

/**
 * For the deploy script: throws naming every test-only variable (KAIWA_TEST_MODE and any KAIWA_TEST_*)
 * in the vars about to be deployed. Production never runs with a fault switch or in test mode.
 */
export function assertDeployableEnv(vars: Record<string, unknown>): void {
  const test = Object.keys(vars).filter((name) => name.startsWith(TEST_PREFIX) && vars[name] !== undefined).sort();
  if (test.length === 0) return;
  throw new ConfigError(test.map((variable) => ({ variable, problem: "test-only: never deploy it (remove it from the deploy's --var list)" })));
}

// ---- Helpers.

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** The known name within edit distance 3 of `name`, if one is clearly closest. */
function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of names) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}
