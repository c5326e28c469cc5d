/**
 * Versioned migrations: `db/migrations/NNN_name.sql`, applied in order, each once, each in its own
 * transaction, recorded in `kaiwa_schema_migrations`. An advisory lock keeps two migrators (two dev
 * starts, a deploy and a test) from applying the same file twice.
 *
 * `npm run db:migrate` applies them to `KAIWA_DATABASE_URL` (through `KAIWA_DB_WS_PROXY` when set), with
 * the same driver the rooms use. `npm run dev` and the test harness call `migrate()` at start.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { neonConfig } from "@neondatabase/serverless";
import { archiveConfigFromEnv, withDb, type ArchiveConfig, type Db } from "../party/archive/connection.ts";

const MIGRATIONS_DIR = join(import.meta.dirname, "migrations");
const LOCK_KEY = 7_461_301; // any constant; names this project's migration lock

export type Migration = { version: string; sql: string };

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: file.replace(/\.sql$/, ""), sql: readFileSync(join(dir, file), "utf8") }));
}

/** Applies pending migrations; returns the versions it applied. */
export async function applyMigrations(db: Db, migrations = listMigrations()): Promise<string[]> {
  await db.query("CREATE TABLE IF NOT EXISTS kaiwa_schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
  const applied: string[] = [];
  for (const migration of migrations) {
    await db.query("BEGIN");
    try {
      await db.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      const done = await db.query("SELECT 1 FROM kaiwa_schema_migrations WHERE version = $1", [migration.version]);
      if (done.rowCount === 0) {
        await db.query(migration.sql); // simple query protocol: a file may hold several statements
        await db.query("INSERT INTO kaiwa_schema_migrations (version) VALUES ($1)", [migration.version]);
        applied.push(migration.version);
      }
      await db.query("COMMIT");
    } catch (error) {
      await db.query("ROLLBACK").catch(() => {});
      throw new Error(`migration ${migration.version} failed: ${(error as Error).message}`);
    }
  }
  return applied;
}

/** Node has no global WebSocket before v22: the driver gets `ws`. */
export function migrate(config: ArchiveConfig): Promise<string[]> {
  neonConfig.webSocketConstructor = WebSocket as never;
  return withDb(config, (db) => applyMigrations(db), 60_000);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = archiveConfigFromEnv(process.env);
  if (!config) {
    console.error("db:migrate: set KAIWA_DATABASE_URL (and KAIWA_DB_WS_PROXY for a local bridge)");
    process.exit(2);
  }
  migrate(config).then(
    (applied) => console.log(applied.length ? `db:migrate: applied ${applied.join(", ")}` : "db:migrate: up to date"),
    (error: Error) => {
      console.error(`db:migrate: ${error.message}`);
      process.exit(1);
    },
  );
}
