// @ts-check
// Test support (kept outside test/ so Node's runner does not run it as a test file): a jsdom
// page, an in-memory stand-in for the crowdgate API behind `fetch`, and helpers to settle
// promises. These unit tests claim nothing end to end; the browser tests against the real
// service do.

import { JSDOM } from "jsdom";
import { install } from "../src/main.js";

export const BASE = "https://gate.example";
export const TEST_SITEKEY = "10000000-ffff-ffff-ffff-000000000001";

/** @typedef {"pass" | "fail" | { status: number, code: string } | "offline"} Outcome */

/**
 * An in-memory crowdgate API with the documented request and response shapes.
 * @param {{ compat?: string }} [options]
 */
export function fakeApi(options = {}) {
  let serial = 0;
  const api = {
    /** @type {{ url: string, init: any, body: any }[]} */
    requests: [],
    compat: options.compat || "",
    /** Whether challenges offer the accessible path. */
    alternative: true,
    /** @type {Outcome[]} Outcomes of the next answers, "pass" once exhausted. */
    answers: [],
    /** @type {Outcome | null} Outcome of every challenge request while set. */
    challengeFailure: null,
    /** When true, challenge requests wait until release() is called. */
    hold: false,
    release: () => {},
    challenge() {
      const id = `ch${++serial}`;
      return {
        challenge: id,
        prompt: "Select all images with 3",
        label: "3",
        grid: 9,
        cols: 3,
        // "<id>/<slot>" in base64: the widget's draw stand-in records what it painted
        tiles: Array.from({ length: 9 }, (_, i) => btoa(`${id}/${i}`)),
        expires_in: 600,
        compat: api.compat,
        alternative: api.alternative,
      };
    },
    /**
     * @param {string} url
     * @param {any} init
     * @returns {Promise<Response>}
     */
    async fetch(url, init) {
      const body = JSON.parse(init.body);
      api.requests.push({ url, init, body });
      const isChallenge = url === `${BASE}/api/v1/challenge`;
      if (url === `${BASE}/api/v1/alternative`) {
        if (!body.pow) return Response.json({ puzzle: "alt-puzzle", bits: 4, expires_in: 300 });
        const ok = body.pow.puzzle === "alt-puzzle" && body.pow.nonce === "solved";
        if (!ok) return Response.json({ code: "pow-invalid", message: "No." }, { status: 403 });
        return Response.json({ success: true, token: "alt-token", expires_in: 120 });
      }
      if (isChallenge && api.hold) {
        await new Promise((resolve) => {
          api.release = () => resolve(undefined);
        });
      }
      const outcome = isChallenge ? api.challengeFailure : api.answers.shift() || "pass";
      if (outcome === "offline") throw new TypeError("Failed to fetch");
      if (outcome && typeof outcome === "object") {
        const text = JSON.stringify({ code: outcome.code, message: "Stand-in error." });
        return new Response(text, { status: outcome.status });
      }
      if (isChallenge) return Response.json(api.challenge());
      if (outcome === "fail") {
        const next = api.challenge();
        return Response.json({ success: false, code: "answer-wrong", message: "Wrong.", next });
      }
      return Response.json({ success: true, token: `token-${serial}`, expires_in: 120 });
    },
  };
  return api;
}

/**
 * A jsdom page on https://shop.example with the widget installed from `scriptUrl`.
 * Timers go through Node's globals at call time so node:test's mock timers apply.
 * @param {{ html?: string, scriptUrl?: string, api?: ReturnType<typeof fakeApi>,
 *   languages?: string[], before?: (win: any) => void }} [options]
 */
export function page(options = {}) {
  const dom = new JSDOM(`<!doctype html><html><body>${options.html || ""}</body></html>`, {
    url: "https://shop.example/signup",
  });
  /** @type {any} */
  const win = dom.window;
  const api = options.api || fakeApi();
  win.fetch = api.fetch;
  // Unref'd so a pending token expiry does not keep the test process alive for two minutes.
  win.setTimeout = (/** @type {() => void} */ fn, /** @type {number} */ ms) => {
    const handle = setTimeout(fn, ms);
    if (handle && typeof handle.unref === "function") handle.unref();
    return handle;
  };
  win.clearTimeout = (/** @type {any} */ handle) => clearTimeout(handle);
  Object.defineProperty(win.navigator, "languages", { value: options.languages || ["en-US"] });
  // jsdom finishes "loading" asynchronously; tests that need that state redefine it in before().
  Object.defineProperty(win.document, "readyState", { value: "complete", configurable: true });
  // jsdom decodes no images: a stand-in bitmap says which tile it is, the canvas keeps it.
  win.Blob = Blob; // Node's, which can be read back (jsdom's has no text())
  win.createImageBitmap = async (/** @type {Blob} */ blob) => {
    const text = await blob.text();
    if (text === "broken") throw new Error("undecodable");
    return { width: 1, height: 1, text, close() {} };
  };
  win.HTMLCanvasElement.prototype.getContext = function () {
    const canvas = this;
    return { drawImage: (/** @type {any} */ bitmap) => (canvas.dataset.painted = bitmap.text) };
  };
  if (options.before) options.before(win);
  const script = win.document.createElement("script");
  script.src = options.scriptUrl || `${BASE}/widget.js`;
  win.document.head.append(script);
  const crowdgate = install(win, script);
  return { win, doc: win.document, api, crowdgate };
}

/** Let pending promise callbacks (fetch stand-in, JSON parsing) run. */
export async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The widget's shadow root inside a container.
 * @param {Element} container
 * @returns {ShadowRoot}
 */
export function shadowOf(container) {
  const host = container.querySelector("crowdgate-widget");
  if (!host || !host.shadowRoot) throw new Error("no widget rendered in this container");
  return host.shadowRoot;
}

/**
 * Shortcuts to the widget's controls.
 * @param {Element} container
 */
export function controls(container) {
  const root = shadowOf(container);
  /** @param {string} sel */
  const one = (sel) => /** @type {HTMLElement} */ (root.querySelector(sel));
  return {
    root,
    check: one(".cg-check"),
    panel: one(".cg-panel"),
    grid: one(".cg-grid"),
    prompt: one(".cg-prompt"),
    verify: one(".cg-verify"),
    reload: one(".cg-reload"),
    retry: one(".cg-retry"),
    status: one(".cg-status"),
    tiles: /** @type {HTMLElement[]} */ (Array.from(root.querySelectorAll(".cg-tile"))),
  };
}
