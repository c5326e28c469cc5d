/**
 * The load generator: senders and receivers over real sockets, one clock (this process's
 * performance.now()) for every send and receive timestamp, and the ledger checking each delivery.
 *
 * Senders put their send time in the message text; receivers subtract it on arrival (send→deliver),
 * senders subtract it when the ack arrives (send→ack). Senders do not parse broadcasts; receivers do,
 * once per distinct frame (frame-cache.ts), so the generator stays cheap.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Histogram, type LatencySummary } from "./histogram.ts";
import { Ledger, type Problem } from "./ledger.ts";
import { selfCpuMs } from "./proc.ts";
import { stallReport } from "./stall-report.ts";
import type { Conn, ConnHandlers, Target } from "../targets/types.ts";

export type LoadMode = { kind: "window"; inFlight: number } | { kind: "rate"; perSenderPerSec: number };

export type LoadPlan = {
  label: string;
  rooms: string[];
  sendersPerRoom: number;
  /** Rooms with another number of senders than `sendersPerRoom`. */
  sendersIn?: Record<string, number>;
  receiversPerRoom: number;
  mode: LoadMode;
  seconds: number;
  /**
   * Load runs this long before the measured window (default 0). For steady-state capacity figures: a
   * cold room's first writes and the JIT warming up are not what a room sustains. Latency of messages
   * sent during the warm-up is not recorded.
   */
  warmupSeconds?: number;
  sampleMs?: number;
  localAddresses?: string[];
  drainMs?: number;
  /** How a socket joins `room`: by default a fresh user per socket straight into the room (the DM scenario routes through a DmPath). */
  connect?: (room: string, role: "sender" | "receiver", index: number, handlers: ConnHandlers) => Promise<Conn>;
  /**
   * Also keep send→ack and send→deliver per room and per phase (`LoadResult.perRoom`), the measured window
   * split at these offsets (seconds into it; [] is one phase). A latency counts in the phase its ack or
   * delivery arrived in, so a message in flight as a phase begins counts in the new one. Two histograms
   * (~5 MB) per room and phase, so opt-in.
   */
  phases?: number[];
  /** Called as the measured window opens (phase 0, after the warm-up) and as each later phase begins (scenarios/flood.ts lets its flooder go). */
  onPhase?: (phase: number) => void;
  /**
   * Events whose clientId starts with this come from a socket outside the plan (the flood scenario's
   * flooder): receivers check them in the ledger like any other (their seqs must be contiguous with the
   * rest), their text is not a send time, and `LoadResult.foreign` counts the distinct ones seen.
   */
  foreignPrefix?: string;
};

export type Sample = { t: number; sent: number; acked: number; delivered: number; backlog: number };

export type LoadResult = {
  label: string;
  target: string;
  seconds: number;
  sockets: number;
  sent: number;
  acked: number;
  delivered: number;
  ackedPerSec: number;
  deliveriesPerSec: number;
  ack: LatencySummary;
  deliver: LatencySummary;
  timeline: Sample[];
  generatorCpuPct: number;
  /**
   * How late the generator's own event loop ran during the timed window (p99 and max, ms). Receive times
   * are taken when a socket's data is handled, so a stalled generator (a GC of its own heap, too many
   * sockets to serve) adds to every latency it measures: read the latencies with this next to them.
   */
  generatorLagMs: { p99: number; max: number };
  serverCpuPct: number;
  serverRssMB: number;
  maxBacklog: number;
  /** Fairness: the fewest and most commands acked for one sender in the run. */
  perSenderAcked: { min: number; max: number };
  check: Ledger["counts"];
  problems: Problem[];
  /** Up to 10 rooms left with work unfinished after the drain, one line each (lib/stall-report.ts); empty when settled. */
  stall: string[];
  serverErrors: string[];
  /** With `plan.phases`: the latencies of each room's own senders and receivers, per phase. */
  perRoom?: Record<string, Array<{ ack: LatencySummary; deliver: LatencySummary }>>;
  /** With `plan.foreignPrefix`: distinct such clientIds the receivers saw, per room. */
  foreign?: Record<string, number>;
};

