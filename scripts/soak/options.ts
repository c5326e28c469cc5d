/** The soak's command line: `npm run soak -- [options]`. */
import { parseArgs } from "node:util";

export type SoakOptions = {
  kills: number;
  /** Seconds the killer waits, once every client is back, before the next SIGKILL (uniform in [min, max]). */
  between: { min: number; max: number };
  rooms: number;
  sendersPerRoom: number;
  groups: number;
  membersPerGroup: number;
  dmPairs: number;
  /** Commands per second over all clients together (sends, edits, deletes, DMs). */
  rate: number;
  /** Load kept up after the last restart before it stops (commands made on the last server only). */
  tailSeconds: number;
  /** How long the final checks wait for drains, convergence and settling. */
  settleSeconds: number;
  /** KAIWA_TEST_WRITE_DELAY_MS (a slow disk, test mode): widens the window between a write and its acks. 0: the production configuration. */
  writeDelayMs: number;
  keepState: boolean;
  quiet: boolean;
};

export const USAGE = `usage: npm run soak -- [--kills 100] [--seconds-between 1-4] [--rooms 4] [--senders 3] [--groups 2]
                       [--group-members 4] [--dm-pairs 4] [--rate 30] [--tail-seconds 5] [--settle-seconds 180]
                       [--write-delay-ms 0] [--keep-state] [--quiet] [--help]
  SIGKILLs the whole partykit dev process group N times under steady load from typed clients (open rooms,
  groups, DM pairs through inboxes), each aimed at a moment with commands unacked, restarting on the same
  state (the clients reconnect on their own backoff and resend), then checks every acked command is in
  its room's log exactly once at its acked seq, seqs gapless, every client saw every event once in order,
  unread counts exact, and the archive equal to the logs (PROTOCOL I9). Exit code 0 only if all checks pass.
  KAIWA_TEST_DB=postgres: the archive on Debian's PostgreSQL 15 instead of PGlite.`;

export function parseOptions(argv: string[]): SoakOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      kills: { type: "string", default: "100" },
      "seconds-between": { type: "string", default: "1-4" },
      rooms: { type: "string", default: "4" },
      senders: { type: "string", default: "3" },
      groups: { type: "string", default: "2" },
      "group-members": { type: "string", default: "4" },
      "dm-pairs": { type: "string", default: "4" },
      rate: { type: "string", default: "30" },
      "tail-seconds": { type: "string", default: "5" },
      "settle-seconds": { type: "string", default: "180" },
      "write-delay-ms": { type: "string", default: "0" },
      "keep-state": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const between = parseRange(values["seconds-between"]!);
  const options: SoakOptions = {
    kills: whole("--kills", values.kills!, 0),
    between,
    rooms: whole("--rooms", values.rooms!, 0),
    sendersPerRoom: whole("--senders", values.senders!, 1),
    groups: whole("--groups", values.groups!, 0),
    membersPerGroup: whole("--group-members", values["group-members"]!, 1),
    dmPairs: whole("--dm-pairs", values["dm-pairs"]!, 0),
    rate: positive("--rate", values.rate!),
    tailSeconds: nonNegative("--tail-seconds", values["tail-seconds"]!),
    settleSeconds: positive("--settle-seconds", values["settle-seconds"]!),
    writeDelayMs: whole("--write-delay-ms", values["write-delay-ms"]!, 0),
    keepState: values["keep-state"]!,
    quiet: values.quiet!,
  };
  if (options.rooms + options.groups + options.dmPairs === 0) throw new UsageError("nothing to load: --rooms, --groups and --dm-pairs are all 0");
  return options;
}

export class UsageError extends Error {}

function parseRange(text: string): { min: number; max: number } {
  const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text);
  if (!match) throw new UsageError(`--seconds-between: expected a-b in seconds (e.g. 1-4), got "${text}"`);
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (max < min) throw new UsageError(`--seconds-between: ${max} < ${min}`);
  return { min, max };
}

function whole(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${name}: expected a whole number >= ${min}, got "${text}"`);
  return value;
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new UsageError(`${name}: expected a number > 0, got "${text}"`);
  return value;
}

function nonNegative(name: string, text: string): number {
  const value = Number(text);
  if (!(value >= 0) || !Number.isFinite(value)) throw new UsageError(`${name}: expected a number >= 0, got "${text}"`);
  return value;
}
