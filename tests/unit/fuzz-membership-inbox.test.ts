/**
 * Property-based fuzzing of group membership (party/core/membership.ts: a refused decide() changes
 * nothing, the member count never exceeds the maximum) and of the inbox's pure state
 * (party/core/inbox-core.ts: late, repeated and reordered notifications). Properties in
 * tests/fuzz/properties.ts (shared with `npm run fuzz`); random seeds, printed by fast-check on failure.
 */
import { test } from "node:test";
import { PROPERTIES, runProperty } from "../fuzz/properties.ts";

for (const property of PROPERTIES.filter((p) => p.group === "membership" || p.group === "inbox-core")) {
  test(property.name, property.todo ? { todo: property.todo } : {}, () => runProperty(property));
}
