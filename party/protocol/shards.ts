/**
 * Relay shards of a live room (PROTOCOL R50-R53): where a viewer's socket goes, named the same way by the
 * room (its redirect), the relay (its check) and the client (it follows the redirect). Runtime-free.
 *
 * A relay's id is `<live room id>~<k>`: `~` is unreserved in URLs (never percent-encoded, the worker
 * refuses encoded ids) and never appears in a room id a client can open through a relay.
 */
export const RELAY_PARTY = "relay";
export const SHARD_SEPARATOR = "~";
/**
 * The most shards one live room may have (PROTOCOL R53). Sockets alone would allow 1M viewers on 64
 * relays (~15k each), but the send budget of one relay's thread (docs/CAPACITY.md, "One stream of
 * 1,000,000 viewers") needs a few hundred at 20 msgs/s.
 */
export const MAX_SHARDS = 512;

export function relayId(roomId: string, shard: number): string {
  return `${roomId}${SHARD_SEPARATOR}${shard}`;
}

/** `live:show~3` → `{ roomId: "live:show", shard: 3 }`; anything that names no possible shard → undefined. */
export function parseRelayId(id: string): { roomId: string; shard: number } | undefined {
  const at = id.lastIndexOf(SHARD_SEPARATOR);
  if (at <= 0) return undefined;
  const roomId = id.slice(0, at);
  const digits = id.slice(at + 1);
  if (!roomId.startsWith("live:") || roomId.length <= "live:".length || roomId.includes(SHARD_SEPARATOR)) return undefined;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) return undefined;
  const shard = Number(digits);
  return shard < MAX_SHARDS ? { roomId, shard } : undefined;
}

/**
 * The shard of a user among `shards`: FNV-1a (32 bit) of the user id, mod the count. Stable across restarts
 * and processes, and by user rather than session so all of one user's sockets sit on one relay (a ban
 * closes them there at once).
 */
export function shardOf(userId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
