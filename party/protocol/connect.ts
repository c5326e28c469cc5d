/** The query strings and bodies of a room's socket and HTTP routes (PROTOCOL §2.1, §6), checked at the boundary. */
import { z } from "zod";
import { LIMITS } from "./limits.ts";
import { SessionId } from "./schema.ts";

/** `?session=<id>` names the device session (PROTOCOL I4); `epoch` and `lastSeq` ask to resume (PROTOCOL I5). */
export const ConnectQuery = z
  .object({
    session: SessionId,
    epoch: z.string().min(1).max(64).optional(),
    lastSeq: z.coerce.number().int().nonnegative().optional(),
    /** Operators only: watch without counting as a connection (party/room/admin.ts). */
    observe: z.literal("1").optional(),
  })
  .refine((q) => (q.epoch === undefined) === (q.lastSeq === undefined), "epoch and lastSeq come together");
export type ConnectQuery = z.infer<typeof ConnectQuery>;

/** `GET /parties/room/<id>/history?before=&limit=`: the same bounds as the socket's history frame. */
export const HistoryQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  /** Read forwards: events with seq > after (an inbox device catching up). */
  after: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().positive().max(LIMITS.maxHistoryLimit).default(50),
});

/** `GET /parties/room/<id>/thread?parent=&after=&limit=` (PROTOCOL R23). */
export const ThreadQuery = z.object({
  parent: z.coerce.number().int().positive(),
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().positive().max(LIMITS.maxHistoryLimit).default(50),
});

/** `POST /parties/room/<id>/read` (actor route): the member's new read position. */
export const ReadBody = z.object({ seq: z.number().int().positive() });
