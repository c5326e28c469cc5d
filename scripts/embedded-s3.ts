/**
 * The embedded S3-compatible server for `npm run dev` and the tests: a real S3-protocol server
 * (`@20minutes/s3rver`, the maintained fork of s3rver that verifies SigV4 signatures, presigned URLs
 * included), persisted on disk, so uploads, checks, downloads and removals run the same requests as on
 * Cloudflare's object storage. Like a private bucket there it refuses every unsigned request: nobody lists or fetches an
 * object without a URL the room signed (PROTOCOL R32).
 */
import { mkdirSync } from "node:fs";
import S3rver from "@20minutes/s3rver";

/** s3rver's one built-in account (local only: the server listens on 127.0.0.1). */
const ACCESS_KEY_ID = "S3RVER";
const SECRET_ACCESS_KEY = "S3RVER";
export const EMBEDDED_BUCKET = "kaiwa";

/** Browsers upload and download directly (the dashboard, `sendFile` of kaiwa/client/files): the bucket answers CORS. */
const CORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;

export type EmbeddedS3 = {
  endpoint: string;
  port: number;
  /** The KAIWA_S3_* variables that point a kaiwa deployment at this server. */
  vars: Record<string, string>;
  /** Faults the tests inject into the real server: slow object reads, removals refused as by an outage. */
  faults: StoreFaults;
  stop(): Promise<void>;
};

/** `failHeads`: the next this many HEADs (the room's check of an upload) answer 503, as a store outage would. */
export type StoreFaults = { readDelayMs: number; failDeletes: boolean; dropPuts: number; failHeads: number };

export async function startEmbeddedS3(directory: string, port = 0): Promise<EmbeddedS3> {
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({ address: "127.0.0.1", port, silent: true, directory, configureBuckets: [{ name: EMBEDDED_BUCKET, configs: [CORS] }] });
  const faults: StoreFaults = { readDelayMs: 0, failDeletes: false, dropPuts: 0, failHeads: 0 };
  refuseUnsigned(server);
  injectFaults(server, faults);
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    port: address.port,
    vars: { KAIWA_S3_ENDPOINT: endpoint, KAIWA_S3_BUCKET: EMBEDDED_BUCKET, KAIWA_S3_ACCESS_KEY_ID: ACCESS_KEY_ID, KAIWA_S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY, KAIWA_S3_REGION: "us-east-1" },
    faults,
    stop: () => server.close(),
  };
}

/** s3rver lets anonymous requests through (public-bucket semantics); a private bucket answers them 403. */
function refuseUnsigned(server: S3rver): void {
  server.middleware.unshift(async (ctx, next) => {
    const signed = ctx.get("authorization") !== "" || "X-Amz-Algorithm" in ctx.query || "Signature" in ctx.query;
    if (signed || ctx.method === "OPTIONS") return next();
    ctx.status = 403;
    ctx.type = "application/xml";
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`;
  });
}

/**
 * Off unless a test turns them on: HEAD and GET wait `readDelayMs`; DELETE answers 503 while `failDeletes`;
 * the next `dropPuts` PUTs lose their connection before an answer (a network drop mid-upload); the next
 * `failHeads` HEADs answer 503.
 */
function injectFaults(server: S3rver, faults: StoreFaults): void {
  server.middleware.unshift(async (ctx, next) => {
    if ((ctx.method === "HEAD" || ctx.method === "GET") && faults.readDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.readDelayMs));
    if (ctx.method === "PUT" && faults.dropPuts > 0) {
      faults.dropPuts--;
      ctx.req.socket.destroy();
      return;
    }
    if (ctx.method === "HEAD" && faults.failHeads > 0) {
      faults.failHeads--;
      ctx.status = 503;
      ctx.body = "";
      return;
    }
    if (ctx.method === "DELETE" && faults.failDeletes) {
      ctx.status = 503;
      ctx.body = "";
      return;
    }
    return next();
  });
}
