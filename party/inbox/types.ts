/** Types the inbox's parts share. */
import type * as Party from "partykit/server";
import type { Identity } from "../protocol/index.ts";

/** A device socket's state, set when it is admitted: the token's user and the device session. */
export type ConnState = { user: Identity; session: string };
export type Conn = Party.Connection<ConnState>;
/** An actor call to a room (`/commands`, `/read`, `/history`, `/wake`), made for `who`. */
export type RoomCall = (room: string, path: string, init: RequestInit, who: Identity) => Promise<Response>;
/** An actor call to another user's inbox (`POST /presence`); the answer's body is already consumed. */
export type InboxCall = (user: string, path: string, body: string) => Promise<Response>;
