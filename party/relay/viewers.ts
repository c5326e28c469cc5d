/**
 * A relay shard's viewers (PROTOCOL R52): admission (the shard must be the viewer's, the viewer not
 * banned), the welcome and the resume replay from the relay's own window, live frames forwarded as the
 * room serialised them, and bans closing the banned user's sockets here. Per viewer the relay keeps only
 * its connection state (user, session, token expiry: a few hundred bytes, kept outside the isolate while
 * the socket hibernates); a viewer still receiving its replay has a catch-up buffer until it is done.
 */
import type * as Party from "partykit/server";
import { CLOSE, LIMITS, RELAY_PARTY, relayId, shardOf, type Identity, type Pin, type RedirectFrame, type WelcomeFrame } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { decideResume } from "../core/resume.ts";
import type { RelayWindow, WindowFrame } from "../core/relay-window.ts";
import { safeSend } from "../adapters/sockets.ts";

/** A viewer's connection state: flat, small, hibernation-safe. `at`: the position it asked to resume from. */
export type ViewerState = { user: Identity; session: string; exp?: number; at?: { epoch: string; lastSeq: number }; joined?: true };
export type Viewer = Party.Connection<ViewerState>;

export interface ViewersHost {
  readonly room: Party.Room;
  readonly roomId: string;
  readonly shard: number;
  readonly bootId: string;
  readonly window: RelayWindow;
  /** The room's shard count as last heard; undefined until the subscription's first config. */
  shards(): number | undefined;
  /** The room's latest presence and typing frames, for a viewer that just joined (relay/signals.ts). */
  greeting(): string[];
  /** The room's pins as of the window's last event (PROTOCOL R24: the welcome lists them). */
  pins(): Pin[];
  /** Events after `after` up to the window's start, from the room (stored records, ascending). */
  fetchAfter(after: number, before: number): Promise<WindowFrame[]>;
  close(conn: Viewer, code: number, reason: string): void;
}

export class RelayViewers {
  /** Bans in force as the room last said (user → until): refused at connect, closed when they land. */
  readonly bans = new Map<string, number>();
  /** The room's hosts as it last said: they belong on the room itself (PROTOCOL R51). */
  readonly hosts = new Set<string>();
  /** Viewers still receiving their replay: live frames for them wait here (PROTOCOL R7). */
  private readonly catchingUp = new Map<string, { frames: string[]; bytes: number }>();
  /** The fill from the room in flight: viewers behind the window who need no more than it fetches share it. */
  private filling: { after: number; before: number; frames: Promise<WindowFrame[]> } | undefined;
  /**
   * The joined viewers by connection id, in memory, for the broadcast (see `broadcast`): one map entry per
   * viewer (the id string is the one the runtime's attachment holds). Undefined until first needed: a relay
   * woken with hibernated sockets rebuilds it from the runtime's sockets and their stored state.
   */
  private joinedById: Map<string, Viewer> | undefined;

  constructor(private readonly host: ViewersHost) {}

  /**
   * Where a viewer of `user` belongs, when not here (PROTOCOL R51): a redirect frame to send before 4031. A
   * host belongs on the room, where it may show as typing.
   */
  misplaced(user: string): RedirectFrame | undefined {
    const shards = this.host.shards();
    if (shards === undefined) return undefined;
    if (shards === 0 || this.hosts.has(user)) return { type: "redirect", party: "room", id: this.host.roomId, shards };
    const shard = shardOf(user, shards);
    return shard === this.host.shard ? undefined : { type: "redirect", party: RELAY_PARTY, id: relayId(this.host.roomId, shard), shard, shards };
  }

  /** Refused before joining: banned here (typed frame, 4030), or belongs on another shard (redirect, 4031). */
  refusal(conn: Viewer, user: Identity): boolean {
    const until = this.bans.get(user.id);
    if (until !== undefined && until > Date.now() && user.role !== "operator") {
      safeSend(conn, JSON.stringify(errorFrame("banned", { retryAfterMs: until - Date.now() })));
      this.host.close(conn, CLOSE.banned, "banned");
      return true;
    }
    const redirect = user.role === "operator" ? undefined : this.misplaced(user.id);
    if (!redirect) return false;
    safeSend(conn, JSON.stringify(redirect));
    this.host.close(conn, CLOSE.moved, "moved");
    return true;
  }

  /** The welcome, then the replay from the window (filled from the room first if the viewer is behind it). */
  async join(conn: Viewer): Promise<void> {
    const state = conn.state;
    if (!state || this.refusal(conn, state.user)) return;
    const { window } = this.host;
    const at = state.at;
    const last = window.last;
    // A viewer ahead of this relay (it came from a shard a few events ahead) resumes: the events up to its
    // position arrive live and it drops them (PROTOCOL R7), so nothing is missed and nothing shown twice.
    const resume = at ? (at.epoch === window.epoch && at.lastSeq > last ? { recovered: true as const } : decideResume({ epoch: window.epoch, committedSeq: last, resumeMaxEvents: LIMITS.relayWindowEvents }, at)) : null;
    const welcome = {
      type: "welcome",
      room: this.host.roomId,
      epoch: window.epoch,
      lastSeq: last,
      bootId: this.host.bootId,
      user: state.user,
      sessionLastN: 0,
      accepts: ["batch"],
      window: LIMITS.socketWindow, // PROTOCOL R84: a viewer's posts reach the room through this relay's one socket
      resume,
      serverTime: Date.now(),
      pins: this.host.pins(),
    } satisfies WelcomeFrame;
    conn.setState({ user: state.user, session: state.session, ...(state.exp !== undefined ? { exp: state.exp } : {}), joined: true });
    this.joined().set(conn.id, conn);
    safeSend(conn, JSON.stringify(welcome));
    for (const frame of this.host.greeting()) safeSend(conn, frame);
    if (!resume?.recovered || !at || at.lastSeq >= last) return;
    if (window.covers(at.lastSeq)) {
      for (const frame of window.since(at.lastSeq)) safeSend(conn, frame);
      return;
    }
    // Behind the window: what the window holds now, and the older part from the room (one fetch shared by
    // the viewers that need no more than it), while live frames wait in the catch-up buffer.
    const before = window.first();
    const held = window.since(at.lastSeq);
    this.catchingUp.set(conn.id, { frames: [], bytes: 0 });
    try {
      for (const frame of await this.older(at.lastSeq, before)) safeSend(conn, frame.frame);
      for (const frame of held) safeSend(conn, frame);
    } catch (error) {
      console.error("relay: filling the window failed", error);
      this.catchingUp.delete(conn.id);
      return this.again(conn);
    }
    for (const frame of this.catchingUp.get(conn.id)?.frames ?? []) safeSend(conn, frame);
    this.catchingUp.delete(conn.id);
  }

