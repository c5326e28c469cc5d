/** The query strings and bodies of a room's socket and HTTP routes (PROTOCOL §2.1, §6), checked at the boundary. */
import * as z from "zod/mini";
import { LIMITS } from "./limits.ts";
import { SessionId } from "./schema.ts";

/** A whole number from a query string ("12"), as classic zod's `z.coerce.number().int()`. */
const queryInt = (...checks: Array<z.core.$ZodCheck<number>>) => z.coerce.number().check(z.int(), ...checks);

/** `?session=<id>` names the device session (PROTOCOL I4); `epoch` and `lastSeq` ask to resume (PROTOCOL I5). */
export const ConnectQuery = z
  .object({
    session: SessionId,
    epoch: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
    lastSeq: z.optional(queryInt(z.nonnegative())),
    /** Operators only: watch without counting as a connection (party/room/admin.ts). */
    observe: z.optional(z.literal("1")),
  })
  .check(z.refine((q) => (q.epoch === undefined) === (q.lastSeq === undefined), "epoch and lastSeq come together"));
export type ConnectQuery = z.infer<typeof ConnectQuery>;

/** `GET /parties/room/<id>/history?before=&limit=`: the same bounds as the socket's history frame. */
export const HistoryQuery = z.object({
  before: z.optional(queryInt(z.positive())),
  /** Read forwards: events with seq > after (an inbox device catching up). */
  after: z.optional(queryInt(z.nonnegative())),
  limit: z._default(queryInt(z.positive(), z.maximum(LIMITS.maxHistoryLimit)), 50),
});

/** `GET /parties/room/<id>/thread?parent=&after=&limit=` (PROTOCOL R23). */
export const ThreadQuery = z.object({
  parent: queryInt(z.positive()),
  after: z._default(queryInt(z.nonnegative()), 0),
  limit: z._default(queryInt(z.positive(), z.maximum(LIMITS.maxHistoryLimit)), 50),
});

/** `POST /parties/room/<id>/read` (actor route): the member's new read position. */
export const ReadBody = z.object({ seq: z.int().check(z.positive()) });
