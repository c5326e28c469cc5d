import { WIRE_LIMITS } from "../party/protocol/index.ts";

const BATCH_OPEN = '{"type":"batch","commands":[';
const BATCH_CLOSE = "]}";

/**
 * Packs serialised commands, in order, into as few frames as the protocol allows (PROTOCOL R17): one command
 * goes as itself; several go as `batch` frames of at most `maxCommandsPerFrame` commands and
 * `maxFrameBytes` UTF-8 bytes. Why: each inbound frame costs the room a runtime event, so a burst (or
 * the resend after a reconnect) of N commands in one frame costs it about what one command does.
 * The byte limit is exact: a batch the room refused as too large would leave every command in it
 * unanswered (frame_too_large names no command).
 */
export function packCommands(commands: readonly string[]): string[] {
  if (commands.length <= 1) return [...commands];
  const frames: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const close = () => {
    if (chunk.length === 1) frames.push(chunk[0]!);
    else if (chunk.length > 1) frames.push(BATCH_OPEN + chunk.join(",") + BATCH_CLOSE);
    chunk = [];
    bytes = 0;
  };
  for (const command of commands) {
    const size = utf8Length(command);
    const framed = BATCH_OPEN.length + BATCH_CLOSE.length + bytes + chunk.length + size; // commas between
    if (chunk.length > 0 && (chunk.length >= WIRE_LIMITS.maxCommandsPerFrame || framed > WIRE_LIMITS.maxFrameBytes)) close();
    chunk.push(command);
    bytes += size;
  }
  close();
  return frames;
}

/** UTF-8 byte length without encoding: a surrogate pair is 4 bytes, so 2 per half. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3;
  }
  return bytes;
}
