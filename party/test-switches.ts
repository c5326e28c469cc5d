/**
 * Every test-only fault switch (`KAIWA_TEST_*`) in one place. Integration tests set them with
 * `partykit dev --var` to inject what timing alone would not produce: a slow disk, a failed write, a lost
 * reply, a room that dies right after its write.
 *
 * They are INERT unless the process is explicitly in test mode, `KAIWA_TEST_MODE=1`. A switch set
 * without test mode does not act, and the configuration is refused as a whole (party/config.ts fails
 * every request with a message naming the switch) rather than only warned about: a switch that silently
 * does nothing makes a fault-injection test pass without its fault, and a switch in a production
 * deployment means a test configuration was copied there, which nobody should find out from a warning
 * in a log. `assertDeployableEnv` (party/config.ts) refuses them at deploy as well.
 *
 * Read once per env object, off the hot path: actors keep the parsed `TestSwitches` (from
 * `loadConfig(env).test`) and the hot path only reads its fields.
 *
 * This file is the leaf of configuration loading: it also holds the value parsers and the error type that
 * party/config.ts builds on (config.ts imports this file, never the other way, so no import cycle).
 */
import { z } from "zod";

// ---- Problems and the error naming them.

/** One thing wrong with one variable; shown as `<variable>: <problem>`. */
export type ConfigProblem = { variable: string; problem: string };

/** Thrown by the loaders: the message names every variable that is wrong and what is wrong with it. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join("; ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

// ---- Value parsers shared with party/config.ts. PartyKit passes `--var` values as strings and values
// from partykit.json's `vars` as JSON (numbers, booleans): both are accepted. Unset (`undefined`) parses
// to `undefined`, so each variable's default is applied in one place; an empty string is not "unset".

/** A variable's schema: `undefined` when unset, the parsed value otherwise, one custom issue when invalid. */
export type VarSchema<T> = z.ZodType<T | undefined, unknown>;

export type VarOptions = {
  /** The value may hold a credential: problems never echo it. */
  secret?: boolean;
};

/** How a rejected value is shown in a problem. */
export function shown(raw: unknown, options: VarOptions = {}): string {
  if (options.secret) return typeof raw === "string" ? `a value of ${raw.length} characters (not shown)` : `a ${typeof raw}`;
  if (typeof raw === "string") return JSON.stringify(raw.length > 80 ? raw.slice(0, 77) + "..." : raw);
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  return raw === null ? "null" : `a ${typeof raw}`;
}

/** Builds a variable's zod schema from a parse function returning the value or the problem. */
export function varSchema<T>(parse: (raw: unknown) => { value: T } | { problem: string }): VarSchema<T> {
  return z.unknown().transform((raw, ctx): T | undefined => {
    if (raw === undefined) return undefined;
    const parsed = parse(raw);
    if ("value" in parsed) return parsed.value;
    ctx.issues.push({ code: "custom", message: parsed.problem, input: raw });
    return z.NEVER;
  }) as VarSchema<T>;
}

/** The longest delay a timer takes (2^31-1 ms); a longer one fires at once in V8 and workerd. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A whole number from `min` to `max`: digits only as a string ("10000"; not "1e4", "5.0", " 5" or "-1"). */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER, maxWhy = ""): VarSchema<number> {
  return varSchema((raw) => {
    const value = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value < min) return { problem: `expected a whole number >= ${min}, got ${shown(raw)}` };
    if (value > max) return { problem: `expected a whole number <= ${max}${maxWhy}, got ${shown(raw)}` };
    return { value };
  });
}

/** Milliseconds for a timer: a whole number from `min` to MAX_TIMER_MS. */
export function milliseconds(min: number): VarSchema<number> {
  return wholeNumber(min, MAX_TIMER_MS, " (the longest timer delay)");
}

/** On/off: "1" or "0" (JSON: 1, 0, true, false). */
export function flag(): VarSchema<boolean> {
  return varSchema((raw) => {
    if (raw === "1" || raw === 1 || raw === true) return { value: true };
    if (raw === "0" || raw === 0 || raw === false) return { value: false };
    return { problem: `expected "1" (on) or "0" (off), got ${shown(raw)}` };
  });
}

/** One of a few words. */
export function oneOf<const T extends string>(values: readonly T[]): VarSchema<T> {
  return varSchema((raw) =>
    typeof raw === "string" && (values as readonly string[]).includes(raw)
      ? { value: raw as T }
      : { problem: `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${shown(raw)}` },
  );
}

// ---- The switches.

