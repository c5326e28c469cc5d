/**
 * Every admin route, in one table. The worker's admin handler (api.ts) matches requests against it, and
 * the route test iterates it, so no route can escape the auth and bad-input checks.
 */
import type * as z from "zod/mini";
import { AnnounceBody, AuditQuery, DeleteBody, EditsQuery, ListRoomsQuery, MessagesQuery, ModerateBody, SeriesQuery, SettingsBody } from "../protocol/admin-schema.ts";

export type AdminRoute = {
  method: "GET" | "POST" | "PATCH";
  /** Path pattern; `:room` is a room id as in `/parties/room/<id>`. */
  path: string;
  summary: string;
  query?: z.core.$ZodType;
  body?: z.core.$ZodType;
  /** Where the validated request goes: a party instance and the path there. */
  target: { party: "directory"; path: string } | { party: "room"; path: string };
};

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  { method: "GET", path: "/admin/rooms", summary: "List and search rooms (?q=&limit=), busiest first", query: ListRoomsQuery, target: { party: "directory", path: "/rooms" } },
  { method: "GET", path: "/admin/overview", summary: "The system at a glance: rooms, connections, msgs/s, archive lag, errors by code", target: { party: "directory", path: "/overview" } },
  { method: "GET", path: "/admin/series", summary: "The last minutes in slots for the charts (?room= for one room, else the system)", query: SeriesQuery, target: { party: "directory", path: "/series" } },
  { method: "GET", path: "/admin/metrics", summary: "Prometheus text: per room and in total", target: { party: "directory", path: "/metrics" } },
  { method: "GET", path: "/admin/rooms/:room", summary: "Room detail: kind, members, connections, rate, lastSeq, epoch, settings, restrictions", target: { party: "room", path: "/admin/detail" } },
  { method: "GET", path: "/admin/rooms/:room/messages", summary: "Last N events or a page (?before=&limit=); audited for DMs", query: MessagesQuery, target: { party: "room", path: "/admin/messages" } },
  { method: "GET", path: "/admin/rooms/:room/edits", summary: "A message's edit history (?seq=): every version, oldest first; audited", query: EditsQuery, target: { party: "room", path: "/admin/edits" } },
  { method: "GET", path: "/admin/rooms/:room/audit", summary: "Audit records of operator reads of this room", query: AuditQuery, target: { party: "room", path: "/admin/audit" } },
  { method: "POST", path: "/admin/rooms/:room/delete", summary: "Delete a message (a tombstone event)", body: DeleteBody, target: { party: "room", path: "/admin/delete" } },
  { method: "POST", path: "/admin/rooms/:room/announce", summary: "Post an operator announcement (a sequenced event)", body: AnnounceBody, target: { party: "room", path: "/admin/announce" } },
  { method: "POST", path: "/admin/rooms/:room/moderate", summary: "Ban, unban, mute or unmute a user, with expiry", body: ModerateBody, target: { party: "room", path: "/admin/moderate" } },
  { method: "PATCH", path: "/admin/rooms/:room/settings", summary: "Change settings (max length, slow mode, who may post; live rooms: shards, autoShards, viewersPerShard, hosts)", body: SettingsBody, target: { party: "room", path: "/settings" } },
];

/** The route for a path and method, with its `:room` parameter (raw, as in the URL). */
export function matchRoute(method: string, pathname: string): { route: AdminRoute; room?: string } | { route?: undefined; pathKnown: boolean } {
  const parts = pathname.split("/");
  let pathKnown = false;
  for (const route of ADMIN_ROUTES) {
    const pattern = route.path.split("/");
    if (pattern.length !== parts.length) continue;
    let room: string | undefined;
    const fits = pattern.every((segment, i) => {
      if (segment === ":room") return (room = parts[i]) !== "";
      return segment === parts[i];
    });
    if (!fits) continue;
    pathKnown = true;
    if (route.method === method) return { route, ...(room !== undefined ? { room } : {}) };
  }
  return { pathKnown };
}
