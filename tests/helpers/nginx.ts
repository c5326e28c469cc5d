/**
 * Debian's nginx as a real shared cache (`proxy_cache`) in front of a test's `partykit dev` (PROTOCOL R42):
 * its own config, prefix, pid, logs and cache in a temp dir, a free port, in the foreground (no daemon),
 * stopped by the test. The access log records, per request, whether the cache answered or the origin did.
 * Missing nginx fails under CI=true; locally the test is skipped with the one command that installs it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { sleep } from "./dev-server.ts";

export const NGINX_PATH = process.env.KAIWA_NGINX ?? "/usr/sbin/nginx";

/** undefined when nginx is there; otherwise why not (and under CI this throws instead). */
export function nginxMissing(): string | undefined {
  if (existsSync(NGINX_PATH)) return undefined;
  const message = `nginx not found at ${NGINX_PATH}; install it with: apt-get install -y nginx`;
  if (process.env.CI === "true") throw new Error(message);
  console.log(message);
  return message;
}

/** One access log line: how the cache answered (`HIT`, `MISS`, `EXPIRED`, …, `-` when not cacheable) and whether the origin was asked. */
export type CacheLogLine = { cacheStatus: string; status: number; uri: string; origin: boolean; at: number };

export class NginxCache {
  readonly dir = mkdtempSync(join(tmpdir(), "kaiwa-nginx-"));
  port = 0;
  private child?: ChildProcess;
  private stderr = "";

  constructor(private readonly upstreamPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    for (const sub of ["cache", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(this.dir, sub));
    const conf = join(this.dir, "nginx.conf");
    writeFileSync(conf, this.config());
    // -e: the error log before the config is read (else nginx opens /var/log/nginx/error.log first).
    const child = spawn(NGINX_PATH, ["-p", this.dir, "-c", conf, "-e", join(this.dir, "error.log")], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk) => (this.stderr += chunk));
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`nginx exited (${code}): ${this.stderr}${this.errorLog()}`))));
    await Promise.race([this.waitListening(), exited]);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGQUIT"); // graceful: finishes the access log
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every request nginx logged so far. */
  accessLog(): CacheLogLine[] {
    const path = join(this.dir, "access.log");
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [cacheStatus, status, uri, upstream, at] = line.split("|");
        return { cacheStatus: cacheStatus!, status: Number(status), uri: uri!, origin: upstream !== "-", at: Number(at) * 1000 };
      });
  }

  private errorLog(): string {
    const path = join(this.dir, "error.log");
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  /**
   * A plain caching proxy: caches what the origin's Cache-Control allows (so `private` and `no-store` are
   * never stored), one request at a time fills or refreshes an entry (request collapsing, as CDNs do), and
   * revalidates with If-None-Match. Logs `$upstream_cache_status|$status|$request_uri|$upstream_addr|$msec`.
   */
  private config(): string {
    const d = this.dir;
    return `
daemon off;
master_process off;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 8192; }
http {
  log_format cache '$upstream_cache_status|$status|$request_uri|$upstream_addr|$msec';
  access_log ${d}/access.log cache;
  client_body_temp_path ${d}/client_body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  proxy_cache_path ${d}/cache levels=1:2 keys_zone=kaiwa:10m max_size=200m inactive=10m use_temp_path=off;
  keepalive_requests 100000;
  upstream origin { server 127.0.0.1:${this.upstreamPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${this.port} backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:${this.upstreamPort};
      proxy_cache kaiwa;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      # The lock collapses misses of new entries only; an expired entry is refreshed by one request while
      # the others get the copy being replaced (measured without it: ~10 origin hits a second for latest
      # under 1,000 pollers, every request arriving during the refresh went to the origin).
      proxy_cache_use_stale updating;
      proxy_cache_revalidate on;
    }
  }
}
`;
  }

  private async waitListening(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = connect(this.port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      });
      if (up) return;
      await sleep(50);
    }
    throw new Error(`nginx did not listen on ${this.port}: ${this.stderr}${this.errorLog()}`);
  }
}
