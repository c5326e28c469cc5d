/**
 * `fn` over `items` with at most `limit` calls in flight, results in the order of `items` (the publish
 * API's bounded fan-out, PROTOCOL R62). A dozen lines, so no dependency: p-limit would do the same.
 * `fn` must not throw (each publish target turns its own failure into a result); if it does, the whole
 * map rejects.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
