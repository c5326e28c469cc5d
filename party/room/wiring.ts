/**
 * Builds the room's parts and wires each to the others through its narrow host interface. The shell
 * (room/server.ts) owns what every part shares (the task queue, the socket glue, the counters) and hands
 * it in as `RoomShell`; this file imports no shell, so no part can reach back into it (no import cycle).
 */
import type * as Party from "partykit/server";
import type { ErrorFrame, RoomSettings, RoomSettingsPatch } from "../protocol/index.ts";
import type { Histogram } from "../core/histogram.ts";
import { directoryReporter } from "../adapters/directory-reporter.ts";
import { AlarmClock } from "../adapters/alarm-clock.ts";
import { IdleSockets } from "../adapters/idle-sockets.ts";
import { RoomArchive } from "../archive/outbox.ts";
import { archiveSettings } from "../archive/config.ts";
import type { KaiwaConfig } from "../config.ts";
import { RoomInboxLink } from "./inbox-link.ts";
import { RoomMembers } from "./members.ts";
import { RoomAwareness } from "./awareness.ts";
import { RoomAdmin } from "./admin.ts";
import { RoomWriter } from "./writer.ts";
import { RoomCommands } from "./commands.ts";
import { RoomFlow } from "./flow.ts";
import { TokenExpiry } from "../adapters/token-expiry.ts";
import { RoomAdmission } from "./admission.ts";
import { RoomHttp } from "./http-routes.ts";
import { RoomHistory } from "./history.ts";
import { RoomInbound } from "./inbound.ts";
import { RoomLogReader } from "./log-reader.ts";
import { RoomRelays } from "./relays.ts";
import { RoomUploads } from "./uploads.ts";
import { MediaJanitor } from "./media-janitor.ts";
import type { RoomState } from "./room-state.ts";
import type { CommandCounters, Conn, ConnState, Reply } from "./types.ts";

/** What the room owns beside its parts, made before them. */
export type RoomBase = {
  readonly room: Party.Room;
  readonly config: KaiwaConfig;
  readonly state: RoomState;
  readonly bootId: string;
  readonly counters: CommandCounters;
  readonly ackLatency: Histogram;
};

/** What the parts call back into the shell for (room/server.ts). */
export interface RoomShell {
  enqueue(task: () => Promise<void>): void;
  /** Tasks queued or running. */
  queued(): number;
  /** The inbox link, loaded once the room's origin is known (never in alarms: see inbox-link.ts). */
  linkReady(): Promise<void>;
  ensureLink(request: Request): void;
  /** A typed error to one command's reply, counted by code in stats. */
  reply(reply: Reply, frame: ErrorFrame): void;
  refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void;
  /** Every close the room starts: the socket leaves presence now. */
  closeSocket(conn: Conn, code: number, reason: string): void;
  /** Sockets or commits changed. */
  touched(): void;
  /** One live frame to every socket but `skip`. */
  broadcast(frame: string, skip?: Set<string>): void;
  /** PROTOCOL R80: a socket that stopped reading. */
  dropNotReading(conn: Conn): void;
  /** Rebuild the state from storage in task order after a failed write or release (PROTOCOL R3, R3a). */
  reload(): void;
  stats(): unknown;
  updateSettings(patch: RoomSettingsPatch): Promise<RoomSettings>;
}

export type RoomParts = ReturnType<typeof wireRoom>;