export const TEST_MODE_VAR = "KAIWA_TEST_MODE";
/** Every switch's name starts with this; so does TEST_MODE_VAR. */
export const TEST_PREFIX = "KAIWA_TEST_";

export type TestSwitches = {
  /** KAIWA_TEST_MODE=1: the switches below may act. */
  readonly mode: boolean;
  /** Every durable room write is delayed by this many ms (proves PROTOCOL I2: nothing is seen before the write). */
  readonly writeDelayMs: number;
  /** The Nth durable room write fails once (0: never), to prove the 4013 resync keeps order (PROTOCOL I4). */
  readonly failWriteAt: number;
  /** The Nth durable room write never settles (0: never): the room's stall watchdog must notice (PROTOCOL R3b). */
  readonly hangWriteAt: number;
  /** How long a write may stay unsettled before the watchdog gives it up (0: LIMITS.writeStallMs). */
  readonly writeStallMs: number;
  /** The Nth release of a durable batch throws (0: never), at `failReleaseStage`. */
  readonly failReleaseAt: number;
  /** "release": throws after the room's state took the batch, before any ack; "state": before the state took it. */
  readonly failReleaseStage: "state" | "release";
  /** The room never notifies inboxes, as if it died right after its write (its alarm is still armed). */
  readonly holdNotify: boolean;
  /** The Nth archive drain transaction commits, then acts as if its reply was lost (0: never). */
  readonly archiveLoseReplyAt: number;
  /** Every operator audit record's write fails (room/admin.ts): proves an audited read serves nothing without its record. */
  readonly failAuditWrite: boolean;
  /** The directory answers each report this many ms late (proves no ack waits for it). */
  readonly directoryDelayMs: number;
  /** A room's bound on sessions in memory (0: LIMITS.maxSessionsInMemory), so a test reaches it with a few sockets. */
  readonly maxSessionsInMemory: number;
  /** PROTOCOL R33: an unattached upload's time to live, ms (0: LIMITS.uploadTtlMs), so a test sees the cleanup. */
  readonly uploadTtlMs: number;
  /** PROTOCOL R30, R32: presigned URLs last this many seconds (0: the LIMITS defaults), so a test sees one expire. */
  readonly presignSeconds: number;
  /** PROTOCOL R80: a room's idle-socket sweep, shortened so a test sees it (0: the LIMITS defaults). */
  readonly idleCloseMs: number;
  readonly idleCloseBytes: number;
  readonly idleSweepMs: number;
  /** PROTOCOL R81: rooms the directory keeps (0: LIMITS.directoryMaxRooms), so a test reaches the bound. */
  readonly directoryMaxRooms: number;
  /** PROTOCOL R82: live frames held for one joining socket, UTF-16 units (0: LIMITS.catchUpMaxBytes), so a test overflows it. */
  readonly catchUpMaxBytes: number;
};