type Sender = { conn: Conn; room: string; id: string; n: number; acked: number; ackedBefore: number; sentAt: Map<string, number> };

let runCounter = 0;

export async function runLoad(target: Target, plan: LoadPlan): Promise<LoadResult> {
  const tag = `${Date.now().toString(36)}${(runCounter++).toString(36)}`;
  const ledger = new Ledger();
  const ack = new Histogram();
  const deliver = new Histogram();
  const roomHistograms = new Map<string, Array<{ ack: Histogram; deliver: Histogram }>>();
  if (plan.phases) for (const room of plan.rooms) roomHistograms.set(room, Array.from({ length: plan.phases.length + 1 }, () => ({ ack: new Histogram(), deliver: new Histogram() })));
  /** When each phase after the first begins (set as the window opens). */
  let phaseStarts: number[] = (plan.phases ?? []).map(() => Infinity);
  const phaseAt = (at: number) => {
    let phase = 0;
    while (phase < phaseStarts.length && at >= phaseStarts[phase]!) phase++;
    return phase;
  };
  const senders: Sender[] = [];
  const conns: Conn[] = [];
  const errorsBefore = target.errors.length;
  let running = false;
  let sent = 0;
  /** Sends before this moment (the warm-up) are not timed. */
  let measureFrom = Infinity;
  // A socket that cannot join (an overloaded server) fails the run loudly at the end, without aborting the bench.
  const connectFailures: string[] = [];
  // So does a joined socket that closes before the run ends: its unacked commands show as lost, and this
  // names why (the close code and reason the server gave).
  const closedEarly: string[] = [];
  let closing = false;
  const noteClose = (who: string) => (code: number, reason: string) => {
    if (!closing) closedEarly.push(`${who}: ${code} ${reason || "(no reason)"}`);
  };
  const connect = (room: string, role: "sender" | "receiver", inRoom: number, i: number, handlers: ConnHandlers): Promise<Conn> =>
    plan.connect
      ? plan.connect(room, role, inRoom, handlers)
      : target.connect({ room, user: `${role[0]}${tag}x${i}`, session: `s${i}`, localAddress: plan.localAddresses?.[i % plan.localAddresses.length], handlers });

  const sendOne = (sender: Sender) => {
    const n = ++sender.n;
    const clientId = `${sender.id}-${n}`;
    const now = performance.now();
    sender.sentAt.set(clientId, now);
    ledger.sent(sender.room, clientId);
    sent++;
    sender.conn.send(clientId, n, now.toFixed(3));
  };

  // Receivers first, so every one of them is in the room before the first message.
  const jobs: Array<() => Promise<void>> = [];
  let index = 0;
  for (const room of plan.rooms) {
    for (let r = 0; r < plan.receiversPerRoom; r++) {
      const i = index++;
      jobs.push(async () => {
        let receiver: ReturnType<Ledger["receiver"]> | undefined;
        let joined = false;
        const closed = noteClose(`receiver r${i} in ${room}`);
        const inRoom = roomHistograms.get(room);
        // Events that race the welcome's resolution are held, then checked in order.
        const early: Array<[number, string, number]> = [];
        const conn = await connect(room, "receiver", r, i, {
            onEvents: (events, at) => {
              for (const e of events) {
                if (!receiver) {
                  early.push([e.seq, e.clientId, at - Number(e.text)]);
                  continue;
                }
                ledger.delivered(receiver, e.seq, e.clientId);
                if (Number(e.text) >= measureFrom) {
                  deliver.record(at - Number(e.text));
                  inRoom?.[phaseAt(at)]!.deliver.record(at - Number(e.text));
                }
              }
            },
            onClose: (code, reason) => joined && closed(code, reason),
        });
        joined = true;
        receiver = ledger.receiver(`r${i}`, room, conn.joinSeq);
        for (const [seq, clientId, ms] of early) {
          ledger.delivered(receiver, seq, clientId);
          if (Number.isNaN(ms)) continue; // a foreign event: its text is no send time
          deliver.record(ms); // before the first send: never in a warm-up
          inRoom?.[0]!.deliver.record(ms);
        }
        conns.push(conn);
      });
    }
  }
  await inBatches(jobs.splice(0), 100, connectFailures);
  for (const room of plan.rooms) {
    for (let s = 0; s < (plan.sendersIn?.[room] ?? plan.sendersPerRoom); s++) {
      const i = index++;
      jobs.push(async () => {
        const sender: Sender = { conn: undefined as unknown as Conn, room, id: `s${tag}x${i}`, n: 0, acked: 0, ackedBefore: 0, sentAt: new Map() };
        let joined = false;
        const closed = noteClose(`sender ${sender.id} in ${room}`);
        const inRoom = roomHistograms.get(room);
        sender.conn = await connect(room, "sender", s, i, {
            onAck: (clientId, seq, at) => {
              ledger.acked(room, clientId, seq);
              const sentAt = sender.sentAt.get(clientId);
              if (sentAt === undefined) return; // a re-sent ack: checked by the ledger, not timed again
              sender.sentAt.delete(clientId);
              sender.acked++;
              if (sentAt >= measureFrom) {
                ack.record(at - sentAt);
                inRoom?.[phaseAt(at)]!.ack.record(at - sentAt);
              }
              if (running && plan.mode.kind === "window") sendOne(sender);
            },
            onClose: (code, reason) => joined && closed(code, reason),
        });
        joined = true;
        senders.push(sender);
        conns.push(sender.conn);
      });
    }
  }
  await inBatches(jobs.splice(0), 100, connectFailures);

  const sampleMs = plan.sampleMs ?? 250;
  const timeline: Sample[] = [];
  const start = performance.now();
  measureFrom = plan.warmupSeconds ? Infinity : start;
  running = true;
  const phaseTimers: NodeJS.Timeout[] = [];
  const openWindow = () => {
    phaseStarts = (plan.phases ?? []).map((s) => measureFrom + s * 1000);
    plan.onPhase?.(0);
    (plan.phases ?? []).forEach((s, i) => phaseTimers.push(setTimeout(() => plan.onPhase?.(i + 1), s * 1000)));
  };
  if (!plan.warmupSeconds) openWindow();
  let ticker: NodeJS.Timeout | undefined;
  if (plan.mode.kind === "window") {
    // Up to the plan's window, or the smaller one the server granted (kaiwa's client keeps to it, PROTOCOL R84).
    for (const sender of senders) for (let k = 0; k < Math.min(plan.mode.inFlight, sender.conn.window ?? Infinity); k++) sendOne(sender);
  } else {
    const rate = plan.mode.perSenderPerSec;
    // Open loop: each sender is kept on schedule whatever the server's speed, so backlog shows.
    // Senders are spread evenly over one period (sender i starts i/N of a period late), as independent
    // users are: in lockstep, N senders would hit the server as one burst of N every period.
    const phase = senders.map((_, i) => i / senders.length);
    ticker = setInterval(() => {
      if (!running) return;
      const periods = ((performance.now() - start) / 1000) * rate;
      senders.forEach((sender, i) => {
        const due = Math.floor(periods - phase[i]!) + 1;
        while (sender.n < due) sendOne(sender);
      });
    }, 5);
  }
  if (plan.warmupSeconds) {
    await sleep(plan.warmupSeconds * 1000);
    measureFrom = performance.now();
    for (const sender of senders) sender.ackedBefore = sender.acked;
    openWindow();
  }
  const cpu0 = selfCpuMs();
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const server0 = target.usage();
  const acked0 = ledger.counts.acked;
  const delivered0 = ledger.counts.delivered;
  const sampler = setInterval(() => {
    timeline.push({ t: (performance.now() - measureFrom) / 1000, sent, acked: ledger.counts.acked, delivered: ledger.counts.delivered, backlog: sent - ledger.counts.acked });
  }, sampleMs);

  await sleep(plan.seconds * 1000);
  running = false;
  for (const timer of phaseTimers) clearTimeout(timer);
  const elapsed = (performance.now() - measureFrom) / 1000;
  const ackedInWindow = ledger.counts.acked - acked0;
  const deliveredInWindow = ledger.counts.delivered - delivered0;
  const cpu = selfCpuMs() - cpu0;
  lag.disable();
  const server1 = target.usage();
  clearInterval(ticker);

  // Drain: an overloaded run may hold a long backlog that is still being worked off. Wait while acks or
  // deliveries keep arriving; only a stall (no progress for drainMs) ends the wait and counts as loss.
  const stallMs = plan.drainMs ?? 15_000;
  const hardDeadline = Date.now() + 10 * 60_000;
  let progress = -1;
  let lastProgressAt = Date.now();
  while (!ledger.settled() && Date.now() < hardDeadline) {
    const now = ledger.counts.acked + ledger.counts.delivered;
    if (now !== progress) {
      progress = now;
      lastProgressAt = Date.now();
    } else if (Date.now() - lastProgressAt > stallMs) break;
    await sleep(50);
  }
  clearInterval(sampler);
  // Asked before the sockets close: the unsent bytes and the rooms' state are what the stall left behind.
  // Acks that arrive while it asks still count in the ledger's totals below, not in the report.
  const stall = await stallReport(target, ledger, senders);
  ledger.finish();
  closing = true;
  for (const conn of conns) conn.close();

  return {
    label: plan.label,
    target: target.name,
    seconds: elapsed,
    sockets: conns.length,
    sent,
    acked: ledger.counts.acked,
    delivered: ledger.counts.delivered,
    ackedPerSec: ackedInWindow / elapsed,
    deliveriesPerSec: deliveredInWindow / elapsed,
    ack: ack.summary(),
    deliver: deliver.summary(),
    timeline,
    generatorCpuPct: (cpu / (elapsed * 1000)) * 100,
    // The histogram counts in ns, including the `resolution` it sleeps between samples.
    generatorLagMs: { p99: Math.max(0, lag.percentile(99) / 1e6 - 5), max: Math.max(0, lag.max / 1e6 - 5) },
    serverCpuPct: ((server1.cpuMs - server0.cpuMs) / (elapsed * 1000)) * 100,
    serverRssMB: server1.rssBytes / 2 ** 20,
    maxBacklog: Math.max(0, ...timeline.map((s) => s.backlog)),
    perSenderAcked: { min: Math.min(...senders.map((s) => s.acked - s.ackedBefore)), max: Math.max(...senders.map((s) => s.acked - s.ackedBefore)) },
    check: { ...ledger.counts },
    problems: ledger.problems,
    stall,
    serverErrors: [
      ...target.errors.slice(errorsBefore),
      ...(connectFailures.length ? [`${connectFailures.length} sockets failed to join (first: ${connectFailures[0]})`] : []),
      ...(closedEarly.length ? [`${closedEarly.length} sockets closed during the run (first: ${closedEarly[0]})`] : []),
    ],
    ...(plan.phases ? { perRoom: Object.fromEntries([...roomHistograms].map(([room, phases]) => [room, phases.map((h) => ({ ack: h.ack.summary(), deliver: h.deliver.summary() }))])) } : {}),
    ...(plan.foreignPrefix !== undefined ? { foreign: Object.fromEntries(plan.rooms.map((room) => [room, ledger.claimedWithPrefix(room, plan.foreignPrefix!)])) } : {}),
  };
}

/** Runs jobs `width` at a time. With `failures`, a failed job is recorded there instead of rejecting. */
export async function inBatches(jobs: Array<() => Promise<void>>, width: number, failures?: string[]): Promise<void> {
  const run = failures ? (job: () => Promise<void>) => job().catch((error: unknown) => void failures.push(String(error))) : (job: () => Promise<void>) => job();
  for (let i = 0; i < jobs.length; i += width) await Promise.all(jobs.slice(i, i + width).map(run));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
