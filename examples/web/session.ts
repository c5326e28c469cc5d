/**
 * Who is signed in. The example takes a token minted elsewhere (`npm run token -- alice --chat` prints a
 * sign-in link); a real app gets it from its own backend. It stays in this tab (sessionStorage), so two tabs
 * can be two users, and a reload keeps you signed in.
 */
const KEY = "kaiwa-chat-token";

export type Session = { token: string; user: string };

/** The token from `#token=` (then removed from the address bar) or from this tab's storage. */
export function currentSession(): Session | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromHash = params.get("token");
  if (fromHash) {
    sessionStorage.setItem(KEY, fromHash);
    params.delete("token");
    history.replaceState(null, "", `${location.pathname}#${params}`);
  }
  const token = fromHash ?? sessionStorage.getItem(KEY);
  const user = token ? subjectOf(token) : undefined;
  return token && user ? { token, user } : undefined;
}

export function signIn(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/** The token's `sub` (the inbox to open). Not a check: the server verifies every token. */
function subjectOf(token: string): string | undefined {
  try {
    const payload = token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload)) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

/** The open conversation lives in the address (`#room=`), so a reload or a shared link reopens it. */
export const roomInAddress = () => new URLSearchParams(location.hash.slice(1)).get("room") ?? undefined;
export const putRoomInAddress = (room: string) => history.replaceState(null, "", `${location.pathname}#${new URLSearchParams({ room })}`);
