/**
 * The few workerd globals party/ uses, declared here so the project type-checks with DOM + Node lib
 * types (pulling in all of @cloudflare/workers-types as globals would clash with the DOM lib).
 */
declare const WebSocketPair: { new (): { 0: WebSocket & { accept(): void }; 1: WebSocket & { accept(): void } } };
interface ResponseInit {
  webSocket?: WebSocket | null;
}
