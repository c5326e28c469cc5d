/**
 * A deterministic, byte-for-byte snapshot of an object graph, for "a rejected command changes nothing".
 *
 * The pure cores (RoomCore, Membership, Moderation, ReadState, InboxCore) keep their state in private
 * fields, Maps and a sparse ring array; none exports its whole state. This walks every own enumerable
 * property (TypeScript `private` is compile-time only), so a refused command that bumps any counter,
 * touches any Map (even re-inserting the same entry, which moves it to the end), grows an array or fills
 * a hole of the ring shows up as a different string. Insertion order is kept on purpose: it is
 * observable (iteration order, `JSON.stringify` of a stored object).
 */
export function canonical(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set());
  return out.join("");
}

function write(value: unknown, out: string[], path: Set<object>): void {
  switch (typeof value) {
    case "undefined":
      out.push("undefined");
      return;
    case "number":
      out.push(Object.is(value, -0) ? "-0" : String(value));
      return;
    case "bigint":
      out.push(`${value}n`);
      return;
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(String(value));
      return;
    case "symbol":
      out.push(String(value));
      return;
    case "function":
      // Injected collaborators (the clock): their identity is not state.
      out.push(`fn:${(value as { name?: string }).name ?? ""}`);
      return;
  }
  if (value === null) {
    out.push("null");
    return;
  }
  const object = value as object;
  if (path.has(object)) {
    out.push("<cycle>");
    return;
  }
  path.add(object);
  if (Array.isArray(object)) {
    out.push("[");
    for (let i = 0; i < object.length; i++) {
      if (i > 0) out.push(",");
      if (i in object) write(object[i], out, path);
      else out.push("<hole>");
    }
    out.push("]");
  } else if (object instanceof Map) {
    out.push("Map{");
    let first = true;
    for (const [k, v] of object) {
      if (!first) out.push(",");
      first = false;
      write(k, out, path);
      out.push("=>");
      write(v, out, path);
    }
    out.push("}");
  } else if (object instanceof Set) {
    out.push("Set{");
    let first = true;
    for (const v of object) {
      if (!first) out.push(",");
      first = false;
      write(v, out, path);
    }
    out.push("}");
  } else {
    const name = object.constructor?.name ?? "null-proto";
    out.push(`${name}{`);
    let first = true;
    for (const key of Object.keys(object)) {
      if (!first) out.push(",");
      first = false;
      out.push(JSON.stringify(key), ":");
      write((object as Record<string, unknown>)[key], out, path);
    }
    out.push("}");
  }
  path.delete(object);
}
