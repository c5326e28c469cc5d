/**
 * Fuzz inputs and checks for every decoder at the boundary (PROTOCOL I8, PROTOCOL R11): the WebSocket frame
 * decoder shared by room and inbox (party/protocol/decode.ts `decodeFrame`, and `checkFrame` on each
 * element of a `batch`), and the zod schemas of the HTTP bodies and query strings the room, the inbox and
 * the admin/directory routes parse with `safeParse`.
 *
 * Inputs: arbitrary JSON values, valid frames, valid frames mutated structurally (a value replaced by an
 * edge value or random JSON, a key dropped or added, `__proto__`, wrapping) or textually (characters
 * inserted, deleted, the text cut), random strings of any code points (lone surrogates included), strings
 * around the 16 KiB limit in multi-byte characters, deep nesting, and binary frames.
 *
 * What must hold: nothing throws; a frame is either parsed (and then it re-parses to itself, survives a
 * JSON round trip and, for a batch, each element decodes the same way) or a typed rejection: an ErrorFrame
 * the client's ServerFrame schema accepts, with a code of codes.ts, its `retryable` from the table,
 * `frame_too_large` exactly when the text is over maxFrameBytes of UTF-8, and `ref` exactly the frame's
 * clientId/requestId when that is a string of at most 64 characters (PROTOCOL R11).
 */
import fc from "fast-check";
import * as z from "zod/mini";
import {
  Command,
  ClientFrame,
  ConnectQuery,
  ERRORS,
  ERROR_TEXTS,
  ERROR_CODES,
  ErrorFrame,
  HistoryQuery,
  InboxClientFrame,
  InboxServerFrame,
  LIMITS,
  NotifyBody,
  PresenceBody,
  ReadBody,
  RoomCommandsBody,
  RoomSettings,
  RoomSettingsPatch,
  ServerFrame,
  TokenClaims,
  type ErrorCode,
} from "../../party/protocol/index.ts";
import { AnnounceBody, AuditQuery, DeleteBody, ListRoomsQuery, MessagesQuery, ModerateBody, RoomId as AdminRoomId, RoomReport } from "../../party/protocol/admin-schema.ts";
import { checkFrame, decodeFrame, type Decoded } from "../../party/protocol/decode.ts";
import { PublishInboxesBody, PublishRoomsBody, RoomPublishBody } from "../../party/protocol/publish-schema.ts";

export class DecoderFailure extends Error {}
function fail(message: string): never {
  throw new DecoderFailure(message);
}

// ---- Valid values.

