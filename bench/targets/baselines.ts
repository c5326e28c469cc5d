/** The two baselines as targets: each server runs as its own process, driven by the same load tool. */
import { join } from "node:path";
import { ChildServer, freePort } from "../lib/child-server.ts";
import { groupUsage } from "../lib/proc.ts";
import { startRedis } from "../lib/redis.ts";
import { rawConnect } from "./raw-ws.ts";
import { socketIoConnect } from "./socketio-raw.ts";
import type { Conn, ConnectOptions, ServerUsage, Target } from "./types.ts";

const BASELINES = join(import.meta.dirname, "..", "baselines");
const nodeArgs = (script: string) => ["--import", "tsx", join(BASELINES, script)];

export class WsTarget implements Target {
  readonly name = "ws" as const;
  readonly durability = "stores nothing (in-memory broadcast only)";
  readonly errors: string[] = [];
  private server?: ChildServer;
  private port = 0;

  /** `fault` passes --drop-seq / --dup-seq to the server (the load tool's own test). */
  constructor(private readonly fault: string[] = []) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = new ChildServer(process.execPath, [...nodeArgs("ws-server.ts"), "--port", String(this.port), ...this.fault], "listening");
    await this.server.start();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  connect(options: ConnectOptions): Promise<Conn> {
    return rawConnect(this.urlOf(options), options.localAddress, options.handlers, this.errors);
  }

  async url(options: Pick<ConnectOptions, "room" | "user">): Promise<string> {
    return this.urlOf(options);
  }

  private urlOf(options: Pick<ConnectOptions, "room" | "user">): string {
    return `ws://127.0.0.1:${this.port}/?${new URLSearchParams({ room: options.room, user: options.user })}`;
  }

  usage(): ServerUsage {
    const group = groupUsage(this.server?.pid ?? 0);
    return { rssBytes: group.rssBytes, cpuMs: group.cpuMs, note: "node RSS and CPU" };
  }
}

export class SocketIoTarget implements Target {
  readonly name = "socketio" as const;
  readonly durability = "stores nothing (in-memory; Redis used only as the pub/sub adapter, persistence off)";
  readonly errors: string[] = [];
  private server?: ChildServer;
  private redis?: ChildServer;
  private port = 0;

  async start(): Promise<void> {
    const redis = await startRedis();
    this.redis = redis.server;
    this.port = await freePort();
    this.server = new ChildServer(process.execPath, [...nodeArgs("socketio-server.ts"), "--port", String(this.port), "--redis", redis.url], "listening");
    await this.server.start();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.redis?.stop();
  }

  connect(options: ConnectOptions): Promise<Conn> {
    return socketIoConnect(this.urlOf(options), options.localAddress, options.handlers, this.errors);
  }

  async url(options: Pick<ConnectOptions, "room" | "user">): Promise<string> {
    return this.urlOf(options);
  }

  private urlOf(options: Pick<ConnectOptions, "room" | "user">): string {
    return `ws://127.0.0.1:${this.port}/socket.io/?${new URLSearchParams({ EIO: "4", transport: "websocket", room: options.room, user: options.user })}`;
  }

  usage(): ServerUsage {
    const node = groupUsage(this.server?.pid ?? 0);
    const redis = groupUsage(this.redis?.pid ?? 0);
    return { rssBytes: node.rssBytes, cpuMs: node.cpuMs + redis.cpuMs, note: `node RSS (redis ${(redis.rssBytes / 2 ** 20).toFixed(0)} MB apart); CPU of node + redis` };
  }
}
