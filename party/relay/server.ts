/**
 * A live room's relay shard (PartyKit `relay` party, id `<live room id>~<k>`, PROTOCOL R50-R53): holds a
 * slice of the room's viewers so the room's own socket count stays about the number of shards.
 * - relay/upstream.ts: the one subscription to the room, resumed by (epoch, lastSeq) like any client (PROTOCOL I5);
 * - core/relay-window.ts: the recent frames viewers resume from;
 * - relay/viewers.ts: admission, welcome, replay, live forwarding, bans, moves;
 * - relay/signals.ts: the room's presence count and typing frames, passed on to the viewers;
 * - relay/posting.ts: viewers' commands to the room, in order, answered as the room would;
 * - relay/room-reads.ts: viewers' history pages and older events, read from the room;
 * - relay/frame-budget.ts: viewers' frame rate (PROTOCOL R18); relay/viewer-count.ts: the count the room hears;
 * - relay/http-routes.ts: the operator's stats and the test drop.
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import { CLOSE, ClientFrame, Command, ConnectQuery, LIMITS, RoomEvent, parseRelayId, type Pin, type RelayConfigFrame } from "../protocol/index.ts";
import { checkFrame, decodeFrame } from "../protocol/decode.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { RelayWindow } from "../core/relay-window.ts";
import { LIVE_TYPING_REFUSAL } from "../core/access.ts";
import { answerClose, safeSend } from "../adapters/sockets.ts";
import { loadConfig, type KaiwaConfig } from "../config.ts";
import { gateRequest, gateSocket } from "../adapters/service-auth.ts";
import { identityFrom, tokenExpiresAt } from "../adapters/auth.ts";
import { Upstream } from "./upstream.ts";
import { RelayViewers, type Viewer, type ViewerState } from "./viewers.ts";
import { RelayPosting } from "./posting.ts";
import { RoomLink } from "./room-link.ts";
import { Coalescer, type Gathered } from "./coalescer.ts";
import { RelayExpiry } from "./expiry.ts";
import { RoomReads } from "./room-reads.ts";
import { ViewerCount } from "./viewer-count.ts";
import { relayRequest } from "./http-routes.ts";
import { FrameBudget } from "./frame-budget.ts";
import { RelaySignals } from "./signals.ts";
import { Pins } from "../core/pins.ts";

export default class RelayServer implements Party.Server {
  readonly options: Party.ServerOptions;
  readonly bootId = nanoid(10);
  readonly config: KaiwaConfig;
  private readonly target: { roomId: string; shard: number } | undefined;
  private readonly window = new RelayWindow(LIMITS.relayWindowEvents, LIMITS.relayWindowBytes);
  private readonly upstream: Upstream | undefined;
  private readonly viewers: RelayViewers | undefined;
  private readonly posting: RelayPosting | undefined;
  private readonly link: RoomLink | undefined;
  private readonly reads: RoomReads | undefined;
  private readonly count: ViewerCount;
  private readonly coalescer: Coalescer;
  private readonly expiry: RelayExpiry;
  /** The room's shard count as last heard (undefined: not yet, or the subscription stopped). */
  private shardCount: number | undefined;
  private subscribed = false;
  private ready = false;
  /** Sockets cut off (4029, 4013): what they still send is dropped unread (as PROTOCOL R18). */
  private readonly cut = new Set<string>();
  private readonly budget = new FrameBudget();
  private readonly signals: RelaySignals;
  /**
   * The room's pins as of the last event forwarded (PROTOCOL R24): from the room's welcome, then kept by the
   * pin and delete events passing through, so a viewer's welcome lists them as the room's would.
   */
  private pins = new Pins(undefined);

  constructor(readonly room: Party.Room) {
    this.config = loadConfig(room.env);
    this.options = { hibernate: this.config.relayHibernate };
    this.expiry = new RelayExpiry(room, (conn, code, reason) => this.close(conn, code, reason));
    this.coalescer = new Coalescer(this.config.relayCoalesceMs, (gathered) => this.forward(gathered));
    this.signals = new RelaySignals((frame) => this.viewers?.broadcast(frame));
    this.count = new ViewerCount({ viewers: () => this.countViewers(), send: (frame) => this.upstream?.send(frame) });
    this.target = parseRelayId(room.id);
    if (!this.target) return;
    const { roomId, shard } = this.target;
    this.link = new RoomLink(room, roomId, this.config.relayUpstream);
    this.reads = new RoomReads(this.link, shard);
    this.upstream = new Upstream(this.link, roomId, shard, () => (this.window.epoch ? { epoch: this.window.epoch, lastSeq: this.coalescer.last ?? this.window.last } : undefined), {
      welcome: (epoch, lastSeq, recovered, pins) => this.onWelcome(epoch, lastSeq, recovered, pins),
      events: (frame) => this.onEvents(frame),
      config: (frame) => this.onConfig(frame),
      signal: (kind, frame) => this.signals.pass(kind, frame),
    });
    this.viewers = new RelayViewers({
      room,
      roomId,
      shard,
      bootId: this.bootId,
      window: this.window,
      shards: () => this.shardCount,
      greeting: () => this.signals.greeting(),
      pins: () => this.pins.committed(),
      fetchAfter: (after, before) => this.reads!.after(after, before),
      close: (conn, code, reason) => this.close(conn, code, reason),
    });
    this.posting = new RelayPosting(this.link, (conn, code, reason) => this.close(conn, code, reason));
  }

  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    return gateSocket(request as unknown as Request, lobby);
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    return gateRequest(request as unknown as Request, lobby);
  }

  /**
   * A relay woken with viewers still connected (hibernated sockets outlive the process): subscribe again.
   * Its window is new, so the first welcome sends its joined viewers to resume (PROTOCOL R52).
   */
  onStart() {
    this.expiry.reindex(); // their tokens expire on time (PROTOCOL R56)
    for (const conn of this.room.getConnections<ViewerState>()) {
      if (conn.state) return this.upstream?.start();
    }
  }

  // ---- Viewers' sockets.

  onConnect(conn: Viewer, ctx: Party.ConnectionContext) {
    const request = ctx.request as unknown as Request;
    if (!this.target || !this.viewers || !this.upstream) return this.refuse(conn, errorFrame("no_such_shard"), CLOSE.protocolViolation);
    const who = identityFrom(request);
    if (!who) return this.refuse(conn, errorFrame("unauthorized"), CLOSE.unauthorized);
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(request.url).searchParams));
    if (!query.success) return this.refuse(conn, errorFrame("bad_frame", { message: "Connect with ?session=<id>[&epoch=&lastSeq=]." }), CLOSE.protocolViolation);
    const { session, epoch, lastSeq } = query.data;
    const exp = tokenExpiresAt(request);
    conn.setState({ user: who, session, ...(exp !== undefined ? { exp } : {}), ...(epoch !== undefined && lastSeq !== undefined ? { at: { epoch, lastSeq } } : {}) });
    this.expiry.watch(conn); // told and closed at its token's expiry, frames or not (PROTOCOL R56)
    this.upstream.start();
    this.count.soon();
    if (this.ready) void this.viewers.join(conn);
  }

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Viewer) {
    if (raw === "ping") return void safeSend(conn, "pong");
    if (this.cut.has(conn.id)) return;
    const state = conn.state;
    if (!state) return this.refuse(conn, errorFrame("unauthorized"), CLOSE.unauthorized);
    if (!state.joined) return; // nothing but ping before the welcome (PROTOCOL §2.4)
    const wait = this.budget.take(state.user);
    if (wait > 0) {
      safeSend(conn, JSON.stringify(errorFrame("rate_limited", { retryAfterMs: wait })));
      return this.close(conn, CLOSE.rateLimited, "rate_limited");
    }
    const decoded = decodeFrame(raw, ClientFrame);
    if (state.exp !== undefined && Date.now() >= state.exp) {
      safeSend(conn, JSON.stringify(errorFrame("session_expired")));
      return this.close(conn, CLOSE.sessionExpired, "session_expired");
    }
    if (!decoded.ok) return void safeSend(conn, JSON.stringify(decoded.error));
    const frame = decoded.frame;
    if (frame.type === "history") return void this.reads!.history(conn, frame.requestId, frame.before, frame.limit);
    // A live room's audience has no read marks (no members) and does not show as typing: answered as the room
    // answers a viewer (PROTOCOL R15), typed, nothing changed.
    if (frame.type === "read") return void safeSend(conn, JSON.stringify(errorFrame("not_member", frame.requestId !== undefined ? { ref: frame.requestId } : {})));
    if (frame.type === "typing") return void safeSend(conn, JSON.stringify(errorFrame(LIVE_TYPING_REFUSAL.code, LIVE_TYPING_REFUSAL)));
    if (frame.type === "thread") {
      // Thread pages come from the room over HTTP (`GET …/thread`, PROTOCOL R23), not through a relay's window.
      return void safeSend(conn, JSON.stringify(errorFrame("bad_frame", { message: "Read threads of a live room with GET /parties/room/<id>/thread.", ref: frame.requestId })));
    }
    const commands: Command[] = [];
    if (frame.type === "batch") {
      for (const element of frame.commands) {
        const checked = checkFrame(element, Command);
        if (checked.ok) commands.push(checked.frame);
        else safeSend(conn, JSON.stringify(checked.error));
      }
    } else {
      commands.push(frame);
    }
    if (commands.length > 0) this.posting!.submit(conn, state.user, state.session, commands);
  }

  onClose(conn: Viewer) {
    this.gone(conn);
    answerClose(conn);
  }

  onError(conn: Viewer) {
    this.gone(conn);
  }

  // ---- HTTP (relay/http-routes.ts): the operator's view, and the test switch that drops the subscription.

  onRequest(request: Party.Request): Promise<Response> {
    return relayRequest(request as unknown as Request, {
      room: this.room,
      bootId: this.bootId,
      shard: this.target?.shard,
      testMode: this.config.test.mode,
      parts: () => ({
        shards: this.shardCount,
        subscribed: this.upstream?.open ?? false,
        posting: this.posting?.inFlight ?? 0,
        window: { epoch: this.window.epoch, first: this.window.first(), last: this.window.last },
      }),
      drop: (wipe) => this.testDrop(wipe),
    });
  }

  private testDrop(wipe: boolean): void {
    this.upstream!.drop(false);
    if (!wipe) return;
    this.coalescer.clear();
    this.window.reset("", 0);
  }

  // ---- The subscription (relay/upstream.ts).

  private onWelcome(epoch: string, lastSeq: number, recovered: boolean, pins: Pin[]): void {
    // The room's pins as of its welcome; a replay that follows changes them again as it passes (pins are
    // idempotent: a pin of a pinned seq, an unpin of an unpinned one, change nothing).
    this.pins = new Pins(pins);
    // A new subscription: the room greets it with the count and the typing list again (PROTOCOL R52).
    this.signals.clear();
    if (!recovered) {
      this.coalescer.clear();
      // A stream the relay cannot continue (first subscription, new epoch, or too far behind): viewers that
      // joined the old position resync and resume from their own positions (PROTOCOL I5).
      if (this.window.epoch !== epoch || this.window.last !== lastSeq) this.viewers!.resyncAll();
      this.window.reset(epoch, lastSeq);
    }
    this.subscribed = true;
    this.count.now();
    this.maybeReady();
  }

  private onEvents(frame: string): void {
    let events: RoomEvent[];
    try {
      events = (JSON.parse(frame) as { events: RoomEvent[] }).events;
    } catch {
      return;
    }
    const first = events[0];
    const last = events[events.length - 1];
    if (!first || !last) return;
    // The relay's position counts what waits to be forwarded (PROTOCOL R54).
    const held = this.coalescer.last ?? this.window.last;
    if (first.seq > held + 1) {
      // Never expected (the room replays from our position): resubscribe rather than forward a gap.
      console.error(`relay ${this.room.id}: gap ${held + 1}..${first.seq - 1}; resubscribing`);
      this.coalescer.flush();
      return this.upstream!.drop(false);
    }
    if (last.seq <= held) return; // not news (a replay overlapping what the relay has)
    this.coalescer.add(frame, events);
  }

  /** A frame for the viewers (one from the room, or several gathered into one, PROTOCOL R54). */
  private forward({ from, to, frame, events }: Gathered): void {
    if (!this.window.append(from, to, frame)) return;
    this.viewers!.broadcast(frame);
    // After the event reached everyone: a ban closes the user's sockets here (PROTOCOL R52); pins follow
    // their events (PROTOCOL R24).
    for (const event of events) {
      this.pins.commit(event);
      if (event.kind !== "moderation") continue;
      if (event.action === "ban" && event.until !== undefined) this.viewers!.banned(event.user, event.until);
      else if (event.action === "unban") this.viewers!.bans.delete(event.user);
    }
  }

  private onConfig(frame: RelayConfigFrame): void {
    this.shardCount = frame.shards;
    this.viewers!.bans.clear();
    for (const ban of frame.bans) this.viewers!.bans.set(ban.user, ban.until);
    this.viewers!.hosts.clear();
    for (const host of frame.hosts ?? []) this.viewers!.hosts.add(host);
    this.viewers!.rebalance();
    const { shard } = this.target!;
    if (frame.shards <= shard) {
      // This shard no longer exists: its viewers moved; it unsubscribes until a viewer arrives again.
      this.coalescer.flush();
      this.upstream!.drop(true);
      this.ready = false;
      this.subscribed = false;
      this.shardCount = undefined;
      return;
    }
    this.maybeReady();
  }

  private maybeReady(): void {
    if (this.ready || !this.subscribed || this.shardCount === undefined) return;
    this.ready = true;
    for (const conn of this.room.getConnections<ViewerState>()) if (conn.state && !conn.state.joined) void this.viewers!.join(conn);
  }

  // ---- Internals.

  private gone(conn: Viewer): void {
    this.viewers?.forget(conn.id);
    this.posting?.forget(conn.id);
    this.cut.delete(conn.id);
    this.count.soon();
  }

  private refuse(conn: Viewer, frame: ReturnType<typeof errorFrame>, code: number): void {
    safeSend(conn, JSON.stringify(frame));
    this.close(conn, code, frame.code);
  }

  private close(conn: Viewer, code: number, reason: string): void {
    this.cut.add(conn.id);
    this.viewers?.forget(conn.id);
    this.posting?.forget(conn.id);
    try {
      conn.close(code, reason);
    } catch {
      // already closed
    }
    this.count.soon();
  }

  /** Viewers that count for the room (PROTOCOL R52): past the connect checks, not cut off. */
  private countViewers(): number {
    let viewers = 0;
    for (const conn of this.room.getConnections<ViewerState>()) if (conn.state && !this.cut.has(conn.id)) viewers++;
    return viewers;
  }
}
