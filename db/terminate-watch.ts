/**
 * Follows the frontend side of a Postgres wire stream and reports when the client sends Terminate ('X').
 * pglite-socket keeps the TCP connection open after Terminate, and the driver's `end()` waits for the
 * server to close it, so the bridge closes the session itself. Message boundaries are tracked (untyped
 * SSLRequest/startup first, then type byte + int32 length) so no payload byte is mistaken for a Terminate.
 */
const SSL_REQUEST_CODE = 80877103;
const TERMINATE = 0x58;

export class TerminateWatch {
  /** False until the startup message has passed (messages before it carry no type byte). */
  private typed = false;
  /** Bytes of the current message's header (and, for untyped ones, their 4-byte code). */
  private head: number[] = [];
  private remaining = 0;

  /** Feed the next chunk the client sent; true once a complete Terminate message has passed. */
  push(chunk: Uint8Array): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      this.head.push(chunk[i++]!);
      // Typed: type(1) + length(4). Untyped: length(4) + code(4), the code says SSLRequest or startup.
      if (this.head.length < (this.typed ? 5 : 8)) continue;
      const h = this.head;
      this.head = [];
      if (this.typed) {
        const length = int32(h, 1);
        if (h[0] === TERMINATE && length === 4) return true;
        this.remaining = length - 4;
      } else {
        this.remaining = int32(h, 0) - 8;
        if (int32(h, 4) !== SSL_REQUEST_CODE) this.typed = true;
      }
    }
    return false;
  }
}

function int32(bytes: number[], at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}
