// @ts-check
// Entry: reads the script tag, auto-renders containers, exposes the `crowdgate` global (and, in
// compatibility mode, a `grecaptcha`- or `hcaptcha`-shaped one), and wires each widget's machine,
// view, hidden inputs, callbacks and DOM events. The bundle calls install(window, currentScript).

import { createClient } from "./api.js";
import { createView } from "./dom.js";
import { pickLang } from "./i18n.js";
import { createMachine } from "./machine.js";
import { solvePuzzle } from "./pow.js";
import { drawTile } from "./tiles.js";

export const VERSION = "0.1.0";

const MARK = Symbol.for("crowdgate.api");
const SCRIPT_PATH = /\/(widget\.js|recaptcha\/api\.js)$/;
const RESERVED = new Set(["__proto__", "prototype", "constructor"]);

/** Hidden input names written in each compatibility mode (hCaptcha also writes reCAPTCHA's). */
export const INPUT_NAMES = {
  "": ["crowdgate-response"],
  recaptcha: ["crowdgate-response", "g-recaptcha-response"],
  hcaptcha: ["crowdgate-response", "h-captcha-response", "g-recaptcha-response"],
};

/** @typedef {"" | "recaptcha" | "hcaptcha"} Compat */

/**
 * What the script tag asks for.
 * @typedef {{ base: string, compat: Compat, onload: string, explicit: boolean, lang: string,
 *   nonce: string }} ScriptConfig
 */

/**
 * Options of `crowdgate.render`; each falls back to the container's `data-*` attribute.
 * @typedef {{
 *   sitekey?: string, theme?: string, size?: string, lang?: string, hl?: string, nonce?: string,
 *   callback?: string | Function, "expired-callback"?: string | Function,
 *   "error-callback"?: string | Function, expiredCallback?: string | Function,
 *   errorCallback?: string | Function,
 * }} RenderOptions
 */

/**
 * Parse the widget's own script URL.
 * @param {string} src Absolute URL the script was loaded from.
 * @param {string} nonce The script element's nonce, reused for the style fallback.
 * @returns {ScriptConfig}
 */
export function readScript(src, nonce) {
  const url = new URL(src);
  const match = url.pathname.match(SCRIPT_PATH);
  const prefix = match ? url.pathname.slice(0, match.index) : "";
  const asked = url.searchParams.get("compat");
  /** @type {Compat} */
  let compat = "";
  if (asked === "recaptcha" || asked === "hcaptcha") compat = asked;
  else if (match && match[1] === "recaptcha/api.js") compat = "recaptcha";
  return {
    base: url.origin + prefix,
    compat,
    onload: url.searchParams.get("onload") || "",
    explicit: url.searchParams.get("render") === "explicit",
    lang: url.searchParams.get("hl") || url.searchParams.get("lang") || "",
    nonce,
  };
}

/**
 * Resolve a callback given as a function or as the dotted name of a global; never evaluates.
 * @param {object} win
 * @param {unknown} ref
 * @returns {Function | null}
 */
export function resolveCallback(win, ref) {
  if (typeof ref === "function") return ref;
  if (typeof ref !== "string" || !ref) return null;
  /** @type {any} */
  let value = win;
  for (const part of ref.split(".")) {
    if (!/^[A-Za-z_$][\w$]*$/.test(part) || RESERVED.has(part)) return null;
    if (value === null || (typeof value !== "object" && typeof value !== "function")) return null;
    value = value[part];
  }
  return typeof value === "function" ? value : null;
}

/**
 * Find the script element when document.currentScript is unavailable.
 * @param {Document} doc
 * @returns {HTMLScriptElement | null}
 */
function findScript(doc) {
  const all = Array.from(doc.getElementsByTagName("script"));
  const ours = (/** @type {HTMLScriptElement} */ s) => SCRIPT_PATH.test(s.src.split("?")[0]);
  return all.reverse().find(ours) || null;
}

/**
 * Install crowdgate in a window: the global API, implicit render and the onload callback.
 * @param {Window & typeof globalThis} win
 * @param {HTMLScriptElement | SVGScriptElement | null} current document.currentScript at load.
 */
