/**
 * Archive settings a room reads from its env (`partykit dev --var KEY=VALUE`), through the one loader
 * (party/config.ts). The archive is off unless `KAIWA_DATABASE_URL` is set: then nothing is drained and
 * nothing is ever pruned from a room.
 */
import { loadConfig } from "../config.ts";
import type { ArchiveConfig } from "./connection.ts";

export { ARCHIVE_DEFAULTS } from "../config.ts";

export type ArchiveSettings = {
  db: ArchiveConfig | undefined;
  /** Events a room keeps in its own storage; older ones, once archived, are pruned and read from Postgres. */
  retentionEvents: number;
  /** Rows per upsert transaction. */
  batchRows: number;
  /** Most rows one alarm drains before it yields and re-arms (keeps each alarm invocation short). */
  rowsPerAlarm: number;
  /** How long after a commit the drain runs, so one drain carries many commits. */
  drainDelayMs: number;
  /** Backoff after a failed drain: full jitter between base·2^n and this cap. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Test-only: the Nth drain transaction commits, then behaves as if the reply was lost (0: never). */
  testLoseReplyAt: number;
};

/** The archive part of the configuration (`loadConfig(env).archive`) with its test switch; throws ConfigError when invalid. */
export function archiveSettingsFromEnv(env: Record<string, unknown>): ArchiveSettings {
  const config = loadConfig(env);
  return archiveSettings(config);
}

/** The same from an already loaded configuration. */
export function archiveSettings(config: ReturnType<typeof loadConfig>): ArchiveSettings {
  return { ...config.archive, testLoseReplyAt: config.test.archiveLoseReplyAt };
}
