// @ts-check
// Proof of work for sites that ask for it: find a nonce such that SHA-256(puzzle + ":" + nonce)
// starts with `bits` zero bits (about 2^bits hashes). Hashes run in batches with a pause
// between them, so the page keeps answering input while a puzzle is solved.

import { ApiError } from "./api.js";

/** Code reported when the page cannot hash: crypto.subtle exists only in secure contexts. */
export const POW_UNSUPPORTED = "pow-unsupported";

/** Code reported when no nonce below the search limit solved the puzzle. */
export const POW_UNSOLVED = "pow-unsolved";

/** Code reported when the solve was abandoned (the widget was reset or closed). */
export const POW_CANCELLED = "pow-cancelled";

/** Hashes started together before the solver pauses: about one frame at ~125k hashes/s. */
const BATCH = 2048;
/** Nonces tried before giving up: 2^32, far beyond the 24 bits a site may ask. */
const LIMIT = 2 ** 32;

/** @typedef {Pick<SubtleCrypto, "digest">} Hasher */

/**
 * Count the leading zero bits of a digest.
 * @param {Uint8Array} bytes
 * @returns {number}
 */
export function zeroBits(bytes) {
  let n = 0;
  for (const byte of bytes) {
    if (byte !== 0) return n + Math.clz32(byte) - 24;
    n += 8;
  }
  return n;
}

/**
 * Solve a puzzle from the server.
 * @param {import("./api.js").Puzzle} puzzle Puzzle and bits from a pow-* error.
 * @param {{ subtle: Hasher | undefined, pause: () => Promise<void>, cancelled?: () => boolean,
 *   batch?: number }} env `subtle` is the window's crypto.subtle; `pause` yields to the page.
 * @returns {Promise<import("./api.js").Proof>}
 */
export async function solvePuzzle(puzzle, env) {
  const subtle = env.subtle;
  if (!subtle || typeof subtle.digest !== "function") {
    throw new ApiError(POW_UNSUPPORTED, "crypto.subtle is missing; serve the page over HTTPS.", 0);
  }
  const batch = env.batch || BATCH;
  const encoder = new TextEncoder();
  const prefix = puzzle.puzzle + ":";
  for (let start = 0; start < LIMIT; start += batch) {
    /** @type {string[]} */
    const nonces = [];
    for (let i = start; i < start + batch; i++) nonces.push(i.toString(36));
    const digests = await Promise.all(
      nonces.map((nonce) => subtle.digest("SHA-256", encoder.encode(prefix + nonce))),
    );
    for (let i = 0; i < batch; i++) {
      if (zeroBits(new Uint8Array(digests[i])) >= puzzle.bits) {
        return { puzzle: puzzle.puzzle, nonce: nonces[i] };
      }
    }
    await env.pause();
    if (env.cancelled && env.cancelled()) {
      throw new ApiError(POW_CANCELLED, "The proof of work was abandoned.", 0);
    }
  }
  throw new ApiError(POW_UNSOLVED, "No nonce solved the puzzle.", 0);
}
