/**
 * The load tool's bookkeeping of correctness: every message is keyed by (room, seq, clientId), and at the
 * end of a run anything lost or duplicated is counted and named. Pure (no sockets, no clock) so it is
 * tested on plain data (tests/unit/load-tool-ledger.test.ts).
 *
 * What counts as lost:
 *  - a sent command never acked (after the drain);
 *  - a receiver that skips a seq (gap), or ends below the highest acked seq of its room (tail loss);
 * What counts as duplicated:
 *  - one (room, clientId) acked or delivered under two different seqs (stored twice, PROTOCOL I3);
 *  - a receiver that gets a seq it already had;
 * What counts as a mismatch: a seq delivered with another clientId than the ack named.
 */
export type Problem = { kind: "lost" | "duplicate" | "mismatch"; room: string; seq?: number; clientId?: string; receiver?: string; detail: string };

type RoomBook = {
  /** seq → clientId and clientId → seq, claimed by the first ack or delivery that names the pair. */
  bySeq: Map<number, string>;
  seqOf: Map<string, number>;
  acked: Set<string>;
  maxAcked: number;
  unacked: Set<string>;
};

/** One receiving socket's view of one room: contiguous from its join point. */
export type Receiver = { id: string; room: string; last: number; delivered: number; active: boolean };

const MAX_NAMED = 20;

export class Ledger {
  private readonly rooms = new Map<string, RoomBook>();
  private readonly receivers: Receiver[] = [];
  readonly problems: Problem[] = [];
  counts = { sent: 0, acked: 0, delivered: 0, lost: 0, duplicates: 0, mismatches: 0 };

  private book(room: string): RoomBook {
    let book = this.rooms.get(room);
    if (!book) {
      book = { bySeq: new Map(), seqOf: new Map(), acked: new Set(), maxAcked: 0, unacked: new Set() };
      this.rooms.set(room, book);
    }
    return book;
  }

  /** A receiver joins `room` having everything up to `startSeq` (the welcome's lastSeq). */
  receiver(id: string, room: string, startSeq: number): Receiver {
    const receiver = { id, room, last: startSeq, delivered: 0, active: true };
    this.receivers.push(receiver);
    this.book(room);
    return receiver;
  }

  sent(room: string, clientId: string): void {
    this.counts.sent++;
    this.book(room).unacked.add(clientId);
  }

  /** A durable ack (or, for baselines, the server's ack) of clientId as seq. A resent ack (duplicate: true) is fine. */
  acked(room: string, clientId: string, seq: number): void {
    const book = this.book(room);
    this.claim(book, room, seq, clientId);
    if (book.acked.has(clientId)) return;
    book.acked.add(clientId);
    book.unacked.delete(clientId);
    this.counts.acked++;
    if (seq > book.maxAcked) book.maxAcked = seq;
  }

  /** One event reaching one receiver. Hot path: a compare and two map lookups. */
  delivered(receiver: Receiver, seq: number, clientId: string): void {
    this.counts.delivered++;
    if (seq <= receiver.last) {
      this.problem({ kind: "duplicate", room: receiver.room, seq, clientId, receiver: receiver.id, detail: `seq ${seq} delivered again (receiver was at ${receiver.last})` });
      return;
    }
    if (seq !== receiver.last + 1) {
      this.problem({ kind: "lost", room: receiver.room, seq: receiver.last + 1, receiver: receiver.id, detail: `gap: seqs ${receiver.last + 1}..${seq - 1} never delivered` }, seq - receiver.last - 1);
    }
    receiver.last = seq;
    receiver.delivered++;
    this.claim(this.rooms.get(receiver.room)!, receiver.room, seq, clientId, receiver.id);
  }

  /** The first sighting of a seq or clientId fixes the pair; any other pairing is a duplicate or mismatch. */
  private claim(book: RoomBook, room: string, seq: number, clientId: string, receiver?: string): void {
    const named = book.bySeq.get(seq);
    if (named === clientId) return;
    if (named !== undefined) {
      this.problem({ kind: "mismatch", room, seq, clientId, receiver, detail: `seq ${seq} is ${named} elsewhere, here ${clientId}` });
      return;
    }
    const other = book.seqOf.get(clientId);
    if (other !== undefined) {
      this.problem({ kind: "duplicate", room, seq, clientId, receiver, detail: `clientId ${clientId} stored as seq ${other} and as seq ${seq}` });
      return;
    }
    book.bySeq.set(seq, clientId);
    book.seqOf.set(clientId, seq);
  }

  /** True once every sent command is acked and every active receiver has reached its room's highest acked seq. */
  settled(): boolean {
    for (const book of this.rooms.values()) if (book.unacked.size) return false;
    for (const receiver of this.receivers) if (this.behind(receiver)) return false;
    return true;
  }

  /** An active receiver short of its room's highest acked seq. */
  private behind(receiver: Receiver): boolean {
    return receiver.active && receiver.last < this.rooms.get(receiver.room)!.maxAcked;
  }

  /** Rooms with work unfinished: commands unacked, or receivers short of the highest acked seq. */
  unsettled(): Array<{ room: string; unacked: number; maxAcked: number; receiversAt: number[] }> {
    const rooms = [];
    for (const [room, book] of this.rooms) {
      const behind = this.receivers.filter((r) => r.room === room && this.behind(r));
      if (book.unacked.size || behind.length) rooms.push({ room, unacked: book.unacked.size, maxAcked: book.maxAcked, receiversAt: behind.map((r) => r.last) });
    }
    return rooms;
  }

  /** Distinct clientIds starting with `prefix` acked or delivered in `room` (a flooder's, scenarios/flood.ts). */
  claimedWithPrefix(room: string, prefix: string): number {
    let n = 0;
    for (const clientId of this.rooms.get(room)?.seqOf.keys() ?? []) if (clientId.startsWith(prefix)) n++;
    return n;
  }

  maxAckedOf(room: string): number {
    return this.rooms.get(room)?.maxAcked ?? 0;
  }

  /** A receiver that leaves on purpose stops being checked for tail loss from then on. */
  detach(receiver: Receiver): void {
    receiver.active = false;
  }

  /** Call after the drain: tail loss and unacked sends become problems. Returns true when clean. */
  finish(): boolean {
    for (const [room, book] of this.rooms) {
      if (book.unacked.size) {
        const first = book.unacked.values().next().value;
        this.problem({ kind: "lost", room, clientId: first, detail: `${book.unacked.size} sent command(s) never acked (first: ${first})` }, book.unacked.size);
      }
    }
    for (const receiver of this.receivers) {
      const book = this.rooms.get(receiver.room)!;
      if (this.behind(receiver)) {
        this.problem({ kind: "lost", room: receiver.room, seq: receiver.last + 1, receiver: receiver.id, detail: `tail: seqs ${receiver.last + 1}..${book.maxAcked} acked but never delivered` }, book.maxAcked - receiver.last);
      }
    }
    return this.clean();
  }

  clean(): boolean {
    return this.counts.lost === 0 && this.counts.duplicates === 0 && this.counts.mismatches === 0;
  }

  private problem(problem: Problem, n = 1): void {
    if (problem.kind === "lost") this.counts.lost += n;
    else if (problem.kind === "duplicate") this.counts.duplicates += n;
    else this.counts.mismatches += n;
    if (this.problems.length < MAX_NAMED) this.problems.push(problem);
  }
}
