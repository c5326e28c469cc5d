/**
 * The room's token expiry (PROTOCOL R19): the deadline queue of adapters/token-expiry.ts (shared with the
 * relay's viewers, PROTOCOL R56) over the room's own connection state, so the room's parts hold it by one
 * name and its `cutOff` hands back the room's connections.
 */
import { TokenExpiry as SharedTokenExpiry } from "../adapters/token-expiry.ts";
import type { ConnState } from "./types.ts";

export class TokenExpiry extends SharedTokenExpiry<ConnState> {}
