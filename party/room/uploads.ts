/**
 * The room's files (PROTOCOL R30-R32). The room owns its uploads: a slot is recorded in its storage when it is
 * made, so "attach once, in this room, by its maker" is decided in the room's order with nothing shared.
 * - `slot`: a member who may post asks for one (name, declared type, size); the room records it and answers
 *   a short-lived presigned PUT bound to that object, length and type. The bytes go to the store directly,
 *   never through the actor.
 * - `check`: before a send naming uploads reaches the ordered pipeline, the object is confirmed to exist,
 *   its stored size to match and its sniffed type to be allowed and equal to the declared one. This waits
 *   on the store, so it runs beside the room's task queue, not in it (room/commands.ts holds only the
 *   sender's later commands behind it).
 * - `refuse`/`attach`/`free`: in order, the slot's state (core/uploads.ts), durable with the event.
 * - `download`: members only; a redirect to a presigned GET that expires in minutes.
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import { ALLOWED_TYPES, LIMITS, UploadId, UploadRequest, isImageType, type Attachment, type AttachmentRef, type Identity, type UploadSlot } from "../protocol/index.ts";
import { fileReadRefusal, mayJoin } from "../core/access.ts";
import type { RoomCore } from "../core/room-core.ts";
import type { Rejection } from "../core/rejection.ts";
import { MEDIA_USAGE_KEY, uploadKey } from "../core/room-keys.ts";
import { KeyedBuckets } from "../core/keyed-buckets.ts";
import { UploadLedger, objectKey, refuseAttach, type MediaUsage, type UploadRecord } from "../core/uploads.ts";
import { ObjectStore, StorageUnavailable } from "../adapters/object-store.ts";
import { SNIFF_BYTES, sniff } from "../adapters/sniff.ts";
import { errorResponse, json } from "../adapters/http.ts";
import type { KaiwaConfig } from "../config.ts";

export interface UploadsHost {
  readonly room: Party.Room;
  readonly config: KaiwaConfig;
  core(): RoomCore;
  /** A slot's expiry job was written: the janitor's alarm must cover it. */
  scheduled(at: number): void;
}

export type Checked = { ok: true; files: Attachment[] } | { ok: false; error: Rejection };

/**
 * Slots per user per room (PROTOCOL R30): each is a storage write and a record, so a user asking as fast as
 * they can is refused (`rate_limited`, 429) past a burst of 30 and 1 a second after that.
 */
const SLOT_BURST = 30;
const SLOTS_PER_SECOND = 1;
/** Users whose slot bucket is remembered at most (full ones go first): the map does not grow with users. */
const MAX_SLOT_BUCKETS = 10_000;

export class RoomUploads {
  readonly store: ObjectStore | undefined;
  ledger: UploadLedger;
  readonly counters = { slots: 0, checks: 0, refused: 0, downloads: 0 };
  private readonly slotBuckets = new KeyedBuckets(MAX_SLOT_BUCKETS);

  constructor(private readonly host: UploadsHost) {
    this.store = host.config.s3 ? new ObjectStore(host.config.s3) : undefined;
    this.ledger = new UploadLedger(undefined, this.ttlMs);
  }

  get ttlMs(): number {
    return this.host.config.test.uploadTtlMs || LIMITS.uploadTtlMs;
  }

  private seconds(fallback: number): number {
    return this.host.config.test.presignSeconds || fallback;
  }

  /** At start and after a failed write (the room reloads): what is durable is all the ledger knows. */
  async load(): Promise<void> {
    this.ledger = new UploadLedger(await this.host.room.storage.get<MediaUsage>(MEDIA_USAGE_KEY), this.ttlMs);
  }

  // ---- HTTP: slots and downloads.

  /** `POST uploads`: a slot for a member who may post, under the room's size limit, of an allowed type (PROTOCOL R30). */
  async slot(who: Identity, raw: unknown): Promise<Response> {
    const { store } = this;
    const core = this.host.core();
    if (!store || core.settings.maxUploadBytes === 0) return errorResponse("uploads_off", undefined, 403);
    if (!mayJoin(this.host.room.id, who)) return errorResponse("forbidden");
    const barred = core.mayPost(who);
    if (barred) return errorResponse(barred.code, barred.message);
    const body = UploadRequest.safeParse(raw);
    if (!body.success) return errorResponse("bad_frame", body.error.issues[0]?.message);
    const { name, type, size } = body.data;
    const now = Date.now();
    const wait = this.slotBuckets.of(who.id, SLOT_BURST, SLOTS_PER_SECOND, now).take(1, now);
    if (wait > 0) {
      const refused = errorResponse("rate_limited", `Too many upload slots; retry in ${wait} ms.`, 429);
      refused.headers.set("retry-after", String(Math.ceil(wait / 1000)));
      return refused;
    }
    if (size > core.settings.maxUploadBytes) return errorResponse("upload_too_large", `At most ${core.settings.maxUploadBytes} bytes in this room.`, 413);
    if (!ALLOWED_TYPES.includes(type)) return errorResponse("upload_type_refused", `Allowed: ${ALLOWED_TYPES.join(", ")}.`, 415);
    const record: UploadRecord = { id: nanoid(24), user: who.id, name, type, size, createdAt: Date.now(), state: "pending" };
    // Recorded before it is answered: a slot the room does not know could never be attached or cleaned up.
    await this.host.room.storage.put(Object.fromEntries(this.ledger.open(record)));
    this.host.scheduled(record.createdAt + this.ttlMs);
    this.counters.slots++;
    return json(await this.signed(record), 201);
  }