const MAX_N = Number.MAX_SAFE_INTEGER;
export const idArb = fc.oneof(
  { arbitrary: fc.constantFrom("a", "alice", "bob", "c-1", "X_9"), weight: 3 },
  // The id pattern refuses `__proto__` (PROTOCOL I8), which these characters can spell: a valid id is never it.
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter((id) => id !== "__proto__"), weight: 1 },
);
const seqArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(1, MAX_N, MAX_N - 1, 2 ** 31));
const textArb = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20, unit: "binary" }), fc.constantFrom("", "  ", "x".repeat(4001)));
/** What a command names: an upload's id (PROTOCOL R31); the room fills in the rest. */
const attachmentArb = fc.record({ upload: fc.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
const base = { clientId: idArb, n: seqArb };
const roomIdArb = fc.oneof(fc.constantFrom("general", "dm:alice:bob", "g:team-1"), fc.stringMatching(/^[A-Za-z0-9_:-]{1,140}$/));
const requestIdArb = fc.string({ minLength: 1, maxLength: 64 });

export const commandArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant("send"), ...base, text: textArb, attachments: fc.array(attachmentArb, { maxLength: 2 }) }, { requiredKeys: ["type", "clientId", "n", "text"] }),
  fc.record({ type: fc.constant("edit"), ...base, target: seqArb, text: textArb }),
  fc.record({ type: fc.constant("delete"), ...base, target: seqArb }),
  fc.record({ type: fc.constant("group.create"), ...base, title: fc.constantFrom("Team", " t "), members: fc.array(idArb, { maxLength: 3 }) }),
  fc.record({ type: fc.constant("group.rename"), ...base, title: fc.constantFrom("Team", " t ") }),
  fc.record({ type: fc.constantFrom("member.add", "member.remove"), ...base, user: idArb }),
  fc.record({ type: fc.constant("member.role"), ...base, user: idArb, role: fc.constantFrom("owner", "moderator", "member") }),
  fc.record({ type: fc.constant("group.leave"), ...base }),
);
export const clientFrameArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { arbitrary: commandArb, weight: 6 },
  { arbitrary: fc.record({ type: fc.constant("history"), requestId: requestIdArb, before: seqArb, limit: fc.integer({ min: 1, max: 200 }) }, { requiredKeys: ["type", "requestId"] }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant("read"), seq: seqArb, requestId: requestIdArb }, { requiredKeys: ["type", "seq"] }), weight: 1 },
  { arbitrary: fc.constant({ type: "typing" }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant("batch"), commands: fc.array(fc.oneof({ arbitrary: commandArb, weight: 4 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 }), { minLength: 1, maxLength: 6 }) }), weight: 2 },
);
export const inboxFrameArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant("dm"), to: idArb, ...base, text: textArb, attachments: fc.array(attachmentArb, { maxLength: 2 }) }, { requiredKeys: ["type", "to", "clientId", "n", "text"] }),
  fc.record({ type: fc.constant("read"), room: roomIdArb, seq: seqArb, requestId: requestIdArb }, { requiredKeys: ["type", "room", "seq"] }),
  fc.record({ type: fc.constant("list"), requestId: requestIdArb, before: fc.string({ maxLength: 30 }), limit: fc.integer({ min: 1, max: 100 }) }, { requiredKeys: ["type", "requestId"] }),
  fc.record({ type: fc.constant("sync"), requestId: requestIdArb, room: roomIdArb, after: fc.nat(), limit: fc.integer({ min: 1, max: 200 }) }, { requiredKeys: ["type", "requestId", "room", "after"] }),
);
const authorArb = fc.record({ id: idArb, name: fc.string({ maxLength: 80 }) });
const eventBase = { seq: seqArb, ts: fc.nat(), author: authorArb, clientId: idArb };
export const roomEventArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ kind: fc.constant("message"), ...eventBase, text: textArb, editedBy: seqArb, deletedBy: seqArb }, { requiredKeys: ["kind", "seq", "ts", "author", "clientId", "text"] }),
  fc.record({ kind: fc.constant("edit"), ...eventBase, target: seqArb, text: textArb }),
  fc.record({ kind: fc.constant("delete"), ...eventBase, target: seqArb }),
  fc.record({ kind: fc.constant("member"), ...eventBase, action: fc.constantFrom("add", "remove", "leave", "role"), user: idArb }),
  fc.record({ kind: fc.constant("moderation"), ...eventBase, action: fc.constantFrom("ban", "unban"), user: idArb, until: fc.nat() }, { requiredKeys: ["kind", "seq", "ts", "author", "clientId", "action", "user"] }),
);
const notificationArb = fc.record(
  {
    room: roomIdArb,
    kind: fc.constantFrom("dm", "group"),
    title: fc.string({ maxLength: 10 }),
    peer: idArb,
    lastSeq: fc.nat(),
    lastTs: fc.nat(),
    preview: fc.option(fc.record({ seq: seqArb, ts: fc.nat(), author: authorArb, text: fc.string({ maxLength: 100 }) }), { nil: null }),
    readSeq: fc.nat(),
    unread: fc.nat(),
    left: fc.boolean(),
    events: fc.array(roomEventArb, { maxLength: 3 }),
  },
  { requiredKeys: ["room", "kind", "title", "lastSeq", "lastTs", "preview", "readSeq", "unread", "events"] },
);
const settingsPatchArb = fc.record(
  { whoMayPost: fc.constantFrom("everyone", "operators"), maxTextChars: fc.integer({ min: 1, max: 4000 }), slowModeMs: fc.integer({ min: 0, max: 3_600_000 }) },
  { requiredKeys: [] },
);
const ROOM_REPORT = {
  room: "general",
  kind: "room",
  bootId: "b",
  epoch: "e",
  lastSeq: 3,
  connections: 1,
  observers: 0,
  messagesTotal: 3,
  messagesPerSecond: 0.5,
  errors: { bad_frame: 1 },
  ackLatency: { bucketsMs: [1, 5], counts: [1, 0, 2], sumMs: 3.5, count: 3 },
  archiveLag: 0,
  reportFailures: 0,
};

