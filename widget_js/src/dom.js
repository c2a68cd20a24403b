// @ts-check
// DOM rendering: builds the widget once inside an open shadow root and updates it from machine
// states. Server text only ever reaches the page through textContent and attributes; tiles are
// painted on canvases by `draw`.

import { translate } from "./i18n.js";
import { applyStyles } from "./style.js";
import { TILE_UNDECODABLE } from "./tiles.js";

/**
 * @typedef {{
 *   open: () => void,
 *   toggle: (index: number) => void,
 *   verify: () => void,
 *   reload: () => void,
 *   close: () => void,
 *   fault: (code: string) => void,
 *   alternative: () => void,
 * }} Intents
 */

/**
 * @typedef {{
 *   lang: import("./i18n.js").Lang,
 *   theme: "light" | "dark" | "auto",
 *   size: "normal" | "compact",
 *   nonce: string,
 *   intents: Intents,
 *   draw: (canvas: HTMLCanvasElement, tile: string) => Promise<void>,
 * }} ViewOptions
 */

const BUSY = ["loading", "solving", "verifying", "alternative"];
const MOVES = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);

/**
 * Create an element with classes and attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {Document} doc
 * @param {K} tag
 * @param {string} className
 * @param {Record<string, string>} [attrs]
 * @returns {HTMLElementTagNameMap[K]}
 */
function make(doc, tag, className, attrs) {
  const el = doc.createElement(tag);
  if (className) el.className = className;
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
  return el;
}

/**
 * Mount the widget UI in `host`'s shadow root.
 * @param {HTMLElement} host A fresh element owned by the widget.
 * @param {ViewOptions} options
 */
