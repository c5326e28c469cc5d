/** A cancellable timer, so timing logic can be driven by a fake clock in tests. */
export type Timer = { cancel(): void };
export type Schedule = (fn: () => void, ms: number) => Timer;

/** The platform's setTimeout (web standard: browsers, Node, Deno, Bun, workerd). */
export const realSchedule: Schedule = (fn, ms) => {
  const handle = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(handle) };
};
