/**
 * The admin HTTP API, served by the worker (main party's static onFetch) at `/admin/*`, so a refused
 * request never wakes an actor. Order of checks: token (401), platform `operator` role from the
 * verified token (403, PROTOCOL I7), route (404), room id, query and body with zod (400, PROTOCOL I8). Only then is the
 * request forwarded, party-to-party, with the verified identity stamped in the header the rooms read.
 */
import type * as Party from "partykit/server";
import * as z from "zod/mini";
import { tokenFromRequest, verifyToken, withIdentity } from "../adapters/auth.ts";
import { errorResponse } from "../adapters/http.ts";
import { matchRoute } from "./admin-routes.ts";
import { DIRECTORY_ID, RoomId } from "../protocol/admin-schema.ts";
import { LIMITS } from "../protocol/index.ts";
import { readBody, tooLarge } from "../adapters/http-limits.ts";
import { describeIssue, parseJson } from "./json-body.ts";

export const ADMIN_PREFIX = "/admin/";

export async function handleAdmin(request: Request, lobby: Party.FetchLobby): Promise<Response> {
  const auth = await verifyToken(tokenFromRequest(request), lobby.env);
  if (!auth.ok) return errorResponse(auth.code, auth.message);
  if (auth.identity.role !== "operator") return errorResponse("forbidden", "The admin API is for tokens with the platform operator role.");
  const url = new URL(request.url);
  const matched = matchRoute(request.method, url.pathname);
  if (!matched.route) return errorResponse("not_found", matched.pathKnown ? `${request.method} is not allowed on ${url.pathname}.` : "No such admin route.");
  const { route, room } = matched;

  if (room !== undefined && !RoomId.safeParse(room).success) return errorResponse("bad_frame", "Room ids are 1-128 letters, digits, _ . : or -.");
  if (route.query) {
    const query = z.safeParse(route.query, Object.fromEntries(url.searchParams));
    if (!query.success) return errorResponse("bad_frame", describeIssue(query.error, "input"));
  }
  let body: string | undefined;
  if (route.body) {
    // Read within the bound (PROTOCOL §7): a chunked body declares no length.
    const raw = await readBody(request, LIMITS.maxRequestBodyBytes).catch(() => null);
    if (raw === undefined) return tooLarge(LIMITS.maxRequestBodyBytes);
    const parsed = z.safeParse(route.body, parseJson(raw));
    if (!parsed.success) return errorResponse("bad_frame", describeIssue(parsed.error, "input"));
    body = JSON.stringify(parsed.data);
  }

  const internal = withIdentity(new Request(url.toString(), { method: request.method, headers: { "content-type": "application/json" } }), auth.identity);
  const init: RequestInit = { method: request.method, headers: internal.headers, ...(body !== undefined ? { body } : {}) };
  const path = route.target.path + url.search;
  try {
    const stub = route.target.party === "directory" ? lobby.parties.directory!.get(DIRECTORY_ID) : lobby.parties.room!.get(room!);
    const response = await stub.fetch(path, init);
    return new Response(response.body, { status: response.status, headers: response.headers });
  } catch (error) {
    console.error("admin forward failed", error);
    return errorResponse("internal", "The target actor did not answer.");
  }
}
