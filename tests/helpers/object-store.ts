/**
 * The real S3-protocol server for integration tests (scripts/embedded-s3.ts, the same one `npm run dev`
 * starts), in its own temporary directory, and a signed view of the bucket to check what is stored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AwsClient } from "aws4fetch";
import { startEmbeddedS3, type EmbeddedS3 } from "../../scripts/embedded-s3.ts";

export class TestObjectStore {
  private s3: EmbeddedS3 | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "kaiwa-s3-"));

  async start(): Promise<Record<string, string>> {
    this.s3 = await startEmbeddedS3(this.dir);
    return this.s3.vars;
  }

  get faults() {
    return this.s3!.faults;
  }

  /** Writes an object under an upload's key with the store's own credentials, bypassing the slot's signed limits. */
  async putRaw(uploadId: string, bytes: Uint8Array, type: string): Promise<void> {
    const response = await this.client().fetch(`${this.s3!.endpoint}/${this.s3!.vars.KAIWA_S3_BUCKET}/u/${uploadId}`, { method: "PUT", headers: { "content-type": type }, body: Buffer.from(bytes) });
    if (!response.ok) throw new Error(`PUT ${response.status}: ${await response.text()}`);
  }

  async stop(): Promise<void> {
    await this.s3?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private client(): AwsClient {
    const vars = this.s3!.vars;
    return new AwsClient({ accessKeyId: vars.KAIWA_S3_ACCESS_KEY_ID!, secretAccessKey: vars.KAIWA_S3_SECRET_ACCESS_KEY!, service: "s3", region: vars.KAIWA_S3_REGION!, retries: 0 });
  }

  /** The stored object of an upload (its size), or undefined when the bucket has none. */
  async stored(uploadId: string): Promise<{ size: number } | undefined> {
    const response = await this.client().fetch(`${this.s3!.endpoint}/${this.s3!.vars.KAIWA_S3_BUCKET}/u/${uploadId}`, { method: "HEAD" });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`HEAD ${response.status}`);
    return { size: Number(response.headers.get("content-length")) };
  }

  /** An unsigned request, as anyone on the network could send: listing the bucket, or guessing a key. */
  unsigned(path: string): Promise<Response> {
    return fetch(`${this.s3!.endpoint}/${this.s3!.vars.KAIWA_S3_BUCKET}${path}`);
  }
}