export function wireRoom(base: RoomBase, shell: RoomShell) {
  const { room, config, state, bootId, counters, ackLatency } = base;
  /** The room's one storage alarm, shared by the archive drain, the inbox link, the janitor and expiry. */
  const alarms = new AlarmClock(room.storage);
  const core = () => state.core;
  const link = new RoomInboxLink(room, core, config, alarms);
  const archive = new RoomArchive(room.storage, archiveSettings(config), core, alarms);
  const reporter = directoryReporter(room, () => admin.report(), config.directory);
  // The archive's lag is in every report: a drain that moved the cursor is a change worth reporting.
  archive.onProgress = () => reporter.touch();
  const uploads = new RoomUploads({ room, config, core, scheduled: (at) => janitor.schedule(at) });
  const janitor = new MediaJanitor(room.storage, uploads, alarms);
  const idle = new IdleSockets<Conn>(
    {
      connections: () => room.getConnections<ConnState>(),
      connection: (id) => room.getConnection<ConnState>(id),
      watched: (conn) => conn.state != null && conn.state.relay === undefined,
      drop: (conn) => shell.dropNotReading(conn),
    },
    config.test,
  );
  const shared = {
    room,
    core,
    roomId: () => state.id,
    enqueue: (task: () => Promise<void>) => shell.enqueue(task),
    linkReady: () => shell.linkReady(),
    ensureLink: (request: Request) => shell.ensureLink(request),
    reply: (reply: Reply, frame: ErrorFrame) => shell.reply(reply, frame),
    refuse: (conn: Conn, frame: ErrorFrame, closeCode: number) => shell.refuse(conn, frame, closeCode),
    closeSocket: (conn: Conn, code: number, reason: string) => shell.closeSocket(conn, code, reason),
    touched: () => shell.touched(),
  };
  const members: RoomMembers = new RoomMembers({
    ...shared,
    link,
    isBroken: () => writer.broken,
    queue: (item, writes) => writer.add(item, writes),
    broadcast: (frame) => shell.broadcast(frame),
    relayed: () => ({ sharded: relays.shards() > 0, viewers: relays.relayViewers() }),
  });
  const awareness = new RoomAwareness({
    ...shared,
    typingRefusal: (who) => members.typingRefusal(who),
    joining: (id) => admission.joining(id),
  });
  // DMs show "delivered": the peer's inbox confirmed it has the message.
  link.onConfirmed = (user, seq) => {
    if (!state.core.membership) members.signals.deliveredTo(user, seq);
  };
  const log = new RoomLogReader({ ...shared, archive });
  const writer: RoomWriter = new RoomWriter({
    ...shared,
    log,
    config,
    link,
    members,
    archive,
    ackLatency,
    counters,
    broadcast: (frame, skip) => shell.broadcast(frame, skip),
    reload: () => shell.reload(),
    filesFreed: () => janitor.schedule(Date.now()),
  });
  const flow = new RoomFlow(config, core);
  const expiry = new TokenExpiry<ConnState>({
    room,
    cutOff: (conn, code, reason) => writer.cutOff(conn, code, reason),
    wakeAt: (at) => void alarms.want("expiry", at).catch((error) => console.error("arming the expiry alarm failed", error)),
  });
  const commands = new RoomCommands({ ...shared, writer, flow, uploads, counters, queued: () => shell.queued() });
  const relays = new RoomRelays({
    ...shared,
    audienceChanged: () => members.signals.audienceChanged(),
    signalFrames: () => members.signals.snapshot(),
  });
  const admin: RoomAdmin = new RoomAdmin({
    room,
    config,
    archive,
    ackLatency,
    reporter,
    uploads,
    relays,
    get state() {
      return { core: state.core, bootId, accepted: counters.accepted, rejected: counters.rejected };
    },
    archiveLag: () => archive.lag(state.core.committedSeq),
    runAdmin: (who, action, clientId) => commands.runAdmin(who, action, clientId),
    closeSocket: (conn, code, reason) => shell.closeSocket(conn as Conn, code, reason),
  });
  const admission: RoomAdmission = new RoomAdmission({
    ...shared,
    joined: (conn) => awareness.welcomed(conn),
    relays,
    config,
    bootId,
    members,
    archive,
    link,
    commands,
    expiry,
  });
  const history = new RoomHistory({ ...shared, archive });
  const inbound = new RoomInbound({ ...shared, writer, flow, expiry, commands, history, members, awareness });
  const http = new RoomHttp({
    ...shared,
    history,
    admin,
    link,
    members,
    commands,
    log,
    flow,
    uploads,
    stats: () => shell.stats(),
    updateSettings: (patch) => shell.updateSettings(patch),
  });
  return {
    alarms, link, archive, reporter, uploads, janitor, idle, members, awareness, log, writer,
    flow, expiry, commands, relays, admin, admission, history, inbound, http,
  };
}