  /**
   * One live frame to every joined viewer, serialised once by the room (PROTOCOL R52). It walks the relay's
   * own list rather than the runtime's sockets: asking the runtime for every socket and reading each one's
   * ready state and stored state cost ~6% of a relay's CPU at 20,000 viewers (perf), in the loop whose length
   * is what a viewer waits for its frame (bench/RESULTS.md). A viewer with a catch-up buffer is looked up
   * only while some viewer has one.
   */
  broadcast(frame: string): void {
    const catching = this.catchingUp.size > 0;
    for (const conn of this.joined().values()) {
      const buffer = catching ? this.catchingUp.get(conn.id) : undefined;
      if (!buffer) safeSend(conn, frame);
      else if ((buffer.bytes += frame.length) <= LIMITS.catchUpMaxBytes) buffer.frames.push(frame);
      else {
        this.catchingUp.delete(conn.id);
        this.host.close(conn, CLOSE.resyncRequired, "resync_required");
      }
    }
  }

  /** A ban landed (its event already forwarded): every socket of the user here gets `banned` and 4030. */
  banned(user: string, until: number): void {
    this.bans.set(user, until);
    const frame = JSON.stringify(errorFrame("banned", { retryAfterMs: Math.max(0, until - Date.now()) }));
    for (const conn of this.host.room.getConnections<ViewerState>()) {
      if (conn.state?.user.id !== user || conn.state.user.role === "operator") continue;
      safeSend(conn, frame);
      this.host.close(conn, CLOSE.banned, "banned");
    }
  }

  /** The shard count or the hosts changed: viewers that now belong elsewhere move (redirect, 4031) (PROTOCOL R51, R53). */
  rebalance(): void {
    for (const conn of this.host.room.getConnections<ViewerState>()) {
      const state = conn.state;
      if (!state || state.user.role === "operator") continue;
      const redirect = this.misplaced(state.user.id);
      if (!redirect) continue;
      safeSend(conn, JSON.stringify(redirect));
      this.host.close(conn, CLOSE.moved, "moved");
    }
  }

  /**
   * Every joined viewer resumes again (the relay's stream jumped: it lost its state, or the room's epoch
   * changed): a redirect to this same shard, then 4031, so each client reconnects at once from its own
   * position (a hibernated socket's bare close can take seconds to reach a client).
   */
  resyncAll(): void {
    for (const conn of this.joined().values()) this.again(conn); // each is forgotten as it closes
  }

  private again(conn: Viewer): void {
    const shards = this.host.shards() ?? this.host.shard + 1;
    safeSend(conn, JSON.stringify({ type: "redirect", party: RELAY_PARTY, id: relayId(this.host.roomId, this.host.shard), shard: this.host.shard, shards } satisfies RedirectFrame));
    this.host.close(conn, CLOSE.moved, "moved");
  }

  /** A viewer closed, or was closed by the relay: nothing more is sent to it. */
  forget(connId: string): void {
    this.catchingUp.delete(connId);
    this.joinedById?.delete(connId);
  }

  private joined(): Map<string, Viewer> {
    if (this.joinedById) return this.joinedById;
    this.joinedById = new Map();
    for (const conn of this.host.room.getConnections<ViewerState>()) if (conn.state?.joined) this.joinedById.set(conn.id, conn);
    return this.joinedById;
  }

  /**
   * Events `after + 1 … before − 1` from the room's stored records. A fetch in flight for the same window
   * start that reaches back at least as far is shared (it may start earlier: clients drop seqs they have).
   * What comes back goes in front of the window while the window still starts there and has room.
   */
  private older(after: number, before: number): Promise<WindowFrame[]> {
    const shared = this.filling;
    if (shared && shared.before === before && shared.after <= after) return shared.frames;
    const { window } = this.host;
    const frames = this.host.fetchAfter(after, before).then((fetched) => {
      const last = fetched[fetched.length - 1];
      if (!last || last.to < before - 1 || fetched[0]!.from > after + 1) throw new Error(`the room returned ${fetched.length} frames for ${after + 1}..${before - 1}`);
      if (window.first() === before) window.prepend(fetched);
      return fetched;
    });
    const entry = { after, before, frames };
    this.filling = entry;
    void frames.catch(() => undefined).finally(() => {
      if (this.filling === entry) this.filling = undefined;
    });
    return frames;
  }
}
