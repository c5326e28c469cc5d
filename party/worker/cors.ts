/**
 * Cross-origin access to `/archive/search`, so an app served from its own origin can search from the
 * browser (the room and inbox need none: WebSockets are not subject to CORS). Any origin may ask: search is
 * authorised by a bearer token the app sends explicitly (header or `?token=`), never by a cookie, so a
 * page on another origin gains nothing it did not already hold (PROTOCOL R70).
 */
const ALLOW = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET",
  "access-control-allow-headers": "authorization",
  "access-control-max-age": "86400",
} as const;

/** The browser's preflight of a GET with an `Authorization` header. */
export function corsPreflight(): Response {
  return new Response(null, { status: 204, headers: ALLOW });
}

/** The same response, readable by any origin's script. */
export function withCors(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("access-control-allow-origin", "*");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
