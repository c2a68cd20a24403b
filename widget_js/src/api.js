// @ts-check
// HTTP client for the crowdgate public API. Requests are CORS "simple requests" (text/plain body,
// no custom headers) so no preflight is needed, and they never carry cookies.

/**
 * One challenge as served by `POST /api/v1/challenge`.
 * @typedef {{
 *   challenge: string,
 *   prompt: string,
 *   label: string,
 *   grid: number,
 *   cols: number,
 *   tiles: string[],
 *   expires_in: number,
 *   compat: "" | "recaptcha" | "hcaptcha",
 *   alternative: boolean,
 * }} Challenge
 */

/** A token won on either path. @typedef {{ success: true, token: string, expires_in: number }} Pass */

/**
 * Outcome of an answer: a token on a pass, the next challenge on a fail.
 * @typedef {{ success: true, token: string, expires_in: number }
 *   | { success: false, code: string, message: string, next: Challenge }} Verdict
 */

/**
 * A proof-of-work puzzle handed out with a pow-* error by sites that ask for one.
 * @typedef {{ puzzle: string, bits: number }} Puzzle
 */

/**
 * A solved puzzle, sent back with the next challenge request.
 * @typedef {{ puzzle: string, nonce: string }} Proof
 */

/** @typedef {(url: string, init: RequestInit) => Promise<Response>} FetchLike */

/** Code used when the network itself failed (the widget shows its offline state). */
export const OFFLINE = "network-error";

/** Code used when the server answered with something that is not the documented JSON. */
export const BAD_RESPONSE = "bad-response";

/** Standard base64, as the server encodes each tile's bytes. */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export class ApiError extends Error {
  /**
   * @param {string} code Stable machine-readable code from the server, or OFFLINE/BAD_RESPONSE.
   * @param {string} message Human text, for developers only.
   * @param {number} status HTTP status, 0 when the network failed.
   * @param {Puzzle | null} [pow] A fresh puzzle, when the server asks for proof of work.
   */
  constructor(code, message, status, pow = null) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.pow = pow;
  }
}

/**
 * Check a challenge object from the server; its tiles are base64 image bytes, in slot order.
 * @param {unknown} raw
 * @returns {Challenge}
 */
export function parseChallenge(raw) {
  const c = /** @type {Record<string, any>} */ (raw && typeof raw === "object" ? raw : {});
  const tiles = Array.isArray(c.tiles) ? c.tiles : [];
  const grid = Number(c.grid) || tiles.length;
  const cols = Math.max(1, Math.min(6, Math.floor(Number(c.cols)) || 3));
  if (typeof c.challenge !== "string" || !c.challenge || tiles.length !== grid || grid < 1) {
    throw new ApiError(BAD_RESPONSE, "The challenge response is missing fields.", 200);
  }
  if (!tiles.every((t) => typeof t === "string" && BASE64.test(t))) {
    throw new ApiError(BAD_RESPONSE, "A challenge tile is not base64 image data.", 200);
  }
  const compat = c.compat === "recaptcha" || c.compat === "hcaptcha" ? c.compat : "";
  return {
    challenge: c.challenge,
    prompt: typeof c.prompt === "string" ? c.prompt : "",
    label: typeof c.label === "string" ? c.label : "",
    grid,
    cols,
    tiles,
    expires_in: Number(c.expires_in) > 0 ? Number(c.expires_in) : 600,
    compat,
    alternative: c.alternative === true,
  };
}

/**
 * Return the puzzle of a pow-* error body, or null when it has none (or a malformed one).
 * @param {unknown} raw
 * @returns {Puzzle | null}
 */
export function parsePuzzle(raw) {
  const p = /** @type {Record<string, any>} */ (raw && typeof raw === "object" ? raw : {});
  const bits = Number(p.bits);
  const ok = typeof p.puzzle === "string" && p.puzzle && Number.isInteger(bits);
  return ok && bits >= 1 && bits <= 32 ? { puzzle: p.puzzle, bits } : null;
}