/** What every actor runs with outside test mode. */
export const TEST_SWITCHES_OFF: TestSwitches = Object.freeze({
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

type SwitchSpec = { field: Exclude<keyof TestSwitches, "mode">; schema: VarSchema<number | boolean | string>; rule: string; meaning: string };

/** Every switch: variable → field of TestSwitches, its validation and what it does (README's test-only table). */
export const TEST_SWITCHES: Readonly<Record<string, SwitchSpec>> = {
  KAIWA_TEST_WRITE_DELAY_MS: { field: "writeDelayMs", schema: milliseconds(0), rule: "whole number of ms >= 0", meaning: "every durable room write is delayed by this long (a slow disk)" },
  KAIWA_TEST_FAIL_WRITE_AT: { field: "failWriteAt", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "the Nth durable room write fails once" },
  KAIWA_TEST_HANG_WRITE_AT: { field: "hangWriteAt", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "the Nth durable room write never settles (the stall watchdog gives it up)" },
  KAIWA_TEST_WRITE_STALL_MS: { field: "writeStallMs", schema: milliseconds(0), rule: "whole number of ms >= 0", meaning: "how long a write may stay unsettled before the room gives it up (default 30 s)" },
  KAIWA_TEST_FAIL_RELEASE_AT: { field: "failReleaseAt", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "the Nth release of a durable batch throws" },
  KAIWA_TEST_FAIL_RELEASE_STAGE: { field: "failReleaseStage", schema: oneOf(["state", "release"]), rule: '"state" or "release"', meaning: "where that release throws: before the room's state took the batch, or after (default release)" },
  KAIWA_TEST_HOLD_NOTIFY: { field: "holdNotify", schema: flag(), rule: '"1" or "0"', meaning: "rooms never notify inboxes, as if they died right after the write" },
  KAIWA_TEST_ARCHIVE_LOSE_REPLY_AT: { field: "archiveLoseReplyAt", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "the Nth drain transaction commits, then acts as if its reply was lost" },
  KAIWA_TEST_FAIL_AUDIT_WRITE: { field: "failAuditWrite", schema: flag(), rule: '"1" or "0"', meaning: "every operator audit record's write fails (an audited read of a DM or of edits must then serve nothing)" },
  KAIWA_TEST_DIRECTORY_DELAY_MS: { field: "directoryDelayMs", schema: milliseconds(0), rule: "whole number of ms >= 0", meaning: "the directory answers each room report this late" },
  KAIWA_TEST_MAX_SESSIONS_IN_MEMORY: { field: "maxSessionsInMemory", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "a room keeps at most this many sessions in memory (0: the protocol's limit)" },
  KAIWA_TEST_UPLOAD_TTL_MS: { field: "uploadTtlMs", schema: milliseconds(0), rule: "whole number of ms >= 0", meaning: "an unattached upload's time to live (default 24 h)" },
  KAIWA_TEST_PRESIGN_SECONDS: { field: "presignSeconds", schema: wholeNumber(0, 604_800), rule: "whole number of s from 0 to 604800", meaning: "how long presigned upload and download URLs last (default 15 and 5 minutes)" },
  KAIWA_TEST_IDLE_CLOSE_MS: { field: "idleCloseMs", schema: milliseconds(0), rule: "whole number of ms >= 0", meaning: "a room closes a socket silent this long while it broadcast idleCloseBytes (default 60 s)" },
  KAIWA_TEST_IDLE_CLOSE_BYTES: { field: "idleCloseBytes", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "what a room must have broadcast since a socket was last heard to close it (default 1 MiB)" },
  KAIWA_TEST_IDLE_SWEEP_MS: { field: "idleSweepMs", schema: milliseconds(0), rule: "whole number of ms >= 0", meaning: "how often a broadcasting room looks for silent sockets (default 10 s)" },
  KAIWA_TEST_DIRECTORY_MAX_ROOMS: { field: "directoryMaxRooms", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "rooms the directory keeps before it evicts the least recently reported idle ones (default 10,000)" },
  KAIWA_TEST_CATCH_UP_MAX_BYTES: { field: "catchUpMaxBytes", schema: wholeNumber(0), rule: "whole number >= 0", meaning: "live frames a room holds for one socket still replaying before it resyncs it (default 8 MiB)" },
};

const testModeSchema = flag();

/**
 * Parses the switches and the mode without memo or logging: the switches (all off unless the mode is on
 * and they are valid) and every problem (a bad value, or a switch set without test mode).
 */
export function readTestSwitches(env: Record<string, unknown>): { switches: TestSwitches; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const mode = testModeSchema.safeParse(env[TEST_MODE_VAR]);
  if (!mode.success) problems.push({ variable: TEST_MODE_VAR, problem: mode.error.issues[0]!.message });
  const on = mode.success && mode.data === true;
  const switches: Record<string, unknown> = { ...TEST_SWITCHES_OFF, mode: on };
  for (const [variable, spec] of Object.entries(TEST_SWITCHES)) {
    const raw = env[variable];
    if (raw === undefined) continue;
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) problems.push({ variable, problem: parsed.error.issues[0]!.message });
    else if (!on) problems.push({ variable, problem: `a test-only switch, set without ${TEST_MODE_VAR}=1: it would not act; remove it (tests: set ${TEST_MODE_VAR}=1)` });
    else switches[spec.field] = parsed.data;
  }
  return { switches: Object.freeze(switches as TestSwitches), problems };
}

const loaded = new WeakMap<object, TestSwitches | ConfigError>();

/**
 * The test switches for this env, read once per env object: all off outside test mode. Throws ConfigError
 * naming the switch if one is invalid or set without KAIWA_TEST_MODE=1. Actors use `loadConfig(env).test`
 * (party/config.ts), which also checks every other variable.
 */
export function loadTestSwitches(env: Record<string, unknown>): TestSwitches {
  let result = loaded.get(env);
  if (!result) {
    const { switches, problems } = readTestSwitches(env);
    result = problems.length ? new ConfigError(problems) : switches;
    loaded.set(env, result);
  }
  if (result instanceof ConfigError) throw result;
  return result;
}
