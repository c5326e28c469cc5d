/**
 * Starts a real `partykit dev` for integration tests: a free port, its own persisted state directory,
 * its own process group (partykit runs workerd as a child, so killing the group kills the whole server).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintToken } from "../../scripts/mint-token.ts";
import { freePort } from "./free-port.ts";

const ROOT = join(import.meta.dirname, "..", "..");
export const TEST_SECRET = "kaiwa-test-secret-" + process.pid;

/**
 * `nodeArgs`: options for partykit's own Node process, before its script (the bench's `--import` preload).
 * `testMode`: KAIWA_TEST_MODE=1, without which the test-only switches (`KAIWA_TEST_*`, party/test-switches.ts)
 * are refused. Unset: on exactly when `vars` sets a switch, so a test that injects a fault gets a server that
 * acts on it, and every other test runs the production configuration (switches inert). `false`: off even
 * with switches (to see the refusal).
 */
export type DevServerOptions = { vars?: Record<string, string | number>; stateDir?: string; nodeArgs?: string[]; testMode?: boolean };

/** The `--var`s a DevServer passes: the test token secret, the caller's vars, and KAIWA_TEST_MODE (see `testMode`). */
export function devServerVars(options: Pick<DevServerOptions, "vars" | "testMode"> = {}): Record<string, string | number> {
  // Tests drive rooms far faster than a person (1,000 messages in flight from one user); the per-user
  // message limit (PROTOCOL R18) is lifted unless a test sets it, as the flow-control tests do.
  const vars: Record<string, string | number> = { KAIWA_JWT_SECRET: TEST_SECRET, KAIWA_MESSAGES_PER_SECOND: 0, ...options.vars };
  const switches = Object.keys(vars).some((key) => key.startsWith("KAIWA_TEST_") && key !== "KAIWA_TEST_MODE" && vars[key] !== undefined);
  if (options.testMode ?? switches) vars.KAIWA_TEST_MODE ??= "1";
  return vars;
}

export class DevServer {
  readonly stateDir: string;
  port = 0;
  private child?: ChildProcess;
  private log: string[] = [];
  /** Chunks already dropped from the front of `log`, so marks stay valid as it is trimmed. */
  private logDropped = 0;

  constructor(private readonly options: DevServerOptions = {}) {
    this.stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "kaiwa-state-"));
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The server's process group id (partykit and its workerd child), for the bench's CPU and memory readings. */
  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  /**
   * `healthyWithinMs`: how long to wait for the server to answer before rejecting (the caller kills it).
   * A start that hangs (workerd idle before binding any socket, no error, the process alive: seen by the
   * bench after its 18,500-socket step, bench/targets/kaiwa.ts, and once in a clean clone's CI, 60 s of
   * "starting server..." and nothing) is killed and tried once more, each try getting half the time, on a
   * new port if this server never ran (a restart keeps its port: its clients reconnect there). A start that fails (the process exits, the port is
   * taken, the configuration is refused) is not retried: it would fail the same way.
   */
  async start(healthyWithinMs = 60_000): Promise<void> {
    const firstStart = !this.port;
    try {
      await this.startOnce(healthyWithinMs / 2);
    } catch (error) {
      if (!(error instanceof StartHung)) throw error;
      console.error(`${error.message}\npartykit dev: killed and started once more`);
      await this.kill();
      if (firstStart) this.port = await freePort();
      await this.startOnce(healthyWithinMs / 2);
    }
  }

  private async startOnce(healthyWithinMs: number): Promise<void> {
    if (!this.port) this.port = await freePort();
    const vars = devServerVars(this.options); // read at every start: a test may change its vars between restarts
    const args = [...(this.options.nodeArgs ?? []), join(ROOT, "node_modules", "partykit", "dist", "bin.mjs"), "dev", "--port", String(this.port), "--disable-request-cf-fetch", "--no-hotkeys", "--persist", this.stateDir];
    for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}=${value}`);
    this.logDropped += this.log.length;
    this.log = [];
    const child = spawn(process.execPath, args, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk) => this.keepLog(chunk));
    child.stderr!.on("data", (chunk) => this.keepLog(chunk));
    this.child = child;
    liveGroups.add(child.pid!);
    child.once("exit", () => liveGroups.delete(child.pid!));
    await this.waitHealthy(healthyWithinMs);
  }

  /** SIGKILL the whole process group and wait until the port is closed. */
  async kill(): Promise<void> {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
    this.child = undefined;
    const deadline = Date.now() + 15_000;
    while (await portOpen(this.port)) {
      if (Date.now() > deadline) throw new Error(`port ${this.port} still open after kill`);
      await sleep(50);
    }
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill();
    if (!this.options.stateDir) rmSync(this.stateDir, { recursive: true, force: true });
  }

  recentLog(): string {
    return this.log.join("").slice(-4000);
  }

  /** A position in the server's output, for `logSince`. */
  logMark(): number {
    return this.logDropped + this.log.length;
  }

  /** What the server printed after `mark` (as far back as the kept log reaches). */
  logSince(mark: number): string {
    return this.log.slice(Math.max(0, mark - this.logDropped)).join("");
  }

  token(userId: string, options: { name?: string; operator?: boolean; expiresIn?: string | number } = {}): Promise<string> {
    return mintToken(userId, {
      secret: TEST_SECRET,
      ...(options.name ? { name: options.name } : {}),
      ...(options.operator ? { role: "operator" as const } : {}),
      ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
    });
  }

  async fetchJson(path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: any }> {
    const headers = new Headers(init.headers);
    if (init.token) headers.set("authorization", `Bearer ${init.token}`);
    const response = await fetch(this.url + path, { ...init, headers });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: leave as text for the assertion message
    }
    return { status: response.status, body };
  }

  private keepLog(chunk: Buffer): void {
    this.log.push(chunk.toString());
    if (this.log.length > 400) {
      this.log.splice(0, 200);
      this.logDropped += 200;
    }
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const mark = this.logMark();
    let failed = false;
    while (Date.now() < deadline) {
      failed = this.child?.exitCode !== null && this.child?.exitCode !== undefined;
      // partykit stays up after workerd fails to start (it waits for a file change): stop waiting at once.
      failed ||= RUNTIME_FAILED.test(this.logSince(mark));
      if (failed) break;
      try {
        // A bounded wait: whatever holds the port may accept and never answer.
        const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
        if (response.ok) return;
        // Up, but refusing its configuration (party/config.ts): a typed error naming the variable. Say so at once.
        const refused = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
        if (refused?.error?.code === "internal" && refused.error.message) throw new ConfigRefused(refused.error.message);
      } catch (error) {
        if (error instanceof ConfigRefused) throw error;
        // not up yet
      }
      await sleep(100);
    }
    const message = `partykit dev did not become healthy on ${this.port}:\n${this.recentLog()}`;
    throw failed ? new Error(message) : new StartHung(message);
  }
}

/** `start()` waited its whole time for a server that neither answered nor failed. */
class StartHung extends Error {}

/** `start()` found the server up but refusing its configuration; the message names the variable. */
export class ConfigRefused extends Error {
  constructor(message: string) {
    super(`partykit dev refused its configuration: ${message}`);
    this.name = "ConfigRefused";
  }
}

/** Never leave a workerd behind: a crashed test or bench would otherwise skew every later measurement. */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
});

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** What partykit prints when workerd could not start (e.g. its port is taken): it will not become healthy. */
const RUNTIME_FAILED = /Address already in use|Error reloading local server/;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
