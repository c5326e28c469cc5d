/**
 * A relay shard's HTTP routes, for operators only: `GET …/stats` (what the shard holds: viewers, its
 * per-viewer state, the subscription, posts in flight, its window) and, in test mode only,
 * `POST …/test-drop`, which makes the relay forget its subscription as a relay restarted mid-stream would.
 */
import type * as Party from "partykit/server";
import { errorResponse, json } from "../adapters/http.ts";
import { identityFrom } from "../adapters/auth.ts";
import type { ViewerState } from "./viewers.ts";

/** What the relay's parts report for its stats. */
export type RelayParts = {
  /** The room's shard count as last heard. */
  shards: number | undefined;
  subscribed: boolean;
  /** Viewers' commands on their way to the room. */
  posting: number;
  window: { epoch: string; first: number; last: number };
};

export interface RelayHttpHost {
  /** The viewers' sockets (their connection state is the relay's per-viewer memory). */
  readonly room: Party.Room;
  readonly bootId: string;
  /** The shard this relay is; undefined when its id names none. */
  readonly shard: number | undefined;
  readonly testMode: boolean;
  parts(): RelayParts;
  /** Test mode: drops the subscription (it comes back at once), with `wipe` the window and position too. */
  drop(wipe: boolean): void;
}

export async function relayRequest(request: Request, host: RelayHttpHost): Promise<Response> {
  const who = identityFrom(request);
  if (!who) return errorResponse("unauthorized");
  if (host.shard === undefined) return errorResponse("no_such_shard");
  const url = new URL(request.url);
  const action = url.pathname.split("/").pop();
  if (who.role !== "operator") return errorResponse("forbidden", "Operators only.");
  if (request.method === "GET" && action === "stats") return json(relayStats(host));
  if (request.method === "POST" && action === "test-drop") {
    // Test mode only: the relay forgets its subscription (and with ?state=1 its window and position too),
    // as a relay restarted mid-stream would; viewers stay connected and must see no gap (PROTOCOL R52).
    if (!host.testMode) return errorResponse("not_found", "No such route.");
    const wipe = url.searchParams.get("state") === "1";
    host.drop(wipe);
    return json({ dropped: true, wiped: wipe });
  }
  return errorResponse("not_found", "No such route.");
}

export function relayStats(host: RelayHttpHost) {
  let viewers = 0;
  let stateBytes = 0;
  for (const conn of host.room.getConnections<ViewerState>()) {
    if (!conn.state) continue;
    viewers++;
    stateBytes += JSON.stringify(conn.state).length;
  }
  const parts = host.parts();
  return {
    relay: host.room.id,
    bootId: host.bootId,
    shard: host.shard,
    shards: parts.shards,
    subscribed: parts.subscribed,
    viewers,
    /** The relay's own per-viewer state: connection state as serialised (hibernation keeps it outside the isolate). */
    stateBytesPerViewer: viewers > 0 ? Math.round(stateBytes / viewers) : 0,
    posting: parts.posting,
    window: parts.window,
  };
}