// ---- Mutations.

const EDGE_VALUES: unknown[] = [0, -1, 1.5, 2 ** 53, MAX_N, MAX_N + 2, 1e308, -1e308, "", "x".repeat(65), "x".repeat(4001), "a b", "é", "\u0000", "__proto__", "1", null, true, false, [], {}, [null], { type: "send" }];
const KEYS = ["__proto__", "constructor", "toString", "type", "n", "clientId", "requestId", "commands", "text", "target", "seq", "", "x"];
type Mutation = { op: "set" | "delete" | "add" | "wrap"; at: number; key: string; value: unknown };
export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom("set", "set", "delete", "add", "wrap"),
  at: fc.nat(),
  key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 5 })),
  value: fc.oneof(fc.constantFrom(...EDGE_VALUES), fc.jsonValue({ maxDepth: 2 })),
});

/** Every container and leaf position of a JSON value, as (parent, key) pairs; the root is (undefined, ""). */
function positions(value: unknown, parent?: object, key = "", out: Array<[object | undefined, string]> = []): Array<[object | undefined, string]> {
  out.push([parent, key]);
  if (value !== null && typeof value === "object") for (const k of Object.keys(value)) positions((value as Record<string, unknown>)[k], value, k, out);
  return out;
}

function setOwn(target: object, key: string, value: unknown): void {
  // defineProperty: `__proto__` becomes an own key, as JSON.parse makes it.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function mutate(valid: unknown, mutations: Mutation[]): unknown {
  let root: unknown = JSON.parse(JSON.stringify(valid));
  for (const m of mutations) {
    const all = positions(root);
    const [parent, key] = all[m.at % all.length]!;
    const current = parent ? (parent as Record<string, unknown>)[key] : root;
    const replace = (v: unknown) => (parent ? setOwn(parent, key, v) : (root = v));
    if (m.op === "set") replace(structuredClone(m.value));
    else if (m.op === "wrap") replace([current]);
    else if (m.op === "delete") {
      if (parent && Array.isArray(parent)) parent.splice(Number(key), 1);
      else if (parent) delete (parent as Record<string, unknown>)[key];
    } else if (current !== null && typeof current === "object" && !Array.isArray(current)) setOwn(current, m.key, structuredClone(m.value));
  }
  return root;
}

type TextEdit = { at: number; cut: number; insert: string };
const textEditArb: fc.Arbitrary<TextEdit> = fc.record({
  at: fc.nat(),
  cut: fc.nat({ max: 3 }),
  insert: fc.oneof(fc.constantFrom("", '"', "\\", "{", "}", "[", "]", ",", ":", "-0", "1e999", "\\u0000", "\ud800", "null", " "), fc.string({ maxLength: 3, unit: "binary" })),
});
function editText(text: string, edits: TextEdit[]): string {
  let out = text;
  for (const e of edits) {
    const at = e.at % (out.length + 1);
    out = out.slice(0, at) + e.insert + out.slice(at + e.cut);
  }
  return out;
}

