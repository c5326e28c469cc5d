/**
 * Ports for the servers that tests and the bench start.
 *
 * Chosen outside the OS's ephemeral range, because a port taken from it (listen on 0, close, hand the
 * number to the server) can be handed out again before the server binds it: `partykit dev` binds
 * miniflare's loopback server to port 0 on 0.0.0.0 just before workerd binds ours. Seen after the full
 * bench's 18,500-socket step, which leaves ~38,000 client sockets in TIME_WAIT and few ephemeral ports
 * free: partykit's Node process listened on kaiwa's port, and workerd failed with "Address already in
 * use" on it.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Below the ephemeral range and above the ports services usually claim. */
const LOWEST = 10_000;

/** `random`: for tests, to aim the first pick at a port they hold. */
export async function freePort(random: () => number = Math.random): Promise<number> {
  const range = pickRange();
  if (range) {
    const [low, high] = range;
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = low + Math.floor(random() * (high - low));
      if ((await listenOnce(port)) !== undefined) return port;
    }
  }
  const port = await listenOnce(0);
  if (port === undefined) throw new Error("no free port");
  return port;
}

/**
 * [low, high) that freePort picks from: from LOWEST up to Linux's ephemeral range. Undefined where the
 * range is unknown (not Linux) or starts too low to leave room: freePort then takes the OS's pick.
 */
export function pickRange(): [number, number] | undefined {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? [LOWEST, low] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Listens on the port and closes again: the port, or undefined if it is taken. On 0.0.0.0, as
 * `partykit dev` binds: a port free on 127.0.0.1 can still be held on 127.0.0.2-4 (the bench's client
 * addresses), and workerd could not bind it.
 */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, "0.0.0.0", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : undefined));
    });
  });
}
