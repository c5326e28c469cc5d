/**
 * `npm run token -- alice [--name "Alice"] [--operator] [--ttl 1h] [--chat]`: prints a development token
 * signed with the same secret `npm run dev` gives the server; `--chat` prints a sign-in link to the example
 * chat app instead (examples/web/, at /chat/ on `npm run dev`, whose port `PORT` sets).
 */
import { parseArgs } from "node:util";
import { devSecret } from "./dev-secret.ts";
import { mintToken } from "./mint-token.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" }, operator: { type: "boolean", default: false }, ttl: { type: "string", default: "24h" }, chat: { type: "boolean", default: false } },
});
const userId = positionals[0];
if (!userId) {
  console.error('usage: npm run token -- <userId> [--name "Display Name"] [--operator] [--ttl 24h] [--chat]');
  process.exit(2);
}
const token = await mintToken(userId, {
  secret: devSecret(),
  expiresIn: values.ttl,
  ...(values.name ? { name: values.name } : {}),
  ...(values.operator ? { role: "operator" as const } : {}),
});
console.log(values.chat ? `http://127.0.0.1:${process.env.PORT ?? "1999"}/chat/#token=${token}` : token);
