/**
 * Maps carried as plain JSON objects (a message's reaction counts, read positions by user) are keyed by what
 * users choose: an emoji, a user id. On a plain object, `counts["constructor"]` is Object's constructor and
 * `counts["__proto__"]` its prototype, not "no entry": a reaction `constructor` once stored a count of
 * `"function Object() { [native code] }1"` that no client could parse (PROTOCOL R20). Such maps are read only
 * through `ownValue`, and `__proto__`, the one key an assignment cannot store, is refused as an emoji or id.
 */
export function ownValue<V>(map: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}
