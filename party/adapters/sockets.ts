/** Sending on and closing PartyKit sockets safely: shared by the room and the inbox. */
import type * as Party from "partykit/server";
import { CLOSE } from "../protocol/codes.ts";

/** WebSocket.CLOSING in the DOM's readyState numbering, which workerd follows. */
const SOCKET_CLOSING = 2;

/**
 * Completes a close the peer started. A peer that sent a close frame (the socket is CLOSING) waits for the
 * answer: without one a client sees 1006 for its own clean close, and hibernatable sockets never answer by
 * themselves. Without hibernation, a peer whose transport dropped (no close frame) reads OPEN while its
 * close event is dispatched: nobody can hear an answer, and closing it anyway made `partykit dev` throw
 * "Network connection lost" for the inbox's sockets and log it with a stack trace, ~0.5 ms in each of
 * its two processes per dropped socket (tests/integration/dropped-transport.integration.test.ts). With
 * hibernation workerd marks every closed socket CLOSING first, so a dropped one is answered as before.
 * Call it before any `await` in onClose, while the socket's state is still the one its close event found.
 */
export function answerClose(conn: Party.Connection): void {
  if (conn.readyState !== SOCKET_CLOSING) return;
  try {
    conn.close(CLOSE.normal, "bye");
  } catch {
    // closed meanwhile
  }
}

/** A send that may find the socket closed under it: the client resumes from its position. */
export function safeSend(conn: Party.Connection, frame: string): void {
  try {
    conn.send(frame);
  } catch {
    // closed under us
  }
}
