/**
 * Detaches partykit dev's DevTools session from workerd, so the bench measures kaiwa without a debugger
 * attached (on Cloudflare there is none).
 *
 * Why: `partykit dev` connects to workerd's inspector and enables its Runtime and Network domains, to print
 * uncaught exceptions and to relay to a DevTools window. With Network on, every fetch between actors
 * produces three or four protocol events that workerd serialises and partykit's Node process parses.
 * Measured on 100 DM pairs at ~100 DMs/s (three actor calls per DM), CPU per DM:
 * workerd 6.9-7.0 ms and Node 1.1-1.3 ms with the session, 3.2-5.2 ms and 0.1-0.4 ms without it;
 * p99 delivery 51-364 ms with it, 21-44 ms without (2026-11-23, five runs without, three with).
 *
 * How: workerd's inspector keeps one session per isolate. A second connection closes both the session
 * that was there and itself; a connection made when none exists becomes the session and answers
 * (measured: three connections in a row were closed, answered, closed). partykit attaches again only
 * when its server reloads (a changed source file: none during a bench run).
 *
 * What the bench loses: partykit no longer prints the workers' uncaught exceptions; failures still reach
 * the bench as error frames and refused joins.
 */
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { groupProcesses } from "./proc.ts";

export async function detachDevtools(serverGroup: number): Promise<void> {
  const port = inspectorPort(serverGroup);
  // partykit attaches a moment after the server first answers: done once a connection of ours found its
  // session (closing it) and the next found nobody, or once nobody was there for 2 s in a row.
  let kicked = false;
  let free = 0;
  for (let round = 1; round <= 50; round++) {
    const answered = await connectOnce(port);
    if (!answered) kicked = true;
    else if (kicked || ++free >= 20) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`a DevTools session on workerd's inspector (port ${port}) was still there after 50 tries; run with --kaiwa-devtools to keep it`);
}

/** Whether nobody holds a DevTools session on the server's workerd (checked by attaching and detaching). */
export function devtoolsFree(serverGroup: number): Promise<boolean> {
  return connectOnce(inspectorPort(serverGroup));
}

/**
 * Connections open to the server's workerd inspector, read from the kernel's socket tables (the client side of
 * each: its remote port is the inspector's). Looking this way attaches nothing, so unlike `devtoolsFree` it
 * cannot close a session partykit is opening at that moment (a second connection closes both).
 */
export function inspectorConnections(serverGroup: number): number {
  const port = `:${inspectorPort(serverGroup).toString(16).toUpperCase().padStart(4, "0")}`;
  let open = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue; // no IPv6 table on this machine
    }
    for (const line of text.split("\n").slice(1)) {
      const [, , remote, state] = line.trim().split(/\s+/);
      if (state === "01" && remote?.endsWith(port)) open++; // 01: ESTABLISHED
    }
  }
  return open;
}

/** workerd's `--inspector-addr=<host>:<port>`, from the command line of the workerd in this process group. */
function inspectorPort(serverGroup: number): number {
  for (const { pid, name } of groupProcesses(serverGroup)) {
    if (name !== "workerd") continue;
    try {
      const port = /--inspector-addr=[^\0]*:(\d+)/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[1];
      if (port) return Number(port);
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no workerd with an inspector address in process group ${serverGroup}`);
}

/** One connection to the user worker's isolate: true if it was answered (it was the only session), then closed. */
async function connectOnce(port: number): Promise<boolean> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(3000) })).json()) as Array<{ id: string; webSocketDebuggerUrl: string }>;
  const url = targets.find((target) => target.id.startsWith("core:user"))?.webSocketDebuggerUrl;
  if (!url) throw new Error(`workerd's inspector lists no user worker: ${targets.map((t) => t.id).join(", ")}`);
  const ws = new WebSocket(url);
  const answered = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    ws.once("open", () => ws.send(JSON.stringify({ id: 1, method: "Runtime.getIsolateId" })));
    ws.once("message", () => (clearTimeout(timer), resolve(true)));
    ws.once("close", () => (clearTimeout(timer), resolve(false)));
    ws.once("error", () => (clearTimeout(timer), resolve(false)));
  });
  ws.on("error", () => undefined); // closing a socket still connecting (a timeout) reports an error: expected
  ws.close();
  return answered;
}
