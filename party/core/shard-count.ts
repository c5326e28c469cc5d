/**
 * The automatic shard count of a live room (PROTOCOL R53): one shard per `perShard` viewers, grown at once
 * when the audience outgrows the shards, shrunk only when it has fallen well below what one shard fewer
 * holds (three quarters of it), so an audience near a boundary does not move viewers back and forth.
 */
export function nextShardCount(input: { current: number; viewers: number; perShard: number; least: number; most: number }): number {
  const { current, viewers, perShard, least, most } = input;
  const wanted = Math.min(most, Math.max(least, Math.ceil(viewers / perShard)));
  if (wanted > current) return wanted;
  if (wanted < current && viewers <= (current - 1) * perShard * 0.75) return wanted;
  return Math.min(most, Math.max(least, current));
}
