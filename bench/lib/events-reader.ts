/**
 * The live bench's reading of `events` frames (bench/live-viewers.ts): each event's seq, the send time the
 * poster wrote into its text (`t=<ms since the epoch>`) and the room's commit time (`ts`), found by position
 * without building objects. 20,000 viewers at 20 msgs/s are 400,000 event deliveries a second; parsing each
 * into objects would make the load generator the bottleneck.
 */
const EVENTS = '{"type":"events","events":[';
const SEQ = '"seq":';
const SENT = '"text":"t=';
const TS = '"ts":';
const EVENTS_BYTES = Buffer.from(EVENTS);

/** An `events` frame's seqs, the send time each message carries and each commit time (NaN where an event carries none). */
export type Parsed = { bytes: Buffer; seqs: number[]; sent: number[]; committed: number[] };

/**
 * One frame read. The bench's events carry one `"seq":<n>` each (their nested objects, the author, carry
 * none), so each event's fields are the ones between its `"seq":` and the next.
 */
export function parse(bytes: Buffer): Parsed {
  const frame = bytes.toString();
  const seqs: number[] = [];
  const sent: number[] = [];
  const committed: number[] = [];
  for (let i = frame.indexOf(SEQ, EVENTS.length - 1); i >= 0; i = frame.indexOf(SEQ, i + SEQ.length)) {
    seqs.push(Number.parseInt(frame.slice(i + SEQ.length, i + SEQ.length + 16), 10));
    const next = frame.indexOf(SEQ, i + SEQ.length);
    const within = (at: number) => at >= 0 && (next < 0 || at < next);
    const at = frame.indexOf(SENT, i);
    sent.push(within(at) ? Number.parseFloat(frame.slice(at + SENT.length, at + SENT.length + 24)) : Number.NaN);
    const ts = frame.indexOf(TS, i);
    committed.push(within(ts) ? Number.parseInt(frame.slice(ts + TS.length, ts + TS.length + 16), 10) : Number.NaN);
  }
  return { bytes, seqs, sent, committed };
}

/**
 * A relay sends one frame, the same bytes, to each of its viewers: this process parses each distinct
 * frame once (found by its length and first seq, then compared byte for byte) and checks every viewer's
 * copy against that. The receiving and the per-viewer checks stay per viewer; only the reading is shared.
 */
const recent = new Map<string, Parsed>();
const RECENT_FRAMES = 256;
const SEQ_BYTES = Buffer.from(SEQ);

export function parsedOnce(bytes: Buffer): Parsed {
  const at = bytes.indexOf(SEQ_BYTES);
  const key = `${bytes.length}:${at < 0 ? "" : bytes.subarray(at, at + 24).toString()}`;
  const known = recent.get(key);
  if (known && known.bytes.equals(bytes)) return known;
  const parsed = parse(bytes);
  recent.delete(key);
  recent.set(key, parsed);
  if (recent.size > RECENT_FRAMES) recent.delete(recent.keys().next().value!);
  return parsed;
}

/** Whether a frame is an `events` frame (its bytes start as the room serialises one). */
export function isEventsFrame(bytes: Buffer): boolean {
  return bytes.subarray(0, EVENTS.length).equals(EVENTS_BYTES);
}
