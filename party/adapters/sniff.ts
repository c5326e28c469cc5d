/**
 * What a file really is, from its first bytes (PROTOCOL R31): `file-type` reads the magic numbers of
 * hundreds of formats, `image-size` an image's dimensions from its header; both are maintained libraries,
 * pure JavaScript on bytes (no Node APIs: `file-type/core`, `image-size`'s buffer entry), so they run in workerd.
 * A declared type is never trusted: an executable named `.jpg` sniffs as an executable.
 */
import { fileTypeFromBuffer } from "file-type/core";
import { imageSize } from "image-size";
import { isImageType } from "../protocol/media.ts";

/** Enough of the start of a file for the signatures and an image header (JPEG's size can sit after EXIF). */
export const SNIFF_BYTES = 256 * 1024;

export type Sniffed = { type: string | undefined; width?: number; height?: number };

export async function sniff(start: Uint8Array): Promise<Sniffed> {
  // Bytes crafted to trip a parser are an unknown type (refused), never an error that would fail the command as `internal`.
  const found = await fileTypeFromBuffer(start).catch(() => undefined);
  if (!found) return { type: looksLikeText(start) ? "text/plain" : undefined };
  if (!isImageType(found.mime)) return { type: found.mime };
  try {
    const { width, height } = imageSize(start);
    return width && height ? { type: found.mime, width, height } : { type: found.mime };
  } catch {
    return { type: found.mime }; // a header cut short: the image is kept without dimensions
  }
}

/** Text has no signature: valid UTF-8 with no control bytes but tab, newline and carriage return. */
function looksLikeText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  for (const byte of bytes) if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  try {
    // `stream`: the start may cut a multi-byte character in two at its end, which is not an error.
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}