  /** `POST uploads/<id>/url`: the same slot signed again (a client resuming after its URL expired). */
  async resign(who: Identity, id: string): Promise<Response> {
    if (!this.store) return errorResponse("uploads_off", undefined, 403);
    const record = await this.record(id);
    const refused = refuseAttach(record, who, Date.now(), this.ttlMs);
    if (refused) return errorResponse(refused.code, refused.message, 409);
    return json(await this.signed(record!));
  }

  private async signed(record: UploadRecord): Promise<UploadSlot> {
    const seconds = this.seconds(LIMITS.uploadUrlSeconds);
    const { url, headers } = await this.store!.presignPut(objectKey(record.id), record.size, record.type, seconds);
    return { id: record.id, url, method: "PUT", headers, expiresAt: Date.now() + seconds * 1000 };
  }

  /**
   * `GET files/<id>`: whoever may read the room (a DM's two users, a group's members, anyone in an open room)
   * is redirected to a presigned GET of an attached file; nothing else is found (PROTOCOL R32). Operators see
   * a group's files as they see its live tail (the dashboard's thumbnails); never a DM's (core/access.ts).
   */
  async download(who: Identity, id: string): Promise<Response> {
    if (!this.store) return errorResponse("uploads_off", undefined, 403);
    const core = this.host.core();
    const refused = fileReadRefusal({ rawId: this.host.room.id, group: core.membership, restrictions: core.moderation }, who, Date.now());
    if (refused) return errorResponse(refused.code, refused.message);
    const record = await this.record(id);
    if (!record || record.state !== "attached") return errorResponse("not_found", "No such file in this room.");
    this.counters.downloads++;
    // Images show inline; anything else downloads, so a browser never renders a file as a page of this origin.
    const disposition = `${isImageType(record.type) ? "inline" : "attachment"}; filename="${asciiName(record.name)}"`;
    const url = await this.store.presignGet(objectKey(id), this.seconds(LIMITS.downloadUrlSeconds), disposition, record.type);
    return new Response(null, { status: 302, headers: { location: url, "cache-control": "private, no-store" } });
  }

  // ---- Attaching: the check beside the pipeline, then the decision in order.

  /**
   * The object behind each ref: it exists, its size is the declared one, its real type is allowed and equal
   * to the declared one (PROTOCOL R31). Never throws: a store that cannot be reached is `storage_unavailable`.
   */
  async check(refs: readonly AttachmentRef[], who: Identity): Promise<Checked> {
    this.counters.checks++;
    const store = this.store;
    if (!store) return this.refused({ code: "uploads_off" });
    const now = Date.now();
    const records: UploadRecord[] = [];
    for (const { upload } of refs) {
      const record = await this.record(upload);
      const refused = refuseAttach(record, who, now, this.ttlMs);
      if (refused) return this.refused(refused);
      records.push(record!);
    }
    try {
      const files = await Promise.all(records.map((record) => this.inspect(store, record)));
      const wrong = files.find((file): file is Rejection => "code" in file);
      return wrong ? this.refused(wrong) : { ok: true, files: files as Attachment[] };
    } catch (error) {
      if (!(error instanceof StorageUnavailable)) throw error;
      console.error("uploads: the object store could not be reached", error.message);
      return this.refused({ code: "storage_unavailable" });
    }
  }

  private async inspect(store: ObjectStore, record: UploadRecord): Promise<Attachment | Rejection> {
    const key = objectKey(record.id);
    const head = await store.head(key);
    if (!head) return { code: "upload_mismatch", message: "Nothing was uploaded for this slot." };
    if (head.size !== record.size) return { code: "upload_mismatch", message: `Stored ${head.size} bytes, declared ${record.size}.` };
    const start = await store.readStart(key, Math.min(SNIFF_BYTES, record.size));
    if (!start) return { code: "upload_mismatch", message: "Nothing was uploaded for this slot." };
    const found = await sniff(start);
    if (!found.type || !ALLOWED_TYPES.includes(found.type)) return { code: "upload_type_refused", message: `The file is ${found.type ?? "of an unknown type"}, which this room does not take.` };
    if (found.type !== record.type) return { code: "upload_mismatch", message: `The file is ${found.type}, declared ${record.type}.` };
    return { id: record.id, name: record.name, type: found.type, size: record.size, ...(found.width && found.height ? { width: found.width, height: found.height } : {}) };
  }

  private refused(error: Rejection): Checked {
    this.counters.refused++;
    return { ok: false, error };
  }

  /** A record from the ledger, or read from storage into it. */
  async record(id: string): Promise<UploadRecord | undefined> {
    if (!UploadId.safeParse(id).success) return undefined;
    if (!this.ledger.known(id)) this.ledger.learn(id, await this.host.room.storage.get<UploadRecord>(uploadKey(id)));
    return this.ledger.get(id);
  }

  stats() {
    return { usage: this.ledger.usage, configured: this.store !== undefined, ...this.counters };
  }
}

/**
 * The name offered for saving, in the plain `filename="..."` form: letters, digits, space and `._-()`, the
 * rest `_`. Not RFC 5987's `filename*=UTF-8''…`: its `'` and `*` are signed differently by S3 servers that
 * canonicalise queries loosely (the embedded one does), and the event carries the real name anyway.
 */
function asciiName(name: string): string {
  return name.replace(/[^A-Za-z0-9 ._()-]/g, "_");
}