/** Frame texts for a WebSocket decoder, from the valid frames of `valid`. */
export function rawFrameArb(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string | ArrayBuffer | ArrayBufferView> {
  const big = fc.constantFrom("é", "€", "😀", "a").chain((ch) =>
    fc.integer({ min: -8, max: 8 }).chain((delta) =>
      valid.map((frame) => {
        // A frame whose UTF-8 size lands within a few bytes of maxFrameBytes.
        const shell = JSON.stringify({ ...frame, pad: "" });
        const bytes = new TextEncoder().encode(shell).length;
        const per = new TextEncoder().encode(ch).length;
        const count = Math.max(0, Math.floor((LIMITS.maxFrameBytes + delta - bytes) / per));
        return JSON.stringify({ ...frame, text: ch.repeat(count) });
      }),
    ),
  );
  // PROTOCOL R11's ref bound: a clientId/requestId of 60..70 characters on a frame that is then broken.
  const refEdge = fc.tuple(valid, fc.integer({ min: 60, max: 70 }), fc.constantFrom("type", "n", "text", "seq", "x")).map(([frame, length, broken]) => {
    const key = "clientId" in frame || !("requestId" in frame) ? "clientId" : "requestId";
    return JSON.stringify({ ...frame, [key]: "r".repeat(length), [broken]: broken === "x" ? 1 : [] });
  });
  const deep = fc.integer({ min: 1, max: 6000 }).map((depth) => `{"type":"batch","commands":[${"[".repeat(depth)}${"]".repeat(depth)}]}`);
  return fc.oneof(
    { arbitrary: valid.map((f) => JSON.stringify(f)), weight: 4 },
    { arbitrary: fc.tuple(valid, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([f, ms]) => JSON.stringify(mutate(f, ms)) ?? "undefined"), weight: 6 },
    { arbitrary: fc.tuple(valid, fc.array(textEditArb, { minLength: 1, maxLength: 3 })).map(([f, es]) => editText(JSON.stringify(f), es)), weight: 3 },
    { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)), weight: 2 },
    { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 2 },
    { arbitrary: fc.constantFrom("", "ping", "pong", "null", "[]", "{}", '{"type":"batch","commands":[]}', "\ufeff{}", '{"type":"send","n":1e999}', '{"__proto__":{"clientId":"x"}}'), weight: 1 },
    { arbitrary: big, weight: 1 },
    { arbitrary: fc.string({ unit: "binary", minLength: 5000, maxLength: 7000 }), weight: 1 },
    { arbitrary: deep, weight: 1 },
    { arbitrary: refEdge, weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 40 }).chain((b) => fc.constantFrom<ArrayBuffer | ArrayBufferView>(b, b.buffer, new DataView(b.buffer))), weight: 1 },
  );
}

// ---- Checks.

/** PROTOCOL R11: the ref a rejection must carry, computed independently of party/protocol/decode.ts. */
function expectedRef(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(data, k) ? (data as Record<string, unknown>)[k] : undefined);
  // `??`: a clientId that is present (even not a string) hides the requestId. An empty string is no ref
  // (decode.ts omits it; no valid frame has an empty id, so nothing could be matched by it).
  const ref = own("clientId") ?? own("requestId");
  return typeof ref === "string" && ref.length > 0 && ref.length <= 64 ? ref : undefined;
}

function checkRejection(error: ErrorFrame, allowed: ErrorCode[], ref: string | undefined, clientSchema: z.core.$ZodType, what: string): void {
  if (!ERROR_CODES.includes(error.code) || !allowed.includes(error.code)) fail(`${what}: rejection code ${error.code}`);
  const parsed = ErrorFrame.safeParse(error);
  if (!parsed.success) fail(`${what}: rejection is not an ErrorFrame: ${JSON.stringify(error)} (${parsed.error.issues[0]?.message})`);
  if (error.retryable !== ERRORS[error.code].retryable) fail(`${what}: retryable ${error.retryable} for ${error.code}`);
  if (typeof error.message !== "string" || error.message.length === 0) fail(`${what}: empty message`);
  if (error.ref !== ref) fail(`${what}: ref ${JSON.stringify(error.ref)}, expected ${JSON.stringify(ref)}`);
  // What the client does with it: JSON over the wire, then its server-frame schema.
  const wire = z.safeParse(clientSchema, JSON.parse(JSON.stringify(error)));
  if (!wire.success) fail(`${what}: the client's schema refuses the rejection ${JSON.stringify(error)}`);
}

