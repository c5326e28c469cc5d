/**
 * The publish API's shapes (PROTOCOL R60-R64): what an app's backend sends to `POST /publish/rooms` and
 * `POST /publish/inboxes`, what the worker hands each room, and the per-target answer. Parsed with zod at
 * the worker and again at the room (PROTOCOL I8). Runtime-free.
 */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";
import { LIMITS } from "./limits.ts";
import { ClientId, Seq, UserId } from "./schema.ts";

/**
 * The fan-out bound (PROTOCOL R62). `maxTargets` per call keeps one call within a worker invocation's
 * subrequest budget (Cloudflare: 1,000 on paid plans) and its answer within seconds; `concurrency` rooms
 * are written at once, so one call never floods the runtime with hundreds of simultaneous actor calls.
 */
export const PUBLISH_LIMITS = { maxTargets: 100, concurrency: 8 } as const;

/** Bot ids: a namespace no user token may carry (PROTOCOL R61), so nobody posts as a bot or is taken for one. */
export const BOT_PREFIX = "bot_";
export function isBotId(id: string): boolean {
  return id.startsWith(BOT_PREFIX);
}
// Classic zod here (only the worker and rooms parse these); UserId is zod/mini (the client bundles it), so
// it is checked inside the refinement rather than chained.
export const BotId = z.string().refine((id) => UserId.safeParse(id).success && isBotId(id) && id.length > BOT_PREFIX.length, `a bot id starts with "${BOT_PREFIX}" (e.g. "bot_deploy")`);

/** Who the message is from, as the API's caller names it; events carry it with `bot: true`. */
export const BotAuthor = z.object({ id: BotId, name: z.string().trim().min(1).max(LIMITS.maxDisplayNameChars) }).strict();
export type BotAuthor = z.infer<typeof BotAuthor>;

const message = {
  author: BotAuthor,
  /** Checked once for every target; a room's own lower `maxTextChars` is its own refusal (`text_too_long`). */
  text: z.string().max(LIMITS.maxTextChars),
};
// Text only: an attachment names an upload a room checked (PROTOCOL R31), which a backend does not have.
const needsContent = (body: { text: string }) => body.text.trim().length > 0;
const CONTENT = { message: "a message needs text", path: ["text"] };

/** Room ids are checked per target (an invalid one fails alone, `bad_frame`); here only their size. */
const TargetRoom = z.string().min(1).max(LIMITS.maxRoomIdChars);
/** User ids likewise: an invalid one is that target's `bad_frame`. */
const TargetUser = z.string().min(1).max(LIMITS.maxUserIdChars + 16);

const targets = <T extends z.ZodRawShape>(shape: T) =>
  z
    .array(z.object({ ...shape, clientId: ClientId }).strict())
    .min(1)
    .max(PUBLISH_LIMITS.maxTargets, `at most ${PUBLISH_LIMITS.maxTargets} targets per call (PROTOCOL R62); split the list`);

export const PublishRoomsBody = z
  .object({ ...message, targets: targets({ room: TargetRoom }) })
  .strict()
  .refine(needsContent, CONTENT);
export const PublishInboxesBody = z
  .object({ ...message, targets: targets({ user: TargetUser }) })
  .strict()
  .refine(needsContent, CONTENT);
export type PublishRoomsBody = z.infer<typeof PublishRoomsBody>;
export type PublishInboxesBody = z.infer<typeof PublishInboxesBody>;

/** What the worker sends one room (`POST /parties/room/<id>/publish`, actor calls only). */
export const RoomPublishBody = z.object({ ...message, clientId: ClientId }).strict().refine(needsContent, CONTENT);
export type RoomPublishBody = z.infer<typeof RoomPublishBody>;

export const TargetError = z.object({ code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]), message: z.string(), retryable: z.boolean() });
export type TargetError = z.infer<typeof TargetError>;
/** A room's answer for one message: its seq (`duplicate`: the original's, PROTOCOL I3). */
export const Posted = z.object({ seq: Seq, ts: z.number().int(), duplicate: z.literal(true).optional() });
export type Posted = z.infer<typeof Posted>;

const outcome = z.union([Posted.extend({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: TargetError })]);
export const RoomTargetResult = z.intersection(z.object({ room: z.string(), clientId: ClientId }), outcome);
export const InboxTargetResult = z.intersection(z.object({ user: z.string(), clientId: ClientId, room: z.string().optional() }), outcome);
export type RoomTargetResult = z.infer<typeof RoomTargetResult>;
export type InboxTargetResult = z.infer<typeof InboxTargetResult>;

/** The answer: one result per target, in the order given; HTTP 200 when all succeeded, 207 when any failed. */
export const PublishAnswer = <T extends z.ZodTypeAny>(result: T) => z.object({ results: z.array(result), succeeded: z.number().int(), failed: z.number().int() });
