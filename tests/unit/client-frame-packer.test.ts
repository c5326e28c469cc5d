/** packCommands (PROTOCOL R17): order kept, and no frame over the protocol's command or byte limits. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { packCommands, utf8Length } from "../../client/frame-packer.ts";
import { LIMITS } from "../../party/protocol/index.ts";

const command = (n: number, text: string) => JSON.stringify({ type: "send", clientId: `c${n}`, n, text });
const unpack = (frames: string[]) => frames.flatMap((frame) => {
  const parsed = JSON.parse(frame);
  return parsed.type === "batch" ? parsed.commands : [parsed];
});

test("one command goes as itself; several go as one batch", () => {
  assert.deepEqual(packCommands([]), []);
  assert.deepEqual(packCommands([command(1, "a")]), [command(1, "a")]);
  const frames = packCommands([command(1, "a"), command(2, "b")]);
  assert.equal(frames.length, 1);
  assert.deepEqual(JSON.parse(frames[0]!), { type: "batch", commands: [JSON.parse(command(1, "a")), JSON.parse(command(2, "b"))] });
});

test("random bursts: order kept, every frame within the count and UTF-8 byte limits", () => {
  const alphabet = ["a", "é", "既", "読", "😀", " "];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 200; round++) {
    const count = 1 + Math.floor(random() * 400);
    const commands = Array.from({ length: count }, (_, i) => {
      const length = random() < 0.1 ? 3000 + Math.floor(random() * 1000) : Math.floor(random() * 80);
      return command(i + 1, Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join(""));
    });
    const frames = packCommands(commands);
    assert.deepEqual(unpack(frames), commands.map((c) => JSON.parse(c)), "every command once, in order");
    for (const frame of frames) {
      assert.ok(new TextEncoder().encode(frame).length <= LIMITS.maxFrameBytes, "within maxFrameBytes");
      const parsed = JSON.parse(frame);
      if (parsed.type === "batch") assert.ok(parsed.commands.length >= 2 && parsed.commands.length <= LIMITS.maxCommandsPerFrame);
    }
  }
});

test("utf8Length equals the encoder's count", () => {
  for (const text of ["", "ascii", "é", "既読がつかない", "😀👍🏽", "mixed é 既 😀"]) assert.equal(utf8Length(text), new TextEncoder().encode(text).length, text);
});