/** Nesting depth, without recursion (JSON.stringify itself overflows the stack around 5,000 levels). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    max = Math.max(max, d);
    if (v !== null && typeof v === "object") for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function checkParsed(schema: z.core.$ZodType, frame: unknown, what: string): void {
  // A `batch` may carry up to ~8,000 levels of nesting in its opaque elements (16 KiB of "[["): the room
  // never serialises those (each element is checked alone), but this checker's JSON round trip would overflow.
  if (depthOf(frame) > 1_000) return;
  const again = z.safeParse(schema, frame);
  if (!again.success) fail(`${what}: the parsed frame does not parse again: ${JSON.stringify(frame)}`);
  if (JSON.stringify(again.data) !== JSON.stringify(frame)) fail(`${what}: parsing is not idempotent: ${JSON.stringify(frame)} → ${JSON.stringify(again.data)}`);
  const wire = z.safeParse(schema, JSON.parse(JSON.stringify(frame)));
  if (!wire.success || JSON.stringify(wire.data) !== JSON.stringify(frame)) fail(`${what}: the parsed frame does not survive a JSON round trip: ${JSON.stringify(frame)}`);
}

export type WsDecoder = { name: string; schema: z.core.$ZodType; clientSchema: z.core.$ZodType; valid: fc.Arbitrary<Record<string, unknown>> };
export const WS_DECODERS: WsDecoder[] = [
  { name: "room socket frames (ClientFrame, party/protocol/decode.ts)", schema: ClientFrame, clientSchema: ServerFrame, valid: clientFrameArb },
  { name: "inbox socket frames (InboxClientFrame, party/protocol/decode.ts)", schema: InboxClientFrame, clientSchema: InboxServerFrame, valid: inboxFrameArb },
];

/** decodeFrame on one raw frame: a parsed frame or a typed rejection, never a throw. */
export function checkWsDecode(decoder: WsDecoder, raw: string | ArrayBuffer | ArrayBufferView): void {
  const what = decoder.name;
  let result: Decoded<unknown>;
  try {
    result = decodeFrame(raw, decoder.schema);
  } catch (error) {
    fail(`${what}: decodeFrame threw ${String(error)} on ${typeof raw === "string" ? JSON.stringify(raw.slice(0, 200)) : "bytes"}`);
  }
  if (typeof raw !== "string") {
    if (result.ok) fail(`${what}: a binary frame was accepted`);
    return checkRejection(result.error, ["bad_frame"], undefined, decoder.clientSchema, what);
  }
  const tooLarge = new TextEncoder().encode(raw).length > LIMITS.maxFrameBytes;
  if (tooLarge) {
    if (result.ok || result.error.code !== "frame_too_large") fail(`${what}: a frame over ${LIMITS.maxFrameBytes} bytes got ${JSON.stringify(result).slice(0, 200)}`);
    return checkRejection(result.error, ["frame_too_large"], undefined, decoder.clientSchema, what);
  }
  let data: unknown;
  let json = true;
  try {
    data = JSON.parse(raw);
  } catch {
    json = false;
  }
  if (!result.ok) return checkRejection(result.error, ["bad_frame"], json ? expectedRef(data) : undefined, decoder.clientSchema, what);
  if (!json) fail(`${what}: invalid JSON accepted: ${raw.slice(0, 200)}`);
  checkParsed(decoder.schema, result.frame, what);
  const frame = result.frame as { type: string; commands?: unknown[] };
  // PROTOCOL R17: the room checks each element of a batch alone with checkFrame(element, Command).
  if (frame.type === "batch") for (const element of frame.commands ?? []) checkBatchElement(element);
}

export function checkBatchElement(element: unknown): void {
  const what = "batch element (checkFrame(element, Command))";
  let result: Decoded<unknown>;
  try {
    result = checkFrame(element, Command);
  } catch (error) {
    fail(`${what}: checkFrame threw ${String(error)} on ${JSON.stringify(element)?.slice(0, 200)}`);
  }
  if (result.ok) checkParsed(Command, result.frame, what);
  else checkRejection(result.error, ["bad_frame"], expectedRef(element), ServerFrame, what);
}

/** An HTTP body or query: safeParse never throws; what passes is stable, what fails names an issue. */
export type ValueDecoder = { name: string; schema: z.core.$ZodType; valid: fc.Arbitrary<unknown>; query?: boolean; after?: (data: unknown) => void };

