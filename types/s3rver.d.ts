/** The part of `@20minutes/s3rver` (a Koa app) that scripts/embedded-s3.ts uses; the package ships no types. */
declare module "@20minutes/s3rver" {
  type Context = { req: import("node:http").IncomingMessage; get(name: string): string; query: Record<string, unknown>; method: string; status: number; type: string; body: unknown };
  type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;
  export default class S3rver {
    constructor(options: { address?: string; port?: number; silent?: boolean; directory: string; configureBuckets?: Array<{ name: string; configs: string[] }> });
    middleware: Middleware[];
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}
