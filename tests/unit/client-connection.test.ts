/**
 * PROTOCOL R78: where the client's sockets go. Each attempt is one partysocket ReconnectingWebSocket
 * (`partysocket/ws`) at `ws(s)://host/parties/<party>/<room>?<query>`, built as PartySocket builds it, with
 * no `_pk` (PartyKit names each socket afresh); search and uploads reach the same host by the same rule.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Connection } from "../../client/connection.ts";
import { bareHost, httpOrigin, isLocalHost } from "../../client/hosts.ts";

/** A WebSocket class that records the URL partysocket opens and never connects. */
function recordingSocket(urls: string[]) {
  return class {
    binaryType = "blob";
    readyState = 0;
    constructor(url: string) {
      urls.push(url);
    }
    addEventListener(): void {}
    removeEventListener(): void {}
    close(): void {
      this.readyState = 3;
    }
  };
}

async function urlOf(host: string, protocol?: "ws" | "wss"): Promise<string> {
  const urls: string[] = [];
  const connection = new Connection(
    { host, room: "dm:alice:bob", party: "room", ...(protocol ? { protocol } : {}), WebSocket: recordingSocket(urls), query: async () => ({ token: "t.k=n", session: "s1", lastSeq: "7" }) },
    { onOpen() {}, onMessage() {}, onClose() {} },
  );
  for (let i = 0; i < 50 && urls.length === 0; i++) await new Promise((done) => setTimeout(done, 1));
  connection.close();
  assert.equal(urls.length, 1, "one socket per attempt");
  return urls[0]!;
}

test("PROTOCOL R78: a socket's URL names party, room and the attempt's query; ws for local hosts, wss elsewhere, no _pk", async () => {
  assert.equal(await urlOf("127.0.0.1:1999"), "ws://127.0.0.1:1999/parties/room/dm:alice:bob?token=t.k%3Dn&session=s1&lastSeq=7");
  assert.equal(await urlOf("chat.example.com"), "wss://chat.example.com/parties/room/dm:alice:bob?token=t.k%3Dn&session=s1&lastSeq=7");
  assert.equal(await urlOf("https://chat.example.com/"), "wss://chat.example.com/parties/room/dm:alice:bob?token=t.k%3Dn&session=s1&lastSeq=7");
  assert.equal(await urlOf("chat.example.com", "ws"), "ws://chat.example.com/parties/room/dm:alice:bob?token=t.k%3Dn&session=s1&lastSeq=7");
  assert.equal(await urlOf("127.0.0.1:1999", "wss"), "wss://127.0.0.1:1999/parties/room/dm:alice:bob?token=t.k%3Dn&session=s1&lastSeq=7");
});

test("PROTOCOL R78: local and private-network hosts as partysocket tells them; search and uploads use the socket's scheme", () => {
  for (const host of ["localhost:1999", "127.0.0.1:8080", "192.168.1.4", "10.0.0.2:1999", "172.16.0.1", "172.31.255.1", "[::ffff:7f00:1]:1999"]) assert.ok(isLocalHost(host), host);
  for (const host of ["chat.example.com", "172.32.0.1", "11.0.0.1", "localhost.example.com"]) assert.ok(!isLocalHost(host), host);
  assert.equal(bareHost("wss://chat.example.com/"), "chat.example.com");
  assert.equal(httpOrigin("127.0.0.1:1999"), "http://127.0.0.1:1999");
  assert.equal(httpOrigin("chat.example.com"), "https://chat.example.com");
  assert.equal(httpOrigin("http://127.0.0.1:1999", "wss"), "https://127.0.0.1:1999");
  assert.equal(httpOrigin("chat.example.com", "ws"), "http://chat.example.com");
});