const queryValue = fc.oneof(
  fc.constantFrom("", "0", "1", "-1", "1.5", "50", "200", "201", "1e3", "0x10", " 7 ", "Infinity", "NaN", "9007199254740991", "9007199254740993", "true", "abc", "e1", "1"),
  fc.string({ maxLength: 8, unit: "binary" }),
);
const queryArb = (keys: string[], valid: fc.Arbitrary<Record<string, string>>): fc.Arbitrary<Record<string, string>> =>
  fc.oneof(
    valid,
    fc.tuple(valid, fc.array(fc.tuple(fc.oneof(fc.constantFrom(...keys, "__proto__", "constructor"), fc.string({ maxLength: 4 })), queryValue), { maxLength: 4 })).map(([v, extra]) =>
      // Object.fromEntries(url.searchParams), as the shell builds it: later duplicates win, `__proto__` is an own key.
      Object.fromEntries([...Object.entries(v), ...extra]),
    ),
  );

/** A publish API author (PROTOCOL R61): a `bot_` id and a display name. */
const botAuthorArb = fc.record({ id: idArb.map((id) => `bot_${id}`.slice(0, 64)), name: fc.string({ minLength: 1, maxLength: 20 }) });

export const VALUE_DECODERS: ValueDecoder[] = [
  { name: "POST room/commands body (RoomCommandsBody)", schema: RoomCommandsBody, valid: fc.record({ items: fc.array(fc.record({ session: fc.string({ minLength: 1, maxLength: 80 }), command: fc.record({ type: fc.constant("send"), clientId: idArb, n: seqArb, text: textArb }) }), { minLength: 1, maxLength: 3 }) }) },
  { name: "POST room/read body (ReadBody)", schema: ReadBody, valid: fc.record({ seq: seqArb }) },
  { name: "POST inbox/notify body (NotifyBody)", schema: NotifyBody, valid: fc.record({ notifications: fc.array(notificationArb, { minLength: 1, maxLength: 2 }) }) },
  { name: "POST inbox/presence body (PresenceBody)", schema: PresenceBody, valid: fc.record({ user: idArb, online: fc.boolean(), lastSeen: fc.option(fc.nat(), { nil: null }), at: fc.nat() }) },
  {
    name: "PATCH room/settings body (RoomSettingsPatch, then the merge RoomSettings.parse)",
    schema: RoomSettingsPatch,
    valid: settingsPatchArb,
    // The shell then runs a throwing RoomSettings.parse on {...current, ...patch}: it must not throw.
    after: (patch) => {
      for (const current of [RoomSettings.parse({}), RoomSettings.parse({ whoMayPost: "operators", maxTextChars: 1, slowModeMs: 3_600_000 })]) {
        try {
          RoomSettings.parse({ ...current, ...(patch as object) });
        } catch (error) {
          fail(`settings merge threw for the accepted patch ${JSON.stringify(patch)}: ${String(error)}`);
        }
      }
    },
  },
  { name: "POST admin delete body (DeleteBody)", schema: DeleteBody, valid: fc.record({ target: seqArb, clientId: idArb }, { requiredKeys: ["target"] }) },
  { name: "POST admin announce body (AnnounceBody)", schema: AnnounceBody, valid: fc.record({ text: textArb, clientId: idArb }, { requiredKeys: ["text"] }) },
  {
    name: "POST admin moderate body (ModerateBody)",
    schema: ModerateBody,
    valid: fc.oneof(fc.record({ user: idArb, action: fc.constantFrom("ban", "mute"), durationMs: fc.integer({ min: 1, max: 365 * 24 * 3_600_000 }) }), fc.record({ user: idArb, action: fc.constantFrom("unban", "unmute") })),
  },
  { name: "POST /publish/rooms body (PublishRoomsBody)", schema: PublishRoomsBody, valid: fc.record({ author: botAuthorArb, text: textArb, targets: fc.array(fc.record({ room: fc.string({ minLength: 1, maxLength: 20 }), clientId: idArb }), { minLength: 1, maxLength: 3 }) }) },
  { name: "POST /publish/inboxes body (PublishInboxesBody)", schema: PublishInboxesBody, valid: fc.record({ author: botAuthorArb, text: textArb, targets: fc.array(fc.record({ user: idArb, clientId: idArb }), { minLength: 1, maxLength: 3 }) }) },
  { name: "POST room/publish body (RoomPublishBody)", schema: RoomPublishBody, valid: fc.record({ author: botAuthorArb, text: textArb, clientId: idArb }) },
  { name: "POST directory report body (RoomReport)", schema: RoomReport, valid: fc.constant(ROOM_REPORT) },
  { name: "admin API room path segment (RoomId, admin-schema.ts)", schema: AdminRoomId, valid: fc.oneof(roomIdArb, fc.string({ maxLength: 130, unit: "binary" })) },
  { name: "JWT payload (TokenClaims)", schema: TokenClaims, valid: fc.record({ sub: idArb, name: fc.string({ minLength: 1, maxLength: 80 }), role: fc.constant("operator") }, { requiredKeys: ["sub"] }) },
  {
    name: "room connect query (ConnectQuery)",
    schema: ConnectQuery,
    query: true,
    valid: queryArb(["session", "epoch", "lastSeq", "observe"], fc.oneof(fc.record({ session: idArb }), fc.record({ session: idArb, epoch: fc.constantFrom("E", "Xk3_9aQ2LmPz"), lastSeq: fc.nat().map(String) }))),
  },
  { name: "GET room/history query (HistoryQuery)", schema: HistoryQuery, query: true, valid: queryArb(["before", "after", "limit"], fc.record({ before: seqArb.map(String), after: fc.nat().map(String), limit: fc.integer({ min: 1, max: 200 }).map(String) }, { requiredKeys: [] })) },
  { name: "GET admin messages query (MessagesQuery)", schema: MessagesQuery, query: true, valid: queryArb(["before", "limit"], fc.record({ before: seqArb.map(String), limit: fc.integer({ min: 1, max: 200 }).map(String) }, { requiredKeys: [] })) },
  { name: "GET admin audit query (AuditQuery)", schema: AuditQuery, query: true, valid: queryArb(["limit"], fc.record({ limit: fc.integer({ min: 1, max: 500 }).map(String) }, { requiredKeys: [] })) },
  { name: "GET admin rooms query (ListRoomsQuery)", schema: ListRoomsQuery, query: true, valid: queryArb(["q", "limit"], fc.record({ q: fc.string({ maxLength: 10 }), limit: fc.integer({ min: 1, max: 500 }).map(String) }, { requiredKeys: [] })) },
];

