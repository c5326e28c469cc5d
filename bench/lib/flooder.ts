/**
 * Starts the flooder (lib/flood-child.ts) in its own Node process, connected and welcomed, and lets it go
 * on cue: `go()` when the measured window opens, `done` with its report when it stops (closed by the
 * server, or at its time bound). Its sockets and errors are not the load tool's: a flooder cut off is
 * the expected outcome, reported, never a failed run.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FloodReport, FloodStart } from "./flood-child.ts";

export type { FloodMode, FloodReport } from "./flood-child.ts";

const CHILD = fileURLToPath(new URL("./flood-child.ts", import.meta.url));

export type Flooder = { go(): void; done: Promise<FloodReport>; kill(): void };

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export async function startFlooder(options: Omit<FloodStart, "type">): Promise<Flooder> {
  const child = fork(CHILD, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  let resolveDone!: (report: FloodReport) => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<FloodReport>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined); // read by the caller; a failure before it awaits must not be unhandled
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (message: { type: string; report?: FloodReport; error?: string }) => {
      if (message.type === "ready") resolve();
      else if (message.type === "done") {
        resolveDone(message.report!);
        child.disconnect();
      } else if (message.type === "failed") {
        const error = new Error(message.error);
        reject(error);
        rejectDone(error);
      }
    });
    child.once("exit", (code, signal) => {
      const error = new Error(`flooder exited (${code ?? signal})`);
      reject(error);
      rejectDone(error);
    });
  });
  child.send({ type: "start", ...options } satisfies FloodStart);
  await ready;
  return {
    go: () => void child.send({ type: "go" }),
    done,
    kill: () => void child.kill("SIGKILL"),
  };
}
