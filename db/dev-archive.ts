/**
 * The archive for `npm run dev`: the database named by `KAIWA_DATABASE_URL` (Neon, or any Postgres, with
 * `KAIWA_DB_WS_PROXY` naming a bridge when it is local), else the embedded PGlite persisted in
 * `.kaiwa/pglite`. Either way migrations are applied before the rooms start.
 */
import { join } from "node:path";
import { archiveConfigFromEnv } from "../party/archive/connection.ts";
import { startEmbedded } from "./embedded.ts";
import { migrate } from "./migrate.ts";

export async function startDevArchive(stateDir: string): Promise<{ vars: Record<string, string>; describe: string; stop(): Promise<void> }> {
  const external = archiveConfigFromEnv(process.env);
  if (external) {
    await migrate(external);
    const vars: Record<string, string> = { KAIWA_DATABASE_URL: external.url };
    if (external.wsProxy) vars.KAIWA_DB_WS_PROXY = external.wsProxy;
    return { vars, describe: "archive: KAIWA_DATABASE_URL", stop: async () => {} };
  }
  const embedded = await startEmbedded(join(stateDir, "pglite"));
  const config = { url: "postgres://postgres:postgres@127.0.0.1:5432/postgres", wsProxy: `127.0.0.1:${embedded.bridge.port}` };
  await migrate(config);
  return {
    vars: { KAIWA_DATABASE_URL: config.url, KAIWA_DB_WS_PROXY: config.wsProxy },
    describe: `archive: embedded PGlite in .kaiwa/pglite (bridge ws://${config.wsProxy})`,
    stop: () => embedded.stop(),
  };
}
