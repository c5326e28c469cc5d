/**
 * A TCP proxy in front of a server whose connections a test can cut (dropped with no close frame, as a lost
 * network drops them) and whose port refuses connections until healed: a cut a browser page cannot fake.
 */
import { connect, createServer, type Socket } from "node:net";

export class CutProxy {
  port = 0;
  private readonly server = createServer((client) => this.pipe(client));
  private readonly clients = new Set<Socket>();
  private refusing = false;

  constructor(private readonly upstreamPort: number) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Client connections open now (one per WebSocket). */
  get open(): number {
    return this.clients.size;
  }

  async start(): Promise<void> {
    await new Promise<void>((done, fail) => {
      this.server.once("error", fail);
      this.server.listen(0, "127.0.0.1", () => done());
    });
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  /** Drops every connection and refuses new ones until `heal()`. */
  cut(): void {
    this.refusing = true;
    for (const socket of this.clients) socket.destroy();
  }

  heal(): void {
    this.refusing = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((done) => this.server.close(() => done(undefined)));
  }

  private pipe(client: Socket): void {
    if (this.refusing) return void client.destroy();
    const upstream = connect(this.upstreamPort, "127.0.0.1");
    this.clients.add(client);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      this.clients.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
  }
}
