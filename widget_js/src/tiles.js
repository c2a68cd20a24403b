// @ts-check
// Drawing the tiles that come inside the challenge response: base64 bytes are decoded with
// createImageBitmap and painted on a canvas, so no image is fetched and the host page's CSP
// needs no img-src for crowdgate (nor blob: or data:).

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
 * Decode one tile and paint it on `canvas` at its own size.
 * @param {Window & typeof globalThis} win
 * @param {HTMLCanvasElement} canvas
 * @param {string} tile Base64 image bytes (WebP or PNG; the browser sniffs the format).
 * @returns {Promise<void>}
 */
export async function drawTile(win, canvas, tile) {
  if (typeof win.createImageBitmap !== "function") throw new Error(TILE_UNDECODABLE);
  const bitmap = await win.createImageBitmap(new win.Blob([fromBase64(win.atob, tile)]));
  try {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext("2d");
    if (!context) throw new Error(TILE_UNDECODABLE);
    context.drawImage(bitmap, 0, 0);
  } finally {
    bitmap.close();
  }
}
