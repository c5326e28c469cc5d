/**
 * Archive settings a room reads from its env (`partykit dev --var KEY=VALUE`). The archive is off unless
 * `KAIWA_DATABASE_URL` is set: then nothing is drained and nothing is ever pruned from a room.
 */
import { archiveConfigFromEnv, type ArchiveConfig } from "./connection.ts";

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

export const ARCHIVE_DEFAULTS = {
  retentionEvents: 10_000,
  batchRows: 500,
  rowsPerAlarm: 5_000,
  drainDelayMs: 200,
  retryBaseMs: 500,
  retryCapMs: 30_000,
} as const;

export function archiveSettingsFromEnv(env: Record<string, unknown>): ArchiveSettings {
  const num = (key: string, fallback: number, min = 0): number => {
    const raw = env[key];
    const value = typeof raw === "string" ? Number(raw) : typeof raw === "number" ? raw : NaN;
    return Number.isInteger(value) && value >= min ? value : fallback;
  };
  return {
    db: archiveConfigFromEnv(env),
    retentionEvents: num("KAIWA_RETENTION_EVENTS", ARCHIVE_DEFAULTS.retentionEvents, 1),
    batchRows: num("KAIWA_ARCHIVE_BATCH_ROWS", ARCHIVE_DEFAULTS.batchRows, 1),
    rowsPerAlarm: num("KAIWA_ARCHIVE_ROWS_PER_ALARM", ARCHIVE_DEFAULTS.rowsPerAlarm, 1),
    drainDelayMs: num("KAIWA_ARCHIVE_DELAY_MS", ARCHIVE_DEFAULTS.drainDelayMs),
    retryBaseMs: num("KAIWA_ARCHIVE_RETRY_BASE_MS", ARCHIVE_DEFAULTS.retryBaseMs, 1),
    retryCapMs: num("KAIWA_ARCHIVE_RETRY_CAP_MS", ARCHIVE_DEFAULTS.retryCapMs, 1),
    testLoseReplyAt: num("KAIWA_TEST_ARCHIVE_LOSE_REPLY_AT", 0),
  };
}
