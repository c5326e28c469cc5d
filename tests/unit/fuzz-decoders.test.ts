/**
 * Property-based fuzzing of every frame decoder and HTTP body/query schema at the boundary (PROTOCOL I8, R11):
 * arbitrary input never makes a decoder throw; it is a parsed frame or a typed rejection (codes.ts).
 * The properties live in tests/fuzz/properties.ts (shared with `npm run fuzz`, scripts/fuzz-long.ts);
 * seeds are random, and fast-check prints the seed and the shrunk counterexample of a failure.
 */
import { test } from "node:test";
import { PROPERTIES, runProperty } from "../fuzz/properties.ts";

for (const property of PROPERTIES.filter((p) => p.group === "decoders")) {
  test(property.name, property.todo ? { todo: property.todo } : {}, () => runProperty(property));
}