export function valueInputArb(decoder: ValueDecoder): fc.Arbitrary<unknown> {
  if (decoder.query) return decoder.valid;
  return fc.oneof(
    { arbitrary: decoder.valid, weight: 3 },
    { arbitrary: fc.tuple(decoder.valid, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([v, ms]) => mutate(v, ms)), weight: 6 },
    { arbitrary: fc.jsonValue(), weight: 2 },
    // request.json().catch(() => undefined): a body that is not JSON reaches the schema as undefined.
    { arbitrary: fc.constantFrom(undefined, null, "", 0, [], {}), weight: 1 },
  );
}

export function checkValueDecode(decoder: ValueDecoder, input: unknown): void {
  const what = decoder.name;
  // Bodies come from request.json(): normalise the input through JSON as the runtime would.
  const value = decoder.query || input === undefined ? input : JSON.parse(JSON.stringify(input));
  let parsed: ReturnType<typeof z.safeParse>;
  try {
    parsed = z.safeParse(decoder.schema, value);
  } catch (error) {
    fail(`${what}: safeParse threw ${String(error)} on ${JSON.stringify(value)?.slice(0, 200)}`);
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue || typeof issue.message !== "string" || !issue.path.every((p) => typeof p === "string" || typeof p === "number")) fail(`${what}: a refusal without a usable issue: ${JSON.stringify(parsed.error.issues)}`);
    // The shell answers errorResponse("bad_frame", issue.message): a typed error body.
    const frame = { type: "error", code: "bad_frame", message: issue.message || ERROR_TEXTS.bad_frame, retryable: ERRORS.bad_frame.retryable };
    if (!ErrorFrame.safeParse(frame).success) fail(`${what}: the refusal is not a typed error`);
    return;
  }
  if (decoder.query) {
    const again = z.safeParse(decoder.schema, parsed.data);
    if (!again.success || JSON.stringify(again.data) !== JSON.stringify(parsed.data)) fail(`${what}: the parsed query does not parse again to itself: ${JSON.stringify(parsed.data)}`);
  } else checkParsed(decoder.schema, parsed.data, what);
  decoder.after?.(parsed.data);
}
