/**
 * The archive database for integration tests, a real engine either way:
 * - `KAIWA_TEST_DB=pglite` (default): db/serve.ts in its own process (PGlite persisted to a temp dir + bridge).
 * - `KAIWA_TEST_DB=postgres`: a PostgreSQL server from Debian's packages in a temp cluster on a free port
 *   (password auth, as in production), with db/serve.ts as bridge only. CI runs the archive tests both ways.
 * `stopDb()`/`startDb()` take the engine down and bring it back (the outage test); the bridge port stays.
 * `query()` uses the same driver and bridge as the rooms.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./free-port.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { neonConfig } from "@neondatabase/serverless";
import { withDb } from "../../party/archive/connection.ts";
import { migrate } from "../../db/migrate.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const PG_BIN = process.env.KAIWA_PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const TEST_DB_KIND = (process.env.KAIWA_TEST_DB ?? "pglite") as "pglite" | "postgres";

export class ArchiveDb {
  readonly kind = TEST_DB_KIND;
  readonly dir = mkdtempSync(join(tmpdir(), "kaiwa-archive-"));
  bridgePort = 0;
  private pgPort = 0;
  private serve?: ChildProcess;
  private url = "";

  get vars(): Record<string, string> {
    return { KAIWA_DATABASE_URL: this.url, KAIWA_DB_WS_PROXY: `127.0.0.1:${this.bridgePort}` };
  }

  async start(): Promise<void> {
    if (this.kind === "postgres") {
      requirePostgres();
      this.pgPort = await freePort();
      this.initCluster();
      this.pgCtl("start");
      this.url = `postgres://kaiwa:kaiwa-test@127.0.0.1:${this.pgPort}/postgres`;
      await this.startServe(["--target", `127.0.0.1:${this.pgPort}`]);
      await migrate({ url: this.url, wsProxy: `127.0.0.1:${this.bridgePort}` });
    } else {
      await this.startServe(["--pglite", join(this.dir, "pglite")]);
    }
  }

  /** The outage: the engine goes away (PGlite's process, or the Postgres server). */
  async stopDb(): Promise<void> {
    if (this.kind === "postgres") this.pgCtl("stop");
    else await this.stopServe();
  }

  async startDb(): Promise<void> {
    if (this.kind === "postgres") this.pgCtl("start");
    else await this.startServe(["--pglite", join(this.dir, "pglite")]);
  }

  async stop(): Promise<void> {
    await this.stopServe();
    if (this.kind === "postgres") this.pgCtl("stop", true);
    rmSync(this.dir, { recursive: true, force: true });
  }

  query<T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
    neonConfig.webSocketConstructor = WebSocket as never;
    return withDb({ url: this.url, wsProxy: `127.0.0.1:${this.bridgePort}` }, async (db) => (await db.query(sql, params)).rows as T[], 60_000);
  }

  private async startServe(args: string[]): Promise<void> {
    if (this.bridgePort) args.push("--bridge-port", String(this.bridgePort));
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "db", "serve.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.serve = child;
    let log = "";
    const ready = await new Promise<{ bridgePort: number; url: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`db/serve.ts not ready after 60 s:\n${log}`)), 60_000);
      child.stdout!.on("data", (chunk: Buffer) => {
        log += chunk;
        const line = log.split("\n").find((l) => l.startsWith('{"ready":true'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => (log += chunk));
      child.once("exit", (code) => reject(new Error(`db/serve.ts exited (${code}):\n${log}`)));
    });
    this.bridgePort = ready.bridgePort;
    if (ready.url) this.url = ready.url;
  }

  private async stopServe(): Promise<void> {
    const child = this.serve;
    if (!child || child.exitCode !== null) return;
    this.serve = undefined;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }

  private initCluster(): void {
    const data = join(this.dir, "pg");
    const pwfile = join(this.dir, "pw");
    writeFileSync(pwfile, "kaiwa-test\n");
    chmodSync(this.dir, 0o777);
    chmodSync(pwfile, 0o644);
    // --locale C.UTF-8: a UTF-8 ctype, unlike PGlite's C locale; search must behave the same on both.
    run(asPostgres([join(PG_BIN, "initdb"), "-D", data, "-U", "kaiwa", "--pwfile", pwfile, "-E", "UTF8", "--locale", "C.UTF-8", "--auth", "scram-sha-256"]));
  }

  private pgCtl(action: "start" | "stop", quiet = false): void {
    const data = join(this.dir, "pg");
    const args =
      action === "start"
        ? [join(PG_BIN, "pg_ctl"), "-D", data, "-l", join(this.dir, "pg.log"), "-w", "-o", `-p ${this.pgPort} -k ${this.dir} -c listen_addresses=127.0.0.1`, "start"]
        : [join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"];
    const result = spawnSync(asPostgres(args)[0]!, asPostgres(args).slice(1), { encoding: "utf8" });
    if (result.status !== 0 && !quiet) throw new Error(`pg_ctl ${action} failed: ${result.stderr || result.stdout}`);
  }
}

/** Postgres refuses to run as root; CI runs as root, so the server runs as the `postgres` user there. */
function asPostgres(command: string[]): string[] {
  return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...command] : command;
}

function run(command: string[]): void {
  const result = spawnSync(command[0]!, command.slice(1), { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command.join(" ")} failed: ${result.stderr || result.stdout}`);
}

/** A missing server fails the run in CI; locally the error names the one command that installs it. */
function requirePostgres(): void {
  if (existsSync(join(PG_BIN, "postgres"))) return;
  throw new Error(`KAIWA_TEST_DB=postgres needs PostgreSQL 15 in ${PG_BIN}: apt-get install -y postgresql`);
}
