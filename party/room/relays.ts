/**
 * A live room's side of its relay shards (PROTOCOL R50-R53): which sockets are relays, where viewers belong
 * (the redirect), how many viewers the relays hold (stats, directory, metrics, the automatic shard count),
 * and telling relays the shard count and the bans. The relays themselves are party/relay/.
 *
 * A relay is a socket like any other to the room (same welcome, same gapless resume by (epoch, lastSeq),
 * same live frames, PROTOCOL I5); what marks it is the actor header, which only a socket opened through
 * `context.parties` can carry (the worker strips it from every socket that passes it).
 */
import type * as Party from "partykit/server";
import { CLOSE, MAX_SHARDS, RELAY_PARTY, RELAY_QUERY_PARAM, RelayCountFrame, relayId, roomKind, shardOf, type Identity, type RedirectFrame, type RelayConfigFrame } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import type { RoomCore } from "../core/room-core.ts";
import { inLiveAudience } from "../core/access.ts";
import { nextShardCount } from "../core/shard-count.ts";
import { safeSend } from "../adapters/sockets.ts";
import { isActorCall } from "../adapters/service-auth.ts";
import type { Conn, ConnState, Reply } from "./types.ts";

export interface RelaysHost {
  readonly room: Party.Room;
  core(): RoomCore;
  roomId(): string;
  closeSocket(conn: Conn, code: number, reason: string): void;
  refuse(conn: Conn, frame: ReturnType<typeof errorFrame>, closeCode: number): void;
  /** The directory hears of the new counts. */
  touched(): void;
  /** The relays' viewer count changed: the room's next presence frame says so (PROTOCOL R52). */
  audienceChanged(): void;
  /** The presence and typing frames that show the room as it is now, for a relay that just subscribed. */
  signalFrames(): string[];
}

/** What a settings change may move: the shard count and the hosts (PROTOCOL R51, R53). */
export type RelaySettings = { shards: number; hosts: string };

/** What the connection state of a relay's socket says: not a user (no user id has a `~`). */
export function relayIdentity(shard: number): Identity {
  return { id: `~relay${shard}`, name: `relay ${shard}` };
}

export class RoomRelays {
  /** Viewer sockets each relay holds, by the relay socket's id. */
  private readonly viewers = new Map<string, number>();
  /** With `autoShards`: the count chosen from the audience (PROTOCOL R53); 0 until first computed. */
  private autoCount = 0;

  constructor(private readonly host: RelaysHost) {}

  get live(): boolean {
    return roomKind(this.host.roomId()) === "live";
  }

  /** The shard count viewers are spread over now (0: none, viewers stay on the room). */
  shards(): number {
    if (!this.live) return 0;
    const settings = this.host.core().settings;
    if (!settings.autoShards) return settings.shards ?? 0;
    if (this.autoCount === 0) this.autoCount = Math.max(1, settings.shards ?? 0);
    return this.autoCount;
  }

  /** Viewers on relays, summed. */
  relayViewers(): number {
    let total = 0;
    for (const count of this.viewers.values()) total += count;
    return total;
  }

  get relayCount(): number {
    return this.viewers.size;
  }

  /**
   * A socket asking to be a relay (`?relay=<k>`): admitted with a relay's state only with the actor header
   * (PROTOCOL R52); anyone else gets a typed refusal. Returns true when it handled the socket.
   */
  admitRelay(conn: Conn, request: Request): { shard: number } | "refused" | undefined {
    const raw = new URL(request.url).searchParams.get(RELAY_QUERY_PARAM);
    if (raw === null) return undefined;
    const shard = Number(raw);
    if (!isActorCall(request)) {
      this.host.refuse(conn, errorFrame("forbidden", { message: "Only the room's own relays connect as a relay." }), CLOSE.forbidden);
      return "refused";
    }
    if (!this.live || !Number.isInteger(shard) || shard < 0 || shard >= MAX_SHARDS) {
      this.host.refuse(conn, errorFrame("no_such_shard"), CLOSE.protocolViolation);
      return "refused";
    }
    // One socket per shard: a relay that reconnects replaces its half-open predecessor (as PROTOCOL R13).
    for (const other of this.host.room.getConnections<ConnState>()) {
      if (other.id !== conn.id && other.state?.relay === shard) this.host.closeSocket(other, CLOSE.sessionReplaced, "session_replaced");
    }
    this.viewers.set(conn.id, 0);
    return { shard };
  }

  /**
   * Right after a relay's welcome: the shard count, the bans in force and the hosts (PROTOCOL R52), then the
   * audience count and who is typing, so its viewers see them before anything changes.
   */
  greet(conn: Conn): void {
    safeSend(conn, JSON.stringify(this.config()));
    for (const frame of this.host.signalFrames()) safeSend(conn, frame);
  }