/**
 * Check a pass from the server: a token and its lifetime.
 * @param {Record<string, any>} data
 * @returns {Pass}
 */
function parsePass(data) {
  if (data.success === true && typeof data.token === "string" && data.token) {
    const ttl = Number(data.expires_in) > 0 ? Number(data.expires_in) : 120;
    return { success: true, token: data.token, expires_in: ttl };
  }
  throw new ApiError(BAD_RESPONSE, "The pass response is missing fields.", 200);
}

/**
 * Make an API client bound to one crowdgate base URL.
 * @param {string} base Base URL without a trailing slash, e.g. "https://gate.example".
 * @param {FetchLike} fetchFn The window's fetch.
 */
export function createClient(base, fetchFn) {
  /**
   * @param {string} path
   * @param {object} body
   * @returns {Promise<Record<string, any>>}
   */
  async function post(path, body) {
    /** @type {Response} */
    let res;
    try {
      res = await fetchFn(base + path, {
        method: "POST",
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        body: JSON.stringify(body),
        credentials: "omit",
        mode: "cors",
        cache: "no-store",
        referrerPolicy: "strict-origin",
      });
    } catch (exc) {
      throw new ApiError(OFFLINE, "The network request failed.", 0);
    }
    /** @type {any} */
    let data = null;
    try {
      data = await res.json();
    } catch (exc) {
      data = null;
    }
    if (!res.ok) {
      const code = data && typeof data.code === "string" ? data.code : "http-" + res.status;
      const message = data && typeof data.message === "string" ? data.message : res.statusText;
      throw new ApiError(code, message, res.status, parsePuzzle(data && data.pow));
    }
    if (!data || typeof data !== "object") {
      throw new ApiError(BAD_RESPONSE, "The server did not answer with JSON.", res.status);
    }
    return data;
  }

  return {
    /**
     * Ask for a fresh challenge.
     * @param {string} sitekey
     * @param {string} hostname
     * @param {Proof} [pow] A solved puzzle, for sites that ask for proof of work.
     * @returns {Promise<Challenge>}
     */
    async challenge(sitekey, hostname, pow) {
      const body = pow ? { sitekey, hostname, pow } : { sitekey, hostname };
      return parseChallenge(await post("/api/v1/challenge", body));
    },

    /**
     * Ask for the accessible path's puzzle (a pass without images).
     * @param {string} sitekey
     * @param {string} hostname
     * @returns {Promise<Puzzle>}
     */
    async alternativePuzzle(sitekey, hostname) {
      const puzzle = parsePuzzle(await post("/api/v1/alternative", { sitekey, hostname }));
      if (!puzzle) throw new ApiError(BAD_RESPONSE, "The puzzle response is missing fields.", 200);
      return puzzle;
    },

    /**
     * Redeem a solved accessible-path puzzle for a token.
     * @param {string} sitekey
     * @param {string} hostname
     * @param {Proof} pow
     * @returns {Promise<Pass>}
     */
    async alternativePass(sitekey, hostname, pow) {
      return parsePass(await post("/api/v1/alternative", { sitekey, hostname, pow }));
    },

    /**
     * Submit the selected slot indexes.
     * @param {string} id Challenge id.
     * @param {number[]} selected Slot indexes, ascending.
     * @returns {Promise<Verdict>}
     */
    async answer(id, selected) {
      const path = "/api/v1/challenge/" + encodeURIComponent(id) + "/answer";
      const data = await post(path, { selected });
      if (data.success === true) return parsePass(data);
      if (data.success === false) {
        return {
          success: false,
          code: typeof data.code === "string" ? data.code : "answer-wrong",
          message: typeof data.message === "string" ? data.message : "",
          next: parseChallenge(data.next),
        };
      }
      throw new ApiError(BAD_RESPONSE, "The answer response is missing fields.", 200);
    },
  };
}

/** @typedef {ReturnType<typeof createClient>} Client */
