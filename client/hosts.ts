/**
 * The hosts reached over plain `ws://` and `http://` unless the app says otherwise: localhost and private
 * networks, the rule partysocket applies (its `getPartyInfo`), shared by the socket, search and uploads.
 */
export function isLocalHost(host: string): boolean {
  return /^(localhost:|127\.0\.0\.1:|192\.168\.|10\.|172\.(1[6-9]|2\d|3[01])\.|\[::ffff:7f00:1\]:)/.test(host);
}
