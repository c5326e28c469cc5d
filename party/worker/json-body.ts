/** What the worker's JSON routes (admin API, publish API) share: reading a bounded body and naming a refusal. */

/** JSON text to a value; anything else (no body, not UTF-8 JSON) is undefined, which the schema refuses. */
export function parseJson(raw: Uint8Array | null): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return undefined;
  }
}

/** The first issue of a refused body or query, as `field.path: message` (`whole` names the root). */
export function describeIssue(error: { issues: Array<{ path: PropertyKey[]; message: string }> }, whole: "input" | "body"): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.map(String).join(".") || whole}: ${issue.message}` : `Invalid ${whole}.`;
}