export function createView(host, options) {
  const doc = host.ownerDocument;
  const { lang, intents } = options;
  /** @param {keyof import("./i18n.js").Strings} key @param {Record<string, string|number>} [v] */
  const t = (key, v) => translate(lang, key, v);

  const root = host.attachShadow({ mode: "open" });
  applyStyles(root, options.nonce);

  const box = make(doc, "div", `cg cg-${options.theme} cg-${options.size}`, { lang });
  const row = make(doc, "div", "cg-row");
  const check = make(doc, "button", "cg-check", {
    type: "button",
    role: "checkbox",
    "aria-checked": "false",
    "aria-describedby": "cg-status",
  });
  const tick = make(doc, "span", "cg-box", { "aria-hidden": "true" });
  const checkLabel = make(doc, "span", "cg-label");
  check.append(tick, checkLabel);
  const brand = make(doc, "span", "cg-brand");
  brand.textContent = t("brand");
  row.append(check, brand);

  const panel = make(doc, "div", "cg-panel");
  panel.hidden = true;
  const prompt = make(doc, "p", "cg-prompt", { id: "cg-prompt" });
  const grid = make(doc, "div", "cg-grid", {
    role: "group",
    "aria-labelledby": "cg-prompt",
    "aria-busy": "false",
  });
  // Read with the grid by screen readers, shown to nobody: where the path without images is.
  const hint = make(doc, "p", "cg-sr", { id: "cg-alt-hint" });
  hint.textContent = t("alternativeHint");
  const actions = make(doc, "div", "cg-actions");
  const reload = make(doc, "button", "cg-btn cg-reload", { type: "button" });
  reload.textContent = t("reload");
  const verify = make(doc, "button", "cg-btn cg-primary cg-verify", { type: "button" });
  verify.textContent = t("verify");
  // After Verify, so Tab from the tiles still reaches New challenge, then Verify.
  const alt = make(doc, "button", "cg-btn cg-alt", { type: "button" });
  alt.textContent = t("alternative");
  actions.append(reload, verify, alt);
  panel.append(prompt, hint, grid, actions);

  const status = make(doc, "div", "cg-status", {
    id: "cg-status",
    role: "status",
    "aria-live": "polite",
  });
  const message = make(doc, "span", "cg-msg");
  const code = make(doc, "span", "cg-code");
  status.append(message, code);
  const retry = make(doc, "button", "cg-btn cg-retry", { type: "button" });
  retry.textContent = t("retry");
  retry.hidden = true;

  box.append(row, panel, status, retry);
  root.append(box);

  /** @type {HTMLButtonElement[]} */
  let tiles = [];
  let cols = 3;
  let renderedId = "";
  let current = "idle";

  /** @param {number} index */
  function rove(index) {
    tiles.forEach((tile, i) => tile.setAttribute("tabindex", i === index ? "0" : "-1"));
    if (tiles[index]) tiles[index].focus();
  }

  /** @param {import("./api.js").Challenge} challenge */
  function buildTiles(challenge) {
    cols = challenge.cols;
    grid.className = `cg-grid cg-cols-${cols}`;
    const id = challenge.challenge;
    let pending = challenge.tiles.length;
    grid.setAttribute("aria-busy", "true");
    tiles = challenge.tiles.map((data, i) => {
      const tile = make(doc, "button", "cg-tile", {
        type: "button",
        "aria-pressed": "false",
        "aria-label": t("tile", { n: i + 1, total: challenge.grid }),
        tabindex: i === 0 ? "0" : "-1",
      });
      // Blank until painted; the button's label is what assistive technology reads.
      const canvas = make(doc, "canvas", "", { width: "0", height: "0", "aria-hidden": "true" });
      tile.append(canvas);
      options.draw(canvas, data).then(
        () => {
          if (--pending === 0 && renderedId === id) grid.setAttribute("aria-busy", "false");
        },
        () => {
          if (renderedId === id) intents.fault(TILE_UNDECODABLE);
        },
      );
      tile.addEventListener("click", () => {
        rove(i);
        intents.toggle(i);
      });
      return tile;
    });
    grid.replaceChildren(...tiles);
    renderedId = challenge.challenge;
  }

  const listeners = {
    check: () => intents.open(),
    verify: () => intents.verify(),
    reload: () => intents.reload(),
    retry: () => intents.reload(),
    alternative: () => intents.alternative(),
    /** @param {KeyboardEvent} event */
    key(event) {
      if (event.key === "Escape" && !panel.hidden) {
        event.preventDefault();
        intents.close();
      }
    },
    /** @param {KeyboardEvent} event */
    arrows(event) {
      if (!MOVES.has(event.key)) return;
      const at = tiles.findIndex((tile) => tile === root.activeElement);
      if (at < 0) return;
      event.preventDefault();
      const last = tiles.length - 1;
      /** @type {Record<string, number>} */
      const next = {
        ArrowLeft: at - 1,
        ArrowRight: at + 1,
        ArrowUp: at - cols,
        ArrowDown: at + cols,
        Home: 0,
        End: last,
      };
      const target = next[event.key];
      if (target >= 0 && target <= last) rove(target);
    },
  };
  check.addEventListener("click", listeners.check);
  verify.addEventListener("click", listeners.verify);
  reload.addEventListener("click", listeners.reload);
  retry.addEventListener("click", listeners.retry);
  alt.addEventListener("click", listeners.alternative);
  box.addEventListener("keydown", listeners.key);
  grid.addEventListener("keydown", listeners.arrows);

  return {
    root,

    /**
     * Render one machine state.
     * @param {import("./machine.js").State} state
     */
    update(state) {
      const previous = current;
      current = state.name;
      const hadFocus = root.activeElement !== null;
      const busy = BUSY.includes(state.name);
      const challenge = state.challenge;

      box.classList.toggle("cg-open", state.open);
      check.setAttribute("aria-checked", state.name === "passed" ? "true" : "false");
      check.setAttribute("aria-busy", busy && !challenge ? "true" : "false");
      checkLabel.textContent = t(state.name === "passed" ? "verified" : "checkbox");

      const fresh = !!challenge && challenge.challenge !== renderedId;
      if (challenge && fresh) buildTiles(challenge);
      panel.hidden = !state.open || !challenge;
      if (challenge) {
        prompt.textContent = challenge.prompt || challenge.label;
        alt.hidden = !challenge.alternative;
        if (challenge.alternative) grid.setAttribute("aria-describedby", hint.id);
        else grid.removeAttribute("aria-describedby");
      }
      tiles.forEach((tile, i) => {
        tile.setAttribute("aria-pressed", state.selected.includes(i) ? "true" : "false");
        tile.setAttribute("aria-disabled", busy ? "true" : "false");
      });
      verify.setAttribute("aria-disabled", busy ? "true" : "false");
      reload.setAttribute("aria-disabled", busy ? "true" : "false");
      alt.setAttribute("aria-disabled", busy ? "true" : "false");

      /** @type {Record<string, keyof import("./i18n.js").Strings>} */
      const texts = {
        loading: "loading",
        solving: "solving",
        verifying: "verifying",
        alternative: "alternativeBusy",
        failed: "wrong",
        expired: "expired",
        error: "error",
        offline: "offline",
      };
      const key = texts[state.name];
      // The checkbox itself says "Verified" on a pass, so the status line stays empty then.
      const count = state.name === "grid" && state.selected.length;
      message.textContent = key ? t(key) : count ? t("selected", { n: count }) : "";
      const bad = ["failed", "expired", "error", "offline"].includes(state.name);
      status.classList.toggle("cg-bad", bad);
      status.classList.toggle("cg-said", !!message.textContent);
      code.textContent = state.name === "error" ? t("code", { code: state.code }) : "";
      retry.hidden = state.name !== "error" && state.name !== "offline";

      if (fresh && state.open && !panel.hidden) {
        rove(0);
      } else if (
        state.name === "passed" ||
        state.name === "alternative" ||
        (state.name === "idle" && previous !== "idle")
      ) {
        if (hadFocus) check.focus();
      } else if (!retry.hidden && hadFocus) {
        retry.focus();
      }
    },

    /** Detach listeners and empty the shadow root. */
    destroy() {
      check.removeEventListener("click", listeners.check);
      verify.removeEventListener("click", listeners.verify);
      reload.removeEventListener("click", listeners.reload);
      retry.removeEventListener("click", listeners.retry);
      alt.removeEventListener("click", listeners.alternative);
      box.removeEventListener("keydown", listeners.key);
      grid.removeEventListener("keydown", listeners.arrows);
      root.replaceChildren();
    },
  };
}

/** @typedef {ReturnType<typeof createView>} View */
