/**
 * The conversation list and what feeds it: room notifications (PROTOCOL IB2), applied one at a time through the
 * pure InboxCore and stored (`c:`) before the room hears "ok"; the rooms that acked this user's DMs and
 * still owe a notification (`o:`, PROTOCOL IB3); and for a user with no device connected, the away marks (`q:`)
 * and the push queue (PROTOCOL IB5).
 */
import type * as Party from "partykit/server";
import { LIMITS, type Notification } from "../protocol/index.ts";
import { InboxCore, toConversation, type Entry } from "../core/inbox-core.ts";
import { PushQueue, type PushConfig, type PushPayload } from "../adapters/push.ts";
import { AWAY_PREFIX, ENTRY_PREFIX, OWED_PREFIX, PUSH_JOB_PREFIX, awayKey, entryKey, keyedId, owedKey } from "./keys.ts";
import type { RoomCall } from "./types.ts";

/** What the inbox shell lends this part. */
export interface ConversationsHost {
  readonly userId: string;
  readonly storage: Party.Storage;
  readonly pushConfig: PushConfig | undefined;
  /** Arms the actor's alarm (push retries). */
  armAlarm(at: number): void;
  /** Whose inbox this is, once known (the identity rooms are woken for). */
  owner(): string | undefined;
  deviceCount(): number;
  toDevices(frame: string): void;
  /** A new DM peer: they learn this user's status (`online` as of this notification). */
  greet(peer: string, online: boolean): void;
  callRoom: RoomCall;
}

export class Conversations {
  private core = new InboxCore();
  private readonly push: PushQueue;
  /** Rooms that acked this user's DMs and have not yet notified up to that seq (mirrors `o:` keys). */
  private readonly owed = new Map<string, number>();
  /** Notifications are applied one at a time, so stored entries follow the order they were decided in. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: ConversationsHost) {
    this.push = new PushQueue(host.storage, host.pushConfig, (at) => host.armAlarm(at), PUSH_JOB_PREFIX);
  }

  /** The list as it is now (read only: it changes through `apply`). */
  get list(): InboxCore {
    return this.core;
  }

  async load(): Promise<void> {
    const [entries, owed] = await Promise.all([
      this.host.storage.list<Entry>({ prefix: ENTRY_PREFIX }),
      this.host.storage.list<number>({ prefix: OWED_PREFIX }),
    ]);
    this.core = new InboxCore(entries.values());
    for (const [key, seq] of owed) {
      const room = keyedId(OWED_PREFIX, key);
      if ((this.core.get(room)?.lastSeq ?? 0) < seq) this.owed.set(room, seq);
    }
  }

  /** After load: pending pushes go out, and rooms that owe a notification are woken. */
  start(): void {
    void this.push.run();
    void this.wakeOwingRooms();
  }

  runPush(): Promise<void> {
    return this.push.run();
  }

  /**
   * A room notifies after its write, and its alarm retries; but partykit dev loses alarms when it restarts,
   * so an inbox starting up also wakes every room that still owes it a notification. On Cloudflare the
   * alarm alone would do; this costs one call per owing room, and none once notifications arrive.
   */
  private async wakeOwingRooms(): Promise<void> {
    for (const dmRoom of this.owed.keys()) {
      const owner = this.host.owner();
      if (!owner) return;
      this.host
        .callRoom(dmRoom, "/wake", { method: "POST", body: "{}" }, { id: owner, name: owner })
        .then((response) => response.body?.cancel())
        .catch((error) => console.error(`waking ${dmRoom} failed`, error));
    }
  }

  /**
   * A DM room acked this user's DMs up to `seq`. Not awaited on purpose: the output gate holds the device's
   * ack until this write is durable, and an await here would serialise every batch behind its own storage
   * round-trip (measured: DM p99 ~1 s).
   */
  async owe(dmRoom: string, seq: number): Promise<void> {
    if ((this.core.get(dmRoom)?.lastSeq ?? 0) >= seq || (this.owed.get(dmRoom) ?? 0) >= seq) return;
    this.owed.set(dmRoom, seq);
    this.host.storage.put(owedKey(dmRoom), seq).catch((error) => console.error("remembering an owed notification failed", error));
  }

  /** Applies, stores (durably, before the room hears "ok"), then tells devices; offline users get queue + push. */
  apply(notifications: Notification[]): Promise<void> {
    const run = this.tail.then(async () => {
      const online = this.host.deviceCount() > 0;
      const writes: Record<string, unknown> = {};
      const frames: string[] = [];
      const pushes: PushPayload[] = [];
      const newPeers: string[] = [];
      const settled: string[] = [];
      for (const n of notifications) {
        const applied = this.core.apply(n);
        if (!applied.changed) continue;
        writes[entryKey(n.room)] = applied.entry;
        settled.push(n.room);
        if (applied.created && applied.entry.peer) newPeers.push(applied.entry.peer);
        if (applied.fresh.length > 0) frames.push(JSON.stringify({ type: "events", room: n.room, events: applied.fresh }));
        frames.push(JSON.stringify({ type: "conversation", conversation: toConversation(applied.entry), totalUnread: this.core.totalUnread() }));
        const fromOthers = applied.fresh.filter((e) => e.kind === "message" && e.author.id !== this.host.userId && e.deletedBy === undefined);
        if (!online && fromOthers.length > 0) {
          writes[awayKey(n.room)] = Date.now(); // coalesced per conversation
          for (const e of fromOthers) {
            if (e.kind !== "message") continue;
            const mention = e.mentions?.includes(this.host.userId) === true; // PROTOCOL R27: the app may alert louder
            pushes.push({ user: this.host.userId, room: n.room, seq: e.seq, ts: e.ts, from: e.author, preview: e.text.slice(0, LIMITS.previewChars), ...(mention ? { mention } : {}) });
          }
        }
      }
      if (Object.keys(writes).length > 0) await this.host.storage.put(writes);
      this.settleOwed(settled);
      for (const frame of frames) this.host.toDevices(frame);
      await this.push.enqueue(pushes);
      // A new contact learns this user's status (and announces theirs when its own inbox creates the entry).
      for (const peer of newPeers) this.host.greet(peer, online);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Settled in memory only: the stored `o:` key stays (a later DM overwrites it), and on start only rooms
   * whose owed seq is above the conversation's lastSeq are woken. Deleting it cost one more durable write
   * per DM, and every write is a sync in partykit dev.
   */
  private settleOwed(rooms: string[]): void {
    for (const room of rooms) if (this.owed.has(room) && (this.core.get(room)?.lastSeq ?? 0) >= this.owed.get(room)!) this.owed.delete(room);
  }

  /** Rooms that changed while the user had no device connected (for the welcome). */
  async awayRooms(): Promise<string[]> {
    const away = await this.host.storage.list({ prefix: AWAY_PREFIX });
    return [...away.keys()].map((key) => keyedId(AWAY_PREFIX, key));
  }

  /** The welcome listed them: the marks go. */
  async clearAway(rooms: string[]): Promise<void> {
    await this.host.storage.delete(rooms.map(awayKey));
  }
}
