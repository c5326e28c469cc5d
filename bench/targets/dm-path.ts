/**
 * How a one-to-one message travels in the one-to-one scenario.
 *
 * Today: every device connects to the pair's DM room `dm:<a>:<b>` (a < b) and the message goes
 * client → room (sequenced, stored) → the recipient's devices and the sender's other devices.
 *
 * INBOX ADAPTER (for the lead to connect): DESIGN.md routes DMs client → inbox(sender) → DM room →
 * inbox(recipient) → every device, one socket per user. When party/inbox.ts lands, add an `InboxDmPath`
 * below whose connectDevice opens /parties/inbox/<user> and maps its frames to the Conn shape
 * (joinSeq, send, and Ev{seq, clientId, text} per delivered DM), then return it from `dmPathFor` for
 * kaiwa. The scenario, the ledger and the report stay as they are.
 */
import type { Conn, ConnHandlers, Target } from "./types.ts";

export interface DmPath {
  readonly name: string;
  /** The id under which the ledger tracks this pair's conversation. */
  conversation(a: string, b: string): string;
  connectDevice(me: string, peer: string, device: string, handlers: ConnHandlers): Promise<Conn>;
}

/** The DM room directly (all targets; for kaiwa the canonical sorted `dm:a:b` room id). */
export class RoomDmPath implements DmPath {
  readonly name = "dm room";
  constructor(private readonly target: Target) {}

  conversation(a: string, b: string): string {
    return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
  }

  connectDevice(me: string, peer: string, device: string, handlers: ConnHandlers): Promise<Conn> {
    return this.target.connect({ room: this.conversation(me, peer), user: me, session: `${me}-${device}`, handlers });
  }
}

export function dmPathFor(target: Target): DmPath {
  // INBOX ADAPTER: `if (target.name === "kaiwa") return new InboxDmPath(target);` once the inbox exists.
  return new RoomDmPath(target);
}
