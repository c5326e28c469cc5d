/**
 * S3-compatible object storage at the edge (PROTOCOL R30-R33): presigned URLs for the client's direct upload
 * and download, and the room's own checks and removals. Signing is SigV4 by `aws4fetch` (web-standard
 * crypto, runs in workerd), never hand-written. Cloudflare's object storage in production; the embedded S3 server
 * (scripts/embedded-s3.ts) in dev and tests, so the same requests run everywhere.
 */
import { AwsClient } from "aws4fetch";
import type { S3Config } from "../config.ts";

/** What a storage call could not do: the object store is down or refused us (not the user's fault). */
export class StorageUnavailable extends Error {}

export type ObjectHead = { size: number; type: string | undefined };

/** A bounded wait for any storage call: a hung store must fail the check, not hold a sender's commands forever. */
const CALL_TIMEOUT_MS = 10_000;

export class ObjectStore {
  private readonly aws: AwsClient;

  constructor(private readonly config: S3Config) {
    // retries: 0, the callers decide (a check answers `storage_unavailable`, the removal queue backs off).
    this.aws = new AwsClient({ accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, service: "s3", region: config.region, retries: 0 });
  }

  private url(key: string): string {
    return `${this.config.endpoint}/${this.config.bucket}/${key}`;
  }

  /**
   * A PUT URL for exactly this object, length and type, valid for `seconds`: the signature covers the
   * content-length and content-type headers, so the store refuses a larger body or another type (PROTOCOL R30).
   */
  async presignPut(key: string, size: number, type: string, seconds: number): Promise<{ url: string; headers: Record<string, string> }> {
    const url = new URL(this.url(key));
    url.searchParams.set("X-Amz-Expires", String(seconds));
    const headers = { "content-type": type, "content-length": String(size) };
    const signed = await this.aws.sign(url.toString(), { method: "PUT", headers, aws: { signQuery: true, allHeaders: true } });
    return { url: signed.url, headers: { "content-type": type } };
  }

  /** A GET URL for one object, valid for `seconds`, answered with this disposition and type (PROTOCOL R32). */
  async presignGet(key: string, seconds: number, disposition: string, type: string): Promise<string> {
    const url = new URL(this.url(key));
    url.searchParams.set("X-Amz-Expires", String(seconds));
    url.searchParams.set("response-content-disposition", disposition);
    url.searchParams.set("response-content-type", type);
    const signed = await this.aws.sign(url.toString(), { method: "GET", aws: { signQuery: true } });
    return signed.url;
  }

  /** The stored object's size and type, or undefined when there is none. */
  async head(key: string): Promise<ObjectHead | undefined> {
    const response = await this.call(key, { method: "HEAD" });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new StorageUnavailable(`HEAD ${response.status}`);
    return { size: Number(response.headers.get("content-length") ?? "-1"), type: response.headers.get("content-type") ?? undefined };
  }

  /** The object's first `bytes` bytes (all of it if shorter): enough to sniff its real type and an image's size. */
  async readStart(key: string, bytes: number): Promise<Uint8Array | undefined> {
    const response = await this.call(key, { headers: { range: `bytes=0-${bytes - 1}` } });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new StorageUnavailable(`GET ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Removes the object; one that is already gone counts as removed (a retried removal is harmless). */
  async remove(key: string): Promise<void> {
    const response = await this.call(key, { method: "DELETE" });
    await response.body?.cancel();
    if (!response.ok && response.status !== 404) throw new StorageUnavailable(`DELETE ${response.status}`);
  }

  private async call(key: string, init: RequestInit): Promise<Response> {
    try {
      return await this.aws.fetch(this.url(key), { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    } catch (error) {
      throw new StorageUnavailable(error instanceof Error ? error.message : String(error));
    }
  }
}
