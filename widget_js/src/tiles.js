// @ts-check
// Drawing the tiles that come inside the challenge response: base64 bytes are decoded and
// painted on a canvas, so no image is fetched and the host page's CSP needs no img-src for
// crowdgate (nor blob: or data:).

/** Code reported when a tile's bytes do not decode as an image in this browser. */
export const TILE_UNDECODABLE = "tile-undecodable";

/**
 * Return the bytes of a base64 string.
 * @param {(text: string) => string} atob The window's atob.
 * @param {string} text
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function fromBase64(atob, text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Name the image format of `bytes` from its signature, or "" when it is none of the three.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function sniffType(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return "image/png";
  }
  const tag = String.fromCharCode(...bytes.subarray(8, 12));
  if (String.fromCharCode(...bytes.subarray(0, 4)) === "RIFF" && tag === "WEBP") {
    return "image/webp";
  }
  return "";
}

/**
 * Decode `bytes` to something drawImage takes, and a function that frees it.
 * @param {Window & typeof globalThis} win
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @returns {Promise<{ image: CanvasImageSource, width: number, height: number,
 *   close: () => void }>}
 */
async function decode(win, bytes) {
  // ImageDecoder (WebCodecs) decodes from memory; createImageBitmap(Blob) first registers the
  // blob with the browser process and reads it back, which measured 3-5x slower for a grid
  // of small tiles on a busy 2-core machine (bench/RESULTS.md). Either way off the main thread.
  /** @type {any} */
  const Decoder = /** @type {any} */ (win).ImageDecoder;
  const type = sniffType(bytes);
  if (typeof Decoder === "function" && type) {
    const decoder = new Decoder({ data: bytes, type });
    try {
      const { image } = await decoder.decode();
      const close = () => {
        image.close();
        decoder.close();
      };
      return { image, width: image.displayWidth, height: image.displayHeight, close };
    } catch (exc) {
      // an unsupported type or a codec this build lacks: the bitmap path below may still work
      decoder.close();
    }
  }
  if (typeof win.createImageBitmap !== "function") throw new Error(TILE_UNDECODABLE);
  const bitmap = await win.createImageBitmap(new win.Blob([bytes]));
  return { image: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
}

/**
 * Decode one tile and paint it on `canvas` at its own size.
 * @param {Window & typeof globalThis} win
 * @param {HTMLCanvasElement} canvas
 * @param {string} tile Base64 image bytes (JPEG, WebP or PNG).
 * @returns {Promise<void>}
 */
export async function drawTile(win, canvas, tile) {
  const decoded = await decode(win, fromBase64(win.atob, tile));
  try {
    canvas.width = decoded.width;
    canvas.height = decoded.height;
    const context = canvas.getContext("2d");
    if (!context) throw new Error(TILE_UNDECODABLE);
    context.drawImage(decoded.image, 0, 0);
  } finally {
    decoded.close();
  }
}
