/**
 * What the room's HTTP read path shows of a range of its log, and how caches may keep it (PROTOCOL R40-R43).
 * Pure: events in, JSON, versions and header values out.
 *
 * A page's *version* is the seq of the latest event that changed what the page shows (0: none did): an
 * edit or a deletion of one of its messages, or the deletion of a message whose edit events it holds
 * (their text is the deleted message's text too, so it goes with the deletion, PROTOCOL R43). Versions only
 * grow, follow from the stored log alone (so a restarted room computes the same ones) and change exactly
 * when the page's content does, which is what lets a sealed page be cached forever under a versioned URL.
 */
import type { MessageEvent, PostBody, RoomEvent, RoomSettings } from "../protocol/index.ts";
import type { RoomKind } from "../protocol/index.ts";

/** Seqs of edit events' targets that are not in `events`: the caller reads them so deletions can be applied. */
export function outsideTargets(events: RoomEvent[]): number[] {
  const inside = new Set(events.map((event) => event.seq));
  const targets = new Set<number>();
  for (const event of events) if (event.kind === "edit" && !inside.has(event.target)) targets.add(event.target);
  return [...targets];
}

/**
 * The events as readers over HTTP see them, and the range's version. `targets`: the records of edit
 * targets outside the range (from `outsideTargets`); one that is missing counts as not deleted.
 */
export function moderatedView(events: Array<{ event: RoomEvent; json: string }>, targets: Map<number, RoomEvent>): { jsons: string[]; version: number } {
  const bySeq = new Map<number, RoomEvent>(events.map(({ event }) => [event.seq, event]));
  let version = 0;
  const jsons: string[] = [];
  for (const { event, json } of events) {
    if (event.kind === "message") {
      version = Math.max(version, event.editedBy ?? 0, event.deletedBy ?? 0);
      jsons.push(json);
    } else if (event.kind === "edit") {
      const target = bySeq.get(event.target) ?? targets.get(event.target);
      const deletedBy = target?.kind === "message" ? target.deletedBy : undefined;
      if (deletedBy === undefined) {
        jsons.push(json);
      } else {
        // The edit's text was the deleted message's text: it goes with the deletion.
        version = Math.max(version, deletedBy);
        jsons.push(JSON.stringify({ ...event, text: "" }));
      }
    } else {
      jsons.push(json);
    }
  }
  return { jsons, version };
}

/** Whether a room's log is readable by anyone over HTTP, and storable by shared caches (PROTOCOL R40). DMs never are. */
export function isPublicLog(kind: RoomKind, settings: Pick<RoomSettings, "public">): boolean {
  return settings.public && kind !== "dm";
}

/** A year: "forever" for a cache, and the most RFC 9111 asks caches to honour. */
const IMMUTABLE_SECONDS = 31_536_000;

/**
 * `Cache-Control` of each HTTP read answer (PROTOCOL R42): sealed pages forever; `latest` and the
 * redirect to a page's current version for at most one poll interval (whole seconds, rounded down, so a
 * cache never holds them longer than the interval moderation must win within); shared caches only for
 * public rooms; errors never.
 */
export function cacheControl(what: "sealed" | "latest" | "redirect" | "error", isPublic: boolean, pollIntervalMs: number): string {
  if (what === "error") return "no-store";
  const scope = isPublic ? "public" : "private";
  if (what === "sealed") return `${scope}, max-age=${IMMUTABLE_SECONDS}, immutable`;
  return `${scope}, max-age=${Math.max(1, Math.floor(pollIntervalMs / 1000))}`;
}

/** Strong ETags from what determines each body (PROTOCOL R42); the leading letter and digit name the format. */
export const latestTag = (epoch: string, lastSeq: number, pollIntervalMs: number): string => `"L1.${epoch}.${lastSeq}.${pollIntervalMs}"`;
export const pageTag = (epoch: string, page: number, version: number): string => `"P1.${epoch}.${page}.${version}"`;

/** Whether an `If-None-Match` header names `etag` (weak or strong, or `*`): the answer is then 304. */
export function matchesTag(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((raw) => {
    const tag = raw.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

/**
 * A post over HTTP whose `(author, clientId)` the room knows (PROTOCOL R44): a retry when its body is the
 * stored message's, `clientid_reused` when it differs. A message edited or deleted since no longer shows
 * what was posted; such a retry is answered as a retry (its original ack), the only answer that never
 * makes a client post twice.
 */
export function retryOf(stored: RoomEvent | undefined, body: PostBody): "retry" | "reused" {
  if (!stored || stored.kind !== "message") return "reused";
  const message: MessageEvent = stored;
  if (message.editedBy !== undefined || message.deletedBy !== undefined) return "retry";
  // A REST post carries text only: a stored message with files was not posted with this body.
  const same = message.text === body.text && (message.attachments?.length ?? 0) === 0;
  return same ? "retry" : "reused";
}
