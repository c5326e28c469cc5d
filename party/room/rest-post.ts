/**
 * `POST /parties/room/<id>/messages` (PROTOCOL R44): a message posted over HTTP, for viewers that read by
 * polling. It takes the same path as a socket's `send`: the same bounds (a frame's size, the user's frame
 * and message budgets, PROTOCOL R18), the same decision in the room's task order (slow mode, bans, mutes,
 * membership, text rules) and the same idempotency by clientId (PROTOCOL I3), answered through the room's
 * Reply abstraction (room/http-reply.ts) once the write is durable (PROTOCOL I2): `{seq, ts}`.
 */
import { LIMITS, PostBody, type ErrorFrame, type Identity, type RoomCommandResult } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { mayJoin } from "../core/access.ts";
import { errorResponse, json } from "../adapters/http.ts";
import { HttpReply } from "./http-reply.ts";
import type { RoomCommands } from "./commands.ts";
import type { RoomFlow } from "./flow.ts";

/** What posting needs from the rest of the room. */
export interface RestPostHost {
  readonly roomId: string;
  readonly commands: Pick<RoomCommands, "post">;
  readonly flow: Pick<RoomFlow, "frame">;
}

export async function restPost(request: Request, who: Identity, host: RestPostHost): Promise<Response> {
  // Every request counts against the user's frame budget, as a socket frame would (PROTOCOL R18.1).
  const wait = host.flow.frame(who);
  if (wait > 0) return refusal(errorFrame("rate_limited", { retryAfterMs: Math.ceil(wait) }));
  if (!mayJoin(host.roomId, who)) return errorResponse("forbidden");
  const text = await request.text();
  if (new TextEncoder().encode(text).byteLength > LIMITS.maxFrameBytes) return refusal(errorFrame("frame_too_large", { message: `A post's body is at most ${LIMITS.maxFrameBytes} bytes, like a frame.` }));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return errorResponse("bad_frame", "The body is not JSON: send {clientId, text}.");
  }
  const body = PostBody.safeParse(raw);
  if (!body.success) {
    const issue = body.error.issues[0];
    return errorResponse("bad_frame", issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : undefined);
  }
  const result = await new Promise<RoomCommandResult | { read: number }>((resolve) => host.commands.post(new HttpReply(resolve), who, body.data));
  if ("ack" in result) {
    const { seq, ts, duplicate } = result.ack;
    return json({ seq, ts, ...(duplicate ? { duplicate } : {}) });
  }
  if ("error" in result) return refusal(result.error);
  return errorResponse("internal"); // a read answer never comes for a post
}

/** A typed refusal with its status; `Retry-After` (whole seconds) when the error names a wait. */
function refusal(frame: ErrorFrame): Response {
  const response = errorResponse(frame.code, frame.message);
  if (frame.retryAfterMs !== undefined) {
    const body = { error: { code: frame.code, message: frame.message, retryable: frame.retryable, retryAfterMs: frame.retryAfterMs } };
    return new Response(JSON.stringify(body), { status: response.status, headers: { "content-type": "application/json", "retry-after": String(Math.max(1, Math.ceil(frame.retryAfterMs / 1000))) } });
  }
  return response;
}