export function install(win, current) {
  const doc = win.document;
  const script = current instanceof win.HTMLScriptElement ? current : findScript(doc);
  const src = script ? script.src : win.location.href;
  const config = readScript(src, (script && script.nonce) || "");
  /** @param {unknown} exc */
  const report = (exc) => (win.reportError ? win.reportError(exc) : win.console.error(exc));
  /** @param {unknown} ref @param {...unknown} args */
  const call = (ref, ...args) => {
    const fn = resolveCallback(win, ref);
    if (!fn) return;
    try {
      fn(...args);
    } catch (exc) {
      report(exc);
    }
  };

  /** @type {any} */
  const existing = /** @type {any} */ (win).crowdgate;
  if (existing && existing[MARK]) {
    call(config.onload);
    return existing;
  }

  const client = createClient(config.base, (url, init) => win.fetch(url, init));
  /** @type {Map<number, ReturnType<typeof mount>>} */
  const widgets = new Map();
  /** @type {WeakMap<Element, number>} */
  const bound = new WeakMap();
  let nextId = 0;

  /**
   * @param {HTMLElement} el
   * @param {RenderOptions} options
   * @param {number} id
   */
  function mount(el, options, id) {
    const data = el.dataset;
    const sitekey = String(options.sitekey || data.sitekey || "");
    if (!sitekey) {
      throw new Error("crowdgate.render: the container has no sitekey; add data-sitekey.");
    }
    const theme = pick(options.theme || data.theme, ["light", "dark", "auto"]);
    const size = pick(options.size || data.size, ["normal", "compact"]);
    const nav = win.navigator;
    const lang = pickLang([
      options.lang || options.hl || data.lang || data.hl,
      config.lang,
      ...(nav.languages || []),
      nav.language,
    ]);
    const callbacks = {
      verified: options.callback || data.callback,
      expired: options["expired-callback"] || options.expiredCallback || data.expiredCallback,
      error: options["error-callback"] || options.errorCallback || data.errorCallback,
    };
    /** @type {Map<string, HTMLInputElement>} */
    const inputs = new Map();
    /** @type {{ resolve: (token: string) => void, reject: (exc: Error) => void }[]} */
    let waiters = [];

    /** @param {string} compat */
    const addInputs = (compat) => {
      for (const name of INPUT_NAMES[/** @type {Compat} */ (compat)] || []) {
        if (inputs.has(name)) continue;
        const input = doc.createElement("input");
        input.type = "hidden";
        input.name = name;
        if (name !== "crowdgate-response") input.id = id === 0 ? name : `${name}-${id}`;
        el.appendChild(input);
        inputs.set(name, input);
      }
    };
    /** @param {string} token */
    const fill = (token) => inputs.forEach((input) => (input.value = token));
    /** @param {string} type @param {object} detail */
    const emit = (type, detail) =>
      el.dispatchEvent(new win.CustomEvent(type, { bubbles: true, detail }));

    addInputs("");
    addInputs(config.compat);
    const host = /** @type {HTMLElement} */ (doc.createElement("crowdgate-widget"));
    el.appendChild(host);

    /** @type {import("./dom.js").View | null} */
    let view = null;
    const machine = createMachine({
      client,
      sitekey,
      hostname: win.location.hostname,
      timers: {
        setTimeout: (fn, ms) => win.setTimeout(fn, ms),
        clearTimeout: (handle) => win.clearTimeout(handle),
      },
      onChange: (state) => view && view.update(state),
      onCompat: addInputs,
      solve: (puzzle, cancelled) =>
        solvePuzzle(puzzle, {
          subtle: win.isSecureContext && win.crypto ? win.crypto.subtle : undefined,
          pause: () => new Promise((resume) => win.setTimeout(resume, 0)),
          cancelled,
        }),
      onVerified(token) {
        fill(token);
        call(callbacks.verified, token);
        emit("crowdgate:verified", { response: token });
        waiters.forEach((w) => w.resolve(token));
        waiters = [];
      },
      onExpired() {
        fill("");
        call(callbacks.expired);
        emit("crowdgate:expired", {});
      },
      onError(code) {
        call(callbacks.error, code);
        emit("crowdgate:error", { code });
        waiters.forEach((w) => w.reject(new Error(`crowdgate: ${code}`)));
        waiters = [];
      },
    });
    view = createView(host, {
      lang,
      theme: /** @type {"light" | "dark" | "auto"} */ (theme),
      size: /** @type {"normal" | "compact"} */ (size),
      nonce: String(options.nonce || data.nonce || config.nonce || ""),
      intents: {
        open: () => machine.open(),
        toggle: (i) => machine.toggle(i),
        verify: () => machine.verify(),
        reload: () => machine.reload(),
        close: () => machine.close(),
        fault: (code) => machine.fault(code),
        alternative: () => machine.alternative(),
      },
      draw: (canvas, tile) => drawTile(win, canvas, tile),
    });
    view.update(machine.state);

    return {
      id,
      el,
      machine,
      /** @param {boolean} async */
      execute(async) {
        machine.open();
        if (!async) return undefined;
        const token = machine.state.token;
        if (token) return Promise.resolve(token);
        return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
      },
      reset() {
        machine.reset();
        fill("");
      },
      remove() {
        machine.reset();
        waiters.forEach((w) => w.reject(new Error("crowdgate: widget removed")));
        waiters = [];
        if (view) view.destroy();
        host.remove();
        inputs.forEach((input) => input.remove());
      },
    };
  }

  /**
   * @param {unknown} value
   * @param {string[]} allowed First entry is the default.
   */
  function pick(value, allowed) {
    return typeof value === "string" && allowed.includes(value) ? value : allowed[0];
  }

  /** @param {number | string | undefined} id */
  function widget(id) {
    const key = id === undefined || id === null ? widgets.keys().next().value : Number(id);
    const found = key === undefined ? undefined : widgets.get(key);
    if (!found) {
      throw new Error(`crowdgate: no widget with id ${id}; use an id crowdgate.render() returned.`);
    }
    return found;
  }

  const api = {
    version: VERSION,
    /**
     * Render a widget in a container (element or element id) and return its id.
     * @param {string | HTMLElement} target
     * @param {RenderOptions} [options]
     * @returns {number}
     */
    render(target, options) {
      const el = typeof target === "string" ? doc.getElementById(target) : target;
      if (!el || el.nodeType !== 1) {
        throw new Error(`crowdgate.render: no element ${String(target)}; pass an element or id.`);
      }
      const known = bound.get(el);
      if (known !== undefined && widgets.has(known)) return known;
      const id = nextId++;
      widgets.set(id, mount(/** @type {HTMLElement} */ (el), options || {}, id));
      bound.set(el, id);
      return id;
    },
    /** @param {number} [id] @returns {string} The current token, "" when none. */
    getResponse: (id) => widget(id).machine.state.token,
    /** @param {number} [id] */
    reset: (id) => widget(id).reset(),
    /** @param {number} [id] */
    remove(id) {
      const w = widget(id);
      w.remove();
      widgets.delete(w.id);
      bound.delete(w.el);
    },
    /**
     * Open the challenge; with `{ async: true }` return a promise of the token.
     * @param {number} [id]
     * @param {{ async?: boolean }} [options]
     */
    execute: (id, options) => widget(id).execute(!!(options && options.async)),
    /** @param {() => void} fn Called once the API is ready (it already is). */
    ready: (fn) => void Promise.resolve().then(() => call(fn)),
  };
  Object.defineProperty(api, MARK, { value: true });

  function renderAll() {
    const selectors = [".crowdgate[data-sitekey]"];
    if (config.compat === "recaptcha") selectors.push(".g-recaptcha[data-sitekey]");
    if (config.compat === "hcaptcha") selectors.push(".h-captcha[data-sitekey]");
    for (const el of Array.from(doc.querySelectorAll(selectors.join(",")))) {
      try {
        api.render(/** @type {HTMLElement} */ (el));
      } catch (exc) {
        report(exc);
      }
    }
  }

  const target = /** @type {any} */ (win);
  target.crowdgate = api;
  const alias = config.compat === "recaptcha" ? "grecaptcha" : config.compat && "hcaptcha";
  // Replace a pre-declared stub (`window.grecaptcha = {ready: ...}`) but never a real client.
  if (alias && !(target[alias] && typeof target[alias].render === "function")) {
    target[alias] = api;
  }

  const start = () => {
    if (!config.explicit) renderAll();
    call(config.onload);
  };
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
  return api;
}
