/**
 * Which requests may reach a room without a token (PROTOCOL R40): reads of its log (`GET …/log/…`) that
 * carry none at all. The worker passes them on with no identity; the room answers them only if its
 * `public` setting says anyone may read, and `unauthorized` otherwise. A token that is present is always
 * verified (a bad one is refused, never downgraded to anonymous).
 */
import { parseLogPath, roomPathRest } from "../protocol/index.ts";

export function isLogRead(request: Request): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const rest = roomPathRest(new URL(request.url).pathname)?.rest;
  return rest !== undefined && parseLogPath(rest) !== undefined;
}

