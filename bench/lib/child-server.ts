/**
 * Runs a baseline server (or redis-server) as its own process group, so its CPU and memory are measured
 * apart from the load generator's, and a crashed bench leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";

const live = new Set<number>();
process.once("exit", () => {
  for (const pid of live) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
});

export class ChildServer {
  private child?: ChildProcess;
  private log = "";

  constructor(
    private readonly command: string,
    private readonly args: string[],
    /** Resolves start() once this appears in the output. */
    private readonly readyText: string,
  ) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  start(timeoutMs = 20_000): Promise<void> {
    const child = spawn(this.command, this.args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    live.add(child.pid!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.command} not ready after ${timeoutMs} ms:\n${this.log.slice(-2000)}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        this.log = (this.log + chunk.toString()).slice(-20_000);
        if (this.log.includes(this.readyText)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code, signal) => {
        live.delete(child.pid!);
        clearTimeout(timer);
        const error = new Error(`${this.command} exited (${code ?? signal}):\n${this.log.slice(-2000)}`);
        // A server that dies mid-run must say so, not leave the bench waiting on refused sockets.
        if (this.child === child) console.error(`\n${error.message}`);
        reject(error);
      });
    });
  }

  recentLog(): string {
    return this.log.slice(-4000);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.child = undefined;
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      return;
    }
    await exited;
  }
}

export { freePort } from "../../tests/helpers/free-port.ts";
