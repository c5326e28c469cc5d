/**
 * The DM router's queues (PROTOCOL IB1), on plain data. Per room, commands wait in arrival order and leave as
 * one batch (at most `maxBatch`), with one batch in flight per room, so a device's commands reach the room in
 * the order it numbered them (PROTOCOL I4) while different conversations proceed independently. A device
 * closed for resync has its queued commands dropped: it resends everything unacked, in order.
 *
 * No I/O: party/inbox/dm-router.ts makes the calls and answers the devices.
 */
import type { DmCommand } from "../protocol/index.ts";

export class DmQueues<T> {
  private readonly queues = new Map<string, T[]>();
  private readonly busy = new Set<string>();
  /** Devices closed for resync, until their socket's close is seen. */
  private readonly dropped = new Set<string>();

  constructor(
    private readonly deviceOf: (item: T) => string,
    private readonly maxBatch: number,
  ) {}

  /** Queues an item; true when the room has no batch in flight (the caller flushes it now). */
  add(room: string, item: T): boolean {
    if (this.dropped.has(this.deviceOf(item))) return false;
    const queue = this.queues.get(room) ?? [];
    queue.push(item);
    this.queues.set(room, queue);
    return !this.busy.has(room);
  }

  /**
   * The room's next batch, which is then in flight until `done`; undefined (and nothing in flight) when
   * nothing from a device still in good standing is queued.
   */
  take(room: string): T[] | undefined {
    const queue = (this.queues.get(room) ?? []).filter((item) => !this.dropped.has(this.deviceOf(item)));
    this.queues.delete(room);
    if (queue.length === 0) return undefined;
    this.busy.add(room);
    const batch = queue.slice(0, this.maxBatch);
    const rest = queue.slice(batch.length);
    if (rest.length) this.queues.set(room, rest);
    return batch;
  }

  /** The room's batch was answered; true when more is queued (the caller flushes again). */
  done(room: string): boolean {
    this.busy.delete(room);
    return this.queues.has(room);
  }

  /** The device is closed for resync: its queued and later commands are dropped, its answers not sent. */
  drop(deviceId: string): void {
    this.dropped.add(deviceId);
  }

  isDropped(deviceId: string): boolean {
    return this.dropped.has(deviceId);
  }

  /** The device's socket closed: its id is never seen again. */
  forget(deviceId: string): void {
    this.dropped.delete(deviceId);
  }
}

/** A batch item of `POST /commands` on the DM room. */
export type RoomItem = { session: string; command: Omit<DmCommand, "type" | "to"> & { type: "send" } };

/** A device's `dm` as the DM room's `send` in the device's inbox session `ib-<session>` (PROTOCOL IB1). */
export function toRoomItem(session: string, command: DmCommand): RoomItem {
  const { type: _type, to: _to, ...rest } = command;
  return { session: `ib-${session}`, command: { type: "send", ...rest } };
}
