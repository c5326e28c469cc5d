/**
 * The inbox's calls to other actors (DM rooms, contacts' inboxes), and the record they depend on: `meta`
 * (whose inbox this is, the origin alarms call back through, when the user was last seen), stored under
 * META_KEY. Calls go through `context.parties` when partykit allows it, else over HTTP with a service
 * token (PROTOCOL IB7).
 */
import type * as Party from "partykit/server";
import type { Identity } from "../protocol/index.ts";
import { IDENTITY_HEADER } from "../adapters/auth.ts";
import { callActor } from "../adapters/service-auth.ts";
import { META_KEY, type InboxMeta } from "./keys.ts";

/** What the inbox shell lends this part. */
export interface CallsHost {
  readonly storage: Party.Storage;
  /** For the service token of calls made over HTTP. */
  readonly env: Record<string, unknown>;
  /** KAIWA_PUBLIC_ORIGIN when set (production); otherwise the first origin the inbox saw. */
  readonly publicOrigin: string | undefined;
  /** The actors' stubs; may throw where partykit refuses them (alarms). */
  parties(): Party.Room["context"]["parties"];
}

export class ActorCalls {
  private meta: InboxMeta | undefined;

  constructor(private readonly host: CallsHost) {}

  async load(): Promise<void> {
    this.meta = await this.host.storage.get<InboxMeta>(META_KEY);
  }

  /** Undefined until the inbox's user connected or an actor called it. */
  get current(): InboxMeta | undefined {
    return this.meta;
  }

  /** The origin alarms call back through: KAIWA_PUBLIC_ORIGIN when set (production), else the first seen. */
  async remember(user: string, origin: string, lastSeen: number | null, onlyIfNew = false): Promise<void> {
    if (onlyIfNew && this.meta) return;
    const keep = this.host.publicOrigin ?? this.meta?.origin ?? origin;
    this.meta = { user, origin: keep, lastSeen };
    await this.host.storage.put(META_KEY, this.meta);
  }

  readonly callRoom = (room: string, path: string, init: RequestInit, who: Identity): Promise<Response> => {
    const identity = JSON.stringify({ sub: who.id, name: who.name, ...(who.role ? { role: who.role } : {}) });
    return callActor(
      () => {
        const stub = this.host.parties().room!.get(room);
        return (p, i) => stub.fetch(p, i);
      },
      { origin: this.meta?.origin, party: "room", id: room, env: this.host.env },
      path,
      { ...init, headers: { "content-type": "application/json", [IDENTITY_HEADER]: identity } },
    );
  };

  readonly callInbox = (user: string, path: string, body: string): Promise<Response> => {
    return callActor(
      () => {
        const stub = this.host.parties().inbox!.get(user);
        return (p, i) => stub.fetch(p, i);
      },
      { origin: this.meta?.origin, party: "inbox", id: user, env: this.host.env },
      path,
      { method: "POST", body, headers: { "content-type": "application/json" } },
    ).then(async (response) => {
      await response.body?.cancel();
      return response;
    });
  };
}
