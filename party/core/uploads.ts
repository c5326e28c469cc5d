/**
 * A room's upload slots, as plain data (PROTOCOL R30-R33): who made each, for what, and whether it is still
 * free to attach. The room owns its uploads (the slot is recorded in the room's storage when it is made), so
 * "attach once, here, by its maker" is decided in the room's order like any other command, with no store
 * shared between actors. The checks that need the object (it exists, its size, its real type) run before
 * the command reaches the ordered pipeline (room/uploads.ts); what is decided here is only what can change
 * between that check and the decision: the slot's state.
 */
import type { Attachment, AttachmentRef, Identity } from "../protocol/index.ts";
import { MEDIA_USAGE_KEY, mediaJobKey, uploadKey } from "./room-keys.ts";
import type { Rejection } from "./rejection.ts";

/** One slot. `pending`: made, maybe uploaded, not attached; `attached` to message `seq`; `deleted` with it. */
export type UploadRecord = {
  id: string;
  user: string;
  name: string;
  /** The declared type, which the sniffed one must equal. */
  type: string;
  size: number;
  createdAt: number;
  state: "pending" | "attached" | "deleted";
  seq?: number;
};

/**
 * An object removal the room owes the storage, written in the same batch as what made it owed: `delete`
 * (its message was deleted: due at once) or `expire` (a slot's TTL: due at `at`, void if attached by then).
 */
export type MediaJob = { id: string; why: "delete" | "expire"; at: number; attempts?: number };
export type MediaUsage = { bytes: number; files: number };

/** The object's key in the bucket: the upload id alone (random, 144 bits), so nothing about a room can be listed from it. */
export const objectKey = (id: string): string => `u/${id}`;

/** Refusals that need only the record (no storage read of the object): checked before and again in order. */
export function refuseAttach(record: UploadRecord | undefined, who: Identity, now: number, ttlMs: number): Rejection | undefined {
  if (!record) return { code: "upload_unknown" };
  if (record.user !== who.id) return { code: "upload_not_yours" };
  if (record.state !== "pending") return { code: "upload_used" };
  if (now >= record.createdAt + ttlMs) return { code: "upload_expired" };
  return undefined;
}

/**
 * The room's slots as far as it has read them, and its storage use. Records are read on demand (a room may
 * have made many); the ones a decision touched stay here, so a second attach of the same id in the same
 * batch is refused before the first is durable.
 */
export class UploadLedger {
  private readonly records = new Map<string, UploadRecord>();
  usage: MediaUsage;

  constructor(
    usage: MediaUsage | undefined,
    private readonly ttlMs: number,
  ) {
    this.usage = usage ?? { bytes: 0, files: 0 };
  }

  known(id: string): boolean {
    return this.records.has(id);
  }

  /** A record read from storage, unless a newer one is already here. */
  learn(id: string, record: UploadRecord | undefined): void {
    if (record && !this.records.has(id)) this.records.set(id, record);
  }

  get(id: string): UploadRecord | undefined {
    return this.records.get(id);
  }

  /** A new slot and its expiry job: written together, before the slot is answered. */
  open(record: UploadRecord): Array<[string, unknown]> {
    this.records.set(record.id, record);
    const job: MediaJob = { id: record.id, why: "expire", at: record.createdAt + this.ttlMs };
    return [
      [uploadKey(record.id), record],
      [mediaJobKey(record.id), job],
    ];
  }

  /** In order, just before the core decides: the first ref that may not be attached now, if any. */
  refuse(refs: readonly AttachmentRef[], who: Identity, now: number): Rejection | undefined {
    const seen = new Set<string>();
    for (const { upload } of refs) {
      if (seen.has(upload)) return { code: "upload_used", message: "The same upload is named twice." };
      seen.add(upload);
      const refused = refuseAttach(this.records.get(upload), who, now, this.ttlMs);
      if (refused) return refused;
    }
    return undefined;
  }

  /** The message `seq` carrying `attachments` was accepted: the slots are taken (in memory now, durably with the event). */
  attach(attachments: readonly Attachment[], seq: number): Array<[string, unknown]> {
    const writes: Array<[string, unknown]> = [];
    for (const file of attachments) {
      const record = this.records.get(file.id);
      if (!record) throw new Error(`attach: upload ${file.id} was not checked`);
      const taken: UploadRecord = { ...record, state: "attached", seq };
      this.records.set(file.id, taken);
      this.usage = { bytes: this.usage.bytes + file.size, files: this.usage.files + 1 };
      writes.push([uploadKey(file.id), taken]);
    }
    if (writes.length) writes.push([MEDIA_USAGE_KEY, this.usage]);
    return writes;
  }

  /** A message carrying `freed` was deleted: its objects are owed a removal (PROTOCOL R33), written with the deletion. */
  free(freed: readonly Attachment[], now: number): Array<[string, unknown]> {
    const writes: Array<[string, unknown]> = [];
    for (const file of freed) {
      const record = this.records.get(file.id);
      const gone: UploadRecord = record ? { ...record, state: "deleted" } : { id: file.id, user: "", name: file.name, type: file.type, size: file.size, createdAt: now, state: "deleted" };
      this.records.set(file.id, gone);
      this.usage = { bytes: Math.max(0, this.usage.bytes - file.size), files: Math.max(0, this.usage.files - 1) };
      writes.push([uploadKey(file.id), gone], [mediaJobKey(file.id), { id: file.id, why: "delete", at: now } satisfies MediaJob]);
    }
    if (writes.length) writes.push([MEDIA_USAGE_KEY, this.usage]);
    return writes;
  }

  /** Whether an expiry job may remove the object: only a slot never attached (nor being attached). */
  expirable(id: string): boolean {
    const record = this.records.get(id);
    return record === undefined || record.state === "pending";
  }

  /** An expired slot's record is gone with its object. */
  forget(id: string): void {
    this.records.delete(id);
  }
}
