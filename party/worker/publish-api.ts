/**
 * The publish API (PROTOCOL R60-R64), served by the worker (main party's static onFetch) so a refused call
 * never wakes an actor: an app's backend posts a bot's message into rooms (`POST /publish/rooms`) or into
 * users' notices rooms, which reach their inboxes (`POST /publish/inboxes`).
 *
 * Checks, in order: route (404/405), the publish key (401/403, publish-auth.ts), the body within the
 * size bound (413) and its schema, at most PUBLISH_LIMITS.maxTargets targets (400 `bad_frame`, nothing
 * done). Then every target is posted on its own, at most PUBLISH_LIMITS.concurrency at once, and answered
 * on its own: a refused or unreachable target is that target's typed error, never the call's. The answer
 * is 200 when every target succeeded and 207 when any failed, with one result per target in the order given.
 */
import type * as Party from "partykit/server";
import { LIMITS, UserId, noticesOwner, noticesRoomId, roomKind, type ErrorCode } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { RoomId } from "../protocol/admin-schema.ts";
import {
  PUBLISH_LIMITS,
  Posted,
  PublishInboxesBody,
  PublishRoomsBody,
  TargetError,
  isBotId,
  type InboxTargetResult,
  type RoomTargetResult,
  type RoomPublishBody,
} from "../protocol/publish-schema.ts";
import type { KaiwaConfig } from "../config.ts";
import { discardBody, errorResponse, json } from "../adapters/http.ts";
import { readBody, tooLarge } from "../adapters/http-limits.ts";
import { verifyPublishKey } from "./publish-auth.ts";
import { CALLER_HEADER, ENCODED_ID_MESSAGE, isEncodedId } from "../adapters/service-auth.ts";
import { mapBounded } from "./map-bounded.ts";
import { describeIssue, parseJson } from "./json-body.ts";

export const PUBLISH_PREFIX = "/publish/";
const ROUTES = { "/publish/rooms": "rooms", "/publish/inboxes": "inboxes" } as const;

type Outcome = ({ ok: true } & Posted) | { ok: false; error: TargetError };

export async function handlePublish(request: Request, lobby: Party.FetchLobby, config: KaiwaConfig): Promise<Response> {
  const pathname = new URL(request.url).pathname;
  const route = ROUTES[pathname as keyof typeof ROUTES];
  if (!route || request.method !== "POST") {
    await discardBody(request);
    return errorResponse("not_found", route ? `Use POST on ${pathname}.` : "No such publish route: POST /publish/rooms or /publish/inboxes.", route ? 405 : 404);
  }
  const auth = await verifyPublishKey(request, config.publish.keys, lobby.env);
  if (!auth.ok) {
    await discardBody(request);
    return errorResponse(auth.code, auth.message);
  }
  const raw = await readBody(request, LIMITS.maxRequestBodyBytes).catch(() => null);
  if (raw === undefined) return tooLarge(LIMITS.maxRequestBodyBytes);
  const body = parseJson(raw);
  const post = (room: string, clientId: string, message: Omit<RoomPublishBody, "clientId">) => postToRoom(lobby, room, { ...message, clientId });

  if (route === "rooms") {
    const parsed = PublishRoomsBody.safeParse(body);
    if (!parsed.success) return errorResponse("bad_frame", describeIssue(parsed.error, "body"));
    const { targets, ...message } = parsed.data;
    const results = await mapBounded(targets, PUBLISH_LIMITS.concurrency, async ({ room, clientId }): Promise<RoomTargetResult> => {
      const refused = roomIdRefusal(room);
      return { room, clientId, ...(refused ? failed("bad_frame", refused) : await post(room, clientId, message)) };
    });
    return answer(results, `rooms by ${message.author.id} with key #${auth.key + 1}`);
  }
  const parsed = PublishInboxesBody.safeParse(body);
  if (!parsed.success) return errorResponse("bad_frame", describeIssue(parsed.error, "body"));
  const { targets, ...message } = parsed.data;
  const results = await mapBounded(targets, PUBLISH_LIMITS.concurrency, async ({ user, clientId }): Promise<InboxTargetResult> => {
    if (!UserId.safeParse(user).success) return { user, clientId, ...failed("bad_frame", "A user id is 1-64 letters, digits, _ or -.") };
    if (isBotId(user)) return { user, clientId, ...failed("bad_frame", "Bots have no inbox.") };
    const room = noticesRoomId(user);
    return { user, clientId, room, ...(await post(room, clientId, message)) };
  });
  return answer(results, `inboxes by ${message.author.id} with key #${auth.key + 1}`);
}

/** Why a target room id cannot be posted to, checked before any actor is touched. */
function roomIdRefusal(room: string): string | undefined {
  if (isEncodedId(room)) return ENCODED_ID_MESSAGE;
  if (!RoomId.safeParse(room).success) return "Room ids are 1-128 letters, digits, _ . : or -.";
  if (roomKind(room) === "notices" && !noticesOwner(room)) return "A notices room is notices:<user id>.";
  return undefined;
}

/** One room's message, through `context.parties` as an actor call; any failure is this target's typed error. */
async function postToRoom(lobby: Party.FetchLobby, room: string, body: RoomPublishBody): Promise<Outcome> {
  let response: Response;
  try {
    response = (await lobby.parties.room!.get(room).fetch("/publish", {
      method: "POST",
      headers: { "content-type": "application/json", [CALLER_HEADER]: "actor" },
      body: JSON.stringify(body),
    })) as unknown as Response;
  } catch (error) {
    console.error(`publish to ${room} failed`, error);
    return failed("room_unavailable", "The room could not be reached; retry with the same clientId.");
  }
  const answered: unknown = await response.json().catch(() => undefined);
  if (response.ok) {
    const posted = Posted.safeParse(answered);
    if (posted.success) return { ok: true, ...posted.data };
  } else {
    const error = TargetError.safeParse((answered as { error?: unknown } | undefined)?.error);
    if (error.success) return { ok: false, error: error.data };
  }
  return failed("internal", `The room answered ${response.status} without a valid body; retry with the same clientId.`);
}

function failed(code: ErrorCode, message: string): { ok: false; error: TargetError } {
  const { code: c, message: m, retryable } = errorFrame(code, { message });
  return { ok: false, error: { code: c, message: m, retryable } };
}

/** 200 when every target succeeded, 207 when any failed (PROTOCOL R62): partial failure is never a plain 200. */
function answer<T extends { ok: boolean }>(results: T[], what: string): Response {
  const failedCount = results.filter((r) => !r.ok).length;
  // One line per call, for the operator's audit: who published where (the key's position, never the key).
  console.log(`publish ${what}: ${results.length} targets, ${failedCount} failed`);
  return json({ results, succeeded: results.length - failedCount, failed: failedCount }, failedCount > 0 ? 207 : 200);
}
