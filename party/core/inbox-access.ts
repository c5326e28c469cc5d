/**
 * Who may use an inbox (PROTOCOL IB7 and I7, PROTOCOL §9), pure: on the verified identity, the inbox's user
 * id and whether the worker let the request through as an actor call. The inbox's shell and routes apply
 * them.
 */
import type { ErrorCode } from "../protocol/index.ts";

export const OTHER_USERS_INBOX = "This is another user's inbox.";
export const ACTORS_ONLY = "Only actors call this route.";
export const NO_SUCH_ROUTE = "No such route.";
export const DM_NEEDS_ANOTHER_USER = "A direct message needs another user.";

export type Refusal = { code: ErrorCode; message?: string };

/** Only the inbox's own user opens a socket on it (another user: forbidden + close 4003). */
export function isOwner<T extends { id: string }>(who: T | undefined, inboxId: string): who is T {
  return who !== undefined && who.id === inboxId;
}

/** The worker's socket gate: a refusal message for anyone but the inbox's user. */
export function socketRefusal(who: { id: string }, inboxId: string): string | undefined {
  return isOwner(who, inboxId) ? undefined : OTHER_USERS_INBOX;
}

/** The routes a user calls on their own inbox over HTTP. */
export type UserRoute = "conversations";
/** The routes only actors call (rooms and other inboxes). */
export type ActorRoute = "notify" | "presence";

/** A user's HTTP request: their own list, and nothing else (actor routes are refused as such). */
export function userRoute(who: { id: string } | undefined, inboxId: string, method: string, action: string | undefined): UserRoute | Refusal {
  if (!who) return { code: "unauthorized" };
  if (who.id !== inboxId) return { code: "forbidden", message: OTHER_USERS_INBOX };
  if (method === "GET" && action === "conversations") return "conversations";
  if (action === "notify" || action === "presence") return { code: "forbidden", message: ACTORS_ONLY };
  return { code: "not_found", message: NO_SUCH_ROUTE };
}

/** An actor's HTTP request (the worker verified it as one): `POST /notify` and `POST /presence`. */
export function actorRoute(method: string, action: string | undefined): ActorRoute | Refusal {
  if (method === "POST" && (action === "notify" || action === "presence")) return action;
  return { code: "not_found", message: NO_SUCH_ROUTE };
}

/** A `dm` frame: to anyone but oneself. */
export function dmRefusal(from: string, to: string): string | undefined {
  return from === to ? DM_NEEDS_ANOTHER_USER : undefined;
}
