/**
 * Where a kaiwa host is reached. Local and private-network hosts over plain `ws://` and `http://` unless the
 * app says otherwise, the rule partysocket applies (its `getPartyInfo`); shared by the socket, search and
 * uploads so all three reach the same place.
 */
export function isLocalHost(host: string): boolean {
  return /^(localhost:|127\.0\.0\.1:|192\.168\.|10\.|172\.(1[6-9]|2\d|3[01])\.|\[::ffff:7f00:1\]:)/.test(host);
}

/** The host without a scheme or trailing slash, which partysocket tolerates in `host` too. */
export function bareHost(host: string): string {
  return host.replace(/^(https?|wss?):\/\//, "").replace(/\/$/, "");
}

/** `http(s)://host` of the socket that `protocol` (or the local-host rule) picks. */
export function httpOrigin(host: string, protocol?: "ws" | "wss"): string {
  const bare = bareHost(host);
  return `${(protocol ?? (isLocalHost(bare) ? "ws" : "wss")) === "wss" ? "https" : "http"}://${bare}`;
}
