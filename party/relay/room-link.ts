/**
 * How a relay shard reaches its live room (PROTOCOL R55): in the same process through `context.parties`
 * (with the actor header, which only an in-process call can carry), or, when relays run in a process of
 * their own (KAIWA_RELAY_UPSTREAM), over the network through the room process's worker with a short-lived
 * service token (KAIWA_SERVICE_SECRET), which the worker's gates check and turn into the actor header.
 * Either way the room sees the same actor call; a client can forge neither.
 */
import type * as Party from "partykit/server";
import { CALLER_HEADER, SERVICE_TOKEN_HEADER, signServiceToken } from "../adapters/service-auth.ts";
import { IDENTITY_HEADER } from "../adapters/auth.ts";

/** Service tokens live 2 minutes (service-auth.ts); one is reused for this long. */
const TOKEN_REUSE_MS = 60_000;

/** The identity a shard's own calls to the room carry (its subscription, its reads): the actor `relay`. */
export function relayIdentity(shard: number): Record<string, string> {
  return { [IDENTITY_HEADER]: JSON.stringify({ sub: "relay", name: `relay ${shard}` }) };
}

export class RoomLink {
  private token: { value: string; until: number } | undefined;

  constructor(
    private readonly room: Party.Room,
    private readonly roomId: string,
    /** The room process's origin; undefined: the room is in this process. */
    private readonly upstream: string | undefined,
  ) {}

  get remote(): boolean {
    return this.upstream !== undefined;
  }

  /** An HTTP call to the room as an actor. */
  async fetch(path: string, init: { method?: string; headers: Record<string, string>; body?: string }): Promise<Response> {
    if (!this.upstream) return this.room.context.parties.room!.get(this.roomId).fetch(path, { ...init, headers: { ...init.headers, [CALLER_HEADER]: "actor" } }) as unknown as Promise<Response>;
    return fetch(this.url(path), { ...init, headers: { ...init.headers, [SERVICE_TOKEN_HEADER]: await this.serviceToken() } });
  }

  /** A WebSocket to the room as an actor (accepted, ready to use). */
  async socket(path: string, headers: Record<string, string>): Promise<WebSocket> {
    if (!this.upstream) return (await this.room.context.parties.room!.get(this.roomId).socket(path, { headers: { ...headers, [CALLER_HEADER]: "actor" } })) as unknown as WebSocket;
    const response = await fetch(this.url(path), { headers: { ...headers, upgrade: "websocket", [SERVICE_TOKEN_HEADER]: await this.serviceToken() } });
    const socket = (response as Response & { webSocket: (WebSocket & { accept(): void }) | null }).webSocket;
    if (!socket) throw new Error(`the room process answered the subscription with HTTP ${response.status}`);
    socket.accept();
    return socket;
  }

  private url(path: string): string {
    // Ids go as written: the worker refuses percent-encoded ids (service-auth.ts isEncodedId).
    return `${this.upstream}/parties/room/${this.roomId}${path}`;
  }

  private async serviceToken(): Promise<string> {
    const now = Date.now();
    if (!this.token || this.token.until <= now) this.token = { value: await signServiceToken(this.room.env), until: now + TOKEN_REUSE_MS };
    return this.token.value;
  }
}
