/**
 * The C load generator of the `live` bench (bench/live-viewers.c) behind the same messages as a forked
 * bench/live-viewers.ts, so bench/live.ts drives either one. Compiled on first use with the system's C
 * compiler (`apt-get install -y gcc` where there is none).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { StartMessage, FinishMessage } from "../live-viewers.ts";

const SOURCE = join(import.meta.dirname, "..", "live-viewers.c");

/** undefined when a C compiler is there; otherwise why not (under CI=true this throws instead). */
export function compilerMissing(): string | undefined {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return undefined;
  } catch {
    const message = "no C compiler (cc) for bench/live-viewers.c; install one with: apt-get install -y gcc";
    if (process.env.CI === "true") throw new Error(message);
    console.log(message);
    return message;
  }
}

/** The compiled generator, rebuilt when its source changes. */
export function buildCViewers(): string {
  const source = readFileSync(SOURCE);
  const binary = join(tmpdir(), `kaiwa-live-viewers-${createHash("sha256").update(source).digest("hex").slice(0, 12)}`);
  if (!existsSync(binary)) {
    try {
      // Built beside and renamed into place: two processes building at once never run a half-written file.
      execFileSync("cc", ["-O2", "-Wall", "-o", `${binary}.${process.pid}`, SOURCE], { stdio: "inherit" });
      renameSync(`${binary}.${process.pid}`, binary);
    } catch (error) {
      throw new Error(`could not compile ${SOURCE} (a C compiler: apt-get install -y gcc): ${(error as Error).message}`);
    }
  }
  return binary;
}

/** What bench/live.ts says to a generator process, Node or C. */
export type GeneratorMessage = StartMessage | FinishMessage | { type: "bans" } | { type: "exit" };

/** A generator process: forked Node (bench/live-viewers.ts) or C (`CViewers`); both answer as `message` events. */
export type GeneratorProcess = ChildProcess | CViewers;

/** Sends one message to a generator process and waits for its reply of the given type. */
export function ask<T>(child: GeneratorProcess, message: GeneratorMessage, type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (reply: { type: string }) => {
      if (reply.type !== type) return;
      child.off("message", on);
      resolve(reply as T);
    };
    child.on("message", on);
    child.send(message);
  });
}

/** One C generator process: `send` takes the Node child's messages, replies come as `message` events. */
export class CViewers extends EventEmitter {
  private readonly child: ChildProcess;

  constructor(binary: string) {
    super();
    this.child = spawn(binary, [], { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.emit("message", JSON.parse(line)));
  }

  send(message: GeneratorMessage): void {
    const stdin = this.child.stdin!;
    if (message.type === "start") {
      // One line per viewer, space-separated: none of these fields holds a space (users and ids are ours, the token is base64url).
      const lines = message.viewers.map((v) => `${v.user} ${v.token} ${v.party} ${v.id} ${v.host} ${v.address}\n`);
      stdin.write(`start ${message.seqsPerSlot ?? 0} ${lines.length}\n${lines.join("")}`);
    } else if (message.type === "finish") stdin.write(`finish ${message.lastSeq}\n`);
    else stdin.write(`${message.type}\n`);
  }
}
