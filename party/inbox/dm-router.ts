/**
 * Routes a user's direct messages from their devices to the DM rooms. Per room, commands queue in arrival
 * order and go out as one batch, with one batch in flight per room, so a device's commands reach the room in
 * the order it numbered them (PROTOCOL I4) while different conversations proceed independently (the queues:
 * party/core/dm-queues.ts).
 *
 * Each device gets its ack only when the room answers, i.e. after the room's durable write (PROTOCOL I2). If
 * the room cannot be reached or could not store a command, the device's socket is closed with 4013: it
 * reconnects and resends everything unacked, in order, and the room's dedupe (PROTOCOL I3) answers resends
 * with the original ack.
 */
import { isResent, LIMITS, RoomCommandResult, type DmCommand, type ErrorFrame, type Identity, type InboxAck } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { DmQueues, toRoomItem } from "../core/dm-queues.ts";

/** `settled`: the DM was answered (or will never be, its device cut off): the device's pending count drops (PROTOCOL §7). */
export type Device = { id: string; session: string; user: Identity; send(frame: string): void; resync(): void; settled?(): void };
type Item = { device: Device; command: DmCommand };
/** `who`: the user the batch is sent for, with the display name of the newest device token. */
export type RoomCaller = (room: string, body: string, who: Identity) => Promise<Response>;

export class DmRouter {
  private readonly queues = new DmQueues<Item>((item) => item.device.id, LIMITS.maxCommandsPerFlush);

  /**
   * `owe`: called with the highest acked seq before any device hears its ack, so the inbox can remember
   * that the room owes it a notification up to there (and wake the room if that never comes).
   */
  constructor(
    private readonly callRoom: RoomCaller,
    private readonly owe: (room: string, seq: number) => Promise<void>,
  ) {}

  route(room: string, device: Device, command: DmCommand): void {
    if (this.queues.add(room, { device, command })) void this.flush(room);
  }

  forget(deviceId: string): void {
    this.queues.forget(deviceId);
  }

  /** The device was cut off (a bound, PROTOCOL §7): its queued DMs are dropped and no answer reaches it. */
  drop(deviceId: string): void {
    this.queues.drop(deviceId);
  }

  private async flush(room: string): Promise<void> {
    const batch = this.queues.take(room);
    if (!batch) return;
    try {
      const results = await this.send(room, batch);
      const acked = results.flatMap((result) => ("ack" in result ? [result.ack.seq] : []));
      if (acked.length > 0) await this.owe(room, Math.max(...acked));
      batch.forEach((item, i) => this.answer(room, item, results[i]!));
    } catch (error) {
      console.error(`DM room ${room} unreachable`, error);
      for (const item of batch) this.answer(room, item, { error: errorFrame("room_unavailable", { ref: item.command.clientId }) });
    } finally {
      if (this.queues.done(room)) void this.flush(room);
    }
  }

  private async send(room: string, batch: Item[]): Promise<RoomCommandResult[]> {
    const items = batch.map(({ device, command }) => toRoomItem(device.session, command));
    const response = await this.callRoom(room, JSON.stringify({ items }), batch.at(-1)!.device.user);
    const body = (await response.json().catch(() => undefined)) as { results?: unknown } | undefined;
    if (!response.ok || !Array.isArray(body?.results) || body.results.length !== batch.length) {
      throw new Error(`room answered ${response.status}: ${String(JSON.stringify(body)).slice(0, 200)}`);
    }
    return body.results.map((result) => RoomCommandResult.parse(result));
  }

  private answer(room: string, item: Item, result: RoomCommandResult): void {
    item.device.settled?.();
    if (this.queues.isDropped(item.device.id)) return;
    if ("ack" in result) {
      const acks: InboxAck[] = [{ ...result.ack, room }];
      return item.device.send(JSON.stringify({ type: "ack", acks }));
    }
    const error: ErrorFrame = { ...result.error, ref: item.command.clientId };
    item.device.send(JSON.stringify(error));
    if (isResent(error.code)) {
      // Later commands of this device must not overtake this one: drop them, the device resends all.
      this.queues.drop(item.device.id);
      item.device.resync();
    }
  }
}
