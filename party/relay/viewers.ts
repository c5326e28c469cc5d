/**
 * A relay shard's viewers (PROTOCOL R52): admission (the shard must be the viewer's, the viewer not
 * banned), the welcome and the resume replay from the relay's own window, live frames forwarded as the
 * room serialised them, and bans closing the banned user's sockets here. Per viewer the relay keeps only
 * its connection state (user, session, token expiry: a few hundred bytes, kept outside the isolate while
 * the socket hibernates); a viewer still receiving its replay has a catch-up buffer until it is done.
 */
import type * as Party from "partykit/server";
import { CLOSE, LIMITS, RELAY_PARTY, relayId, shardOf, type ConnectQuery, type Identity, type RedirectFrame, type WelcomeFrame } from "../protocol/index.ts";
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
  /** Events after `after` up to the window's start, from the room (stored records, ascending). */
  fetchAfter(after: number, before: number): Promise<WindowFrame[]>;
  close(conn: Viewer, code: number, reason: string): void;
}

export class RelayViewers {
  /** Bans in force as the room last said (user → until): refused at connect, closed when they land. */
  readonly bans = new Map<string, number>();
  /** Viewers still receiving their replay: live frames for them wait here (PROTOCOL R7). */
  private readonly catchingUp = new Map<string, { frames: string[]; bytes: number }>();
  /** One fill of the window from the room at a time; viewers that need it wait for the same one. */
  private filling: Promise<void> | undefined;

  constructor(private readonly host: ViewersHost) {}

  /** Where a viewer of `user` belongs, when not here (PROTOCOL R51): a redirect frame to send before 4031. */
  misplaced(user: string): RedirectFrame | undefined {
    const shards = this.host.shards();
    if (shards === undefined) return undefined;
    if (shards === 0) return { type: "redirect", party: "room", id: this.host.roomId, shards: 0 };
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
      resume,
      serverTime: Date.now(),
    } satisfies WelcomeFrame;
    conn.setState({ user: state.user, session: state.session, ...(state.exp !== undefined ? { exp: state.exp } : {}), joined: true });
    safeSend(conn, JSON.stringify(welcome));
    if (!resume?.recovered || !at || at.lastSeq >= last) return;
    if (window.covers(at.lastSeq)) {
      for (const frame of window.since(at.lastSeq)) safeSend(conn, frame);
      return;
    }
    // Behind the window: one fill from the room for every viewer that needs it, while live frames wait.
    this.catchingUp.set(conn.id, { frames: [], bytes: 0 });
    try {
      await this.fill(at.lastSeq);
      for (const frame of window.since(at.lastSeq)) safeSend(conn, frame);
    } catch (error) {
      console.error("relay: filling the window failed", error);
      this.catchingUp.delete(conn.id);
      return this.host.close(conn, CLOSE.resyncRequired, "resync_required");
    }
    for (const frame of this.catchingUp.get(conn.id)?.frames ?? []) safeSend(conn, frame);
    this.catchingUp.delete(conn.id);
  }

  /** One live frame to every joined viewer, serialised once by the room (PROTOCOL R52). */
  broadcast(frame: string): void {
    for (const conn of this.host.room.getConnections<ViewerState>()) {
      if (!conn.state?.joined) continue;
      const buffer = this.catchingUp.get(conn.id);
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

  /** The shard count changed: viewers that now belong elsewhere move (redirect, 4031) (PROTOCOL R53). */
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

  /** Every joined viewer resyncs (the stream changed under the relay, or it lost events): 4013. */
  resyncAll(): void {
    for (const conn of this.host.room.getConnections<ViewerState>()) if (conn.state?.joined) this.host.close(conn, CLOSE.resyncRequired, "resync_required");
  }

  forget(connId: string): void {
    this.catchingUp.delete(connId);
  }

  /** Extends the window back to `after` with the room's stored records, once for all who wait. */
  private async fill(after: number): Promise<void> {
    while (!this.host.window.covers(after)) {
      if (!this.filling) {
        const { window } = this.host;
        const before = window.first();
        this.filling = this.host
          .fetchAfter(after, before)
          .then((frames) => {
            if (frames.length === 0) throw new Error("the room returned no events for the gap");
            if (window.first() === before) window.prepend(frames);
          })
          .finally(() => (this.filling = undefined));
      }
      await this.filling;
      if (this.host.window.first() - 1 > after && this.host.window.size >= LIMITS.relayWindowEvents) throw new Error("the window cannot hold the gap");
    }
  }
}