  /**
   * PROTOCOL R51: a viewer's socket to a sharded live room is sent to its relay (a `redirect` frame, then
   * 4031). Operators and observers stay on the room (they moderate), and so do hosts (at most 20: they show
   * as typing, which a relay's audience may not); so does everyone while shards are 0.
   */
  redirect(conn: Conn, who: Identity, observing: boolean): boolean {
    const shards = this.shards();
    if (shards === 0 || observing || !this.inAudience(who)) return false;
    this.move(conn, who.id, shards);
    return true;
  }

  /** A frame on a relay's socket: its viewer count (PROTOCOL R52); anything else is refused, nothing changes. */
  frame(conn: Conn, raw: string | ArrayBuffer | ArrayBufferView, reply: Reply): void {
    if (raw === "ping") return void safeSend(conn, "pong");
    let parsed: ReturnType<typeof RelayCountFrame.safeParse> | undefined;
    try {
      parsed = typeof raw === "string" ? RelayCountFrame.safeParse(JSON.parse(raw)) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) return reply.error(errorFrame("bad_frame", { message: "A relay sends relay.count frames only." }));
    const before = this.viewers.get(conn.id);
    this.viewers.set(conn.id, parsed.data.viewers);
    if (parsed.data.viewers !== before) this.host.audienceChanged();
    // Kept in the socket's state too, so a room woken from hibernation still counts them (reindex).
    if (conn.state) conn.setState({ ...conn.state, viewers: parsed.data.viewers });
    this.host.touched();
    this.rescale();
  }

  /** After a wake from hibernation: the relays' sockets are still open, this memory is new. */
  reindex(): void {
    for (const conn of this.host.room.getConnections<ConnState>()) {
      if (conn.state?.relay !== undefined) this.viewers.set(conn.id, conn.state.viewers ?? 0);
    }
  }

  closed(connId: string): void {
    if (!this.viewers.delete(connId)) return;
    this.host.touched();
    this.host.audienceChanged();
  }

  /**
   * The settings changed (or the audience did, in auto mode): with a new shard count, every relay hears it
   * and moves its viewers that now belong elsewhere, and viewers on the room itself move to a relay
   * (PROTOCOL R53). Nothing is lost: each viewer resumes from its own (epoch, lastSeq) where it lands.
   */
  rescale(): void {
    if (!this.live) return;
    const before = this.shards();
    const settings = this.host.core().settings;
    if (settings.autoShards) {
      const viewers = this.relayViewers() + this.roomViewers().length;
      this.autoCount = nextShardCount({ current: before, viewers, perShard: settings.viewersPerShard ?? 10_000, least: Math.max(1, settings.shards ?? 0), most: MAX_SHARDS });
    }
    this.announce(before);
  }

  /** What a settings change is compared against (settingsChanged). */
  settingsNow(): RelaySettings {
    return { shards: this.shards(), hosts: JSON.stringify(this.host.core().settings.hosts ?? []) };
  }

  /**
   * After a settings change: the count may have changed even without auto mode. New hosts move from their
   * relay to the room, and former hosts from the room to their relay (PROTOCOL R51).
   */
  settingsChanged(previous: RelaySettings): void {
    if (!this.host.core().settings.autoShards) this.autoCount = 0;
    if (!this.live) return;
    this.rescale();
    const now = this.settingsNow();
    if (now.shards !== previous.shards || now.hosts !== previous.hosts) this.announce(previous.shards, true);
  }

  private announce(before: number, force = false): void {
    const now = this.shards();
    if (now === before && !force) return;
    const frame = JSON.stringify(this.config());
    for (const conn of this.host.room.getConnections<ConnState>()) {
      if (conn.state?.relay !== undefined) safeSend(conn, frame);
    }
    if (now > 0) for (const { conn, user } of this.roomViewers()) this.move(conn, user, now);
  }

  private config(): RelayConfigFrame {
    const bans: RelayConfigFrame["bans"] = [];
    for (const r of this.host.core().moderation.active(Date.now())) if (r.banUntil !== undefined) bans.push({ user: r.user, until: r.banUntil });
    return { type: "relay.config", shards: this.shards(), bans, hosts: this.host.core().settings.hosts ?? [] };
  }

  /** A viewer of a live room (not a host, not an operator): in a sharded room, its place is a relay. */
  private inAudience(who: Identity): boolean {
    return inLiveAudience({ kind: "live", hosts: this.host.core().settings.hosts }, who);
  }

  /** Viewer sockets held by the room itself: not relays, hosts, operators or observers. */
  private roomViewers(): Array<{ conn: Conn; user: string }> {
    const out: Array<{ conn: Conn; user: string }> = [];
    for (const conn of this.host.room.getConnections<ConnState>()) {
      const state = conn.state;
      if (!state || state.relay !== undefined || state.observer || !this.inAudience(state.user)) continue;
      out.push({ conn, user: state.user.id });
    }
    return out;
  }

  private move(conn: Conn, userId: string, shards: number): void {
    const shard = shardOf(userId, shards);
    const redirect: RedirectFrame = { type: "redirect", party: RELAY_PARTY, id: relayId(this.host.roomId(), shard), shard, shards };
    safeSend(conn, JSON.stringify(redirect));
    this.host.closeSocket(conn, CLOSE.moved, "moved");
  }
}
