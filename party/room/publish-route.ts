/**
 * A room's side of the publish API (PROTOCOL R60-R63): `POST /parties/room/<id>/publish`, called by the
 * worker's publish handler (party/worker/publish-api.ts) through `context.parties`, never by a user. It
 * checks who may post here at all (a DM only its participants, a notices room any bot), then the room
 * decides the message like any command: the next seq, durable before the answer (PROTOCOL I1, I2), a
 * known `(bot, clientId)` answered with its original seq (PROTOCOL I3).
 */
import { roomKind } from "../protocol/index.ts";
import { RoomPublishBody, type Posted } from "../protocol/publish-schema.ts";
import { mayJoin } from "../core/access.ts";
import { errorResponse, json } from "../adapters/http.ts";
import { isActorCall } from "../adapters/service-auth.ts";
import type { RoomCommands } from "./commands.ts";

export interface PublishHost {
  readonly commands: Pick<RoomCommands, "runPublish">;
  /** The room id as in the URL path (raw). */
  readonly rawRoomId: string;
}

export async function publishRoute(host: PublishHost, request: Request): Promise<Response> {
  // Only the worker's publish handler (an actor call) gets here: a user's request loses the actor mark
  // at the worker (PROTOCOL IB7), so no user token ever posts as a bot.
  if (!isActorCall(request)) return errorResponse("forbidden", "Only the publish API calls this route.");
  const parsed = RoomPublishBody.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
  const { author, clientId, text } = parsed.data;
  const bot = { id: author.id, name: author.name };
  const kind = roomKind(safeDecode(host.rawRoomId));
  // A DM is private to its two participants: a bot posts only into its own (`dm:alice:bot_support`).
  if (kind === "dm" && !mayJoin(host.rawRoomId, bot)) return errorResponse("forbidden", "A bot posts only into direct conversations it is part of.");
  let result: Awaited<ReturnType<RoomCommands["runPublish"]>>;
  try {
    result = await host.commands.runPublish(bot, { text }, clientId);
  } catch (error) {
    // The write failed (PROTOCOL R3): nothing was stored, and the same clientId may be sent again.
    console.error("publish: the room could not store the message", error);
    return errorResponse("storage_failed", "The room could not store the message; retry with the same clientId.");
  }
  if (!result.ok) return errorResponse(result.error.code, result.error.message);
  const { seq, ts, duplicate } = result.ack;
  return json({ seq, ts, ...(duplicate ? { duplicate: true } : {}) } satisfies Posted);
}

function safeDecode(id: string): string {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}
