/**
 * Full-jitter exponential backoff (centrifuge-js utils.ts `backoff()`; AWS "Exponential Backoff And
 * Jitter"): delay = random() * min(cap, base * 2^attempt). Full jitter spreads retries over the whole window
 * (clients after a server restart, a room's inbox calls, the archive drain, push jobs) instead of in waves.
 * The one implementation: the client and every server-side retry use it. Runtime-free.
 */
export type BackoffOptions = {
  /** Ceiling of the first retry's window, in ms. With 250 the first retry comes within 0-250 ms. */
  baseMs?: number;
  /** Largest ceiling, in ms. */
  capMs?: number;
  /** A number in [0, 1); injectable for tests. */
  random?: () => number;
};

export const BACKOFF_DEFAULTS = { baseMs: 250, capMs: 10_000 } as const;

/** The delay before retry number `attempt` (0 for the first retry after a failure). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = Math.max(0, options.baseMs ?? BACKOFF_DEFAULTS.baseMs);
  const cap = Math.max(0, options.capMs ?? BACKOFF_DEFAULTS.capMs);
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, Math.floor(attempt));
  // 2 ** exponent becomes Infinity for huge attempts; min() then yields the cap, never NaN.
  const ceiling = Math.min(cap, base * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}
