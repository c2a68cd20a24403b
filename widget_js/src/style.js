// @ts-check
// Colours and the stylesheet. The CSS is applied as a constructed stylesheet (CSSOM), which a
// strict CSP style-src does not block; a <style nonce> element is the fallback for browsers
// without adoptedStyleSheets.

/**
 * @typedef {{
 *   bg: string, fg: string, muted: string, border: string, accent: string, accentFg: string,
 *   ok: string, error: string, focus: string,
 * }} Palette
 */

/** @type {{ light: Palette, dark: Palette }} */
export const PALETTES = {
  light: {
    bg: "#f9f9f9",
    fg: "#1f2328",
    muted: "#57606a",
    border: "#6e7781",
    accent: "#0b5cd5",
    accentFg: "#ffffff",
    ok: "#1a7f37",
    error: "#b42318",
    focus: "#0b5cd5",
  },
  dark: {
    bg: "#1e1f22",
    fg: "#e8eaed",
    muted: "#aab0b6",
    border: "#8b9197",
    accent: "#8ab4f8",
    accentFg: "#111418",
    ok: "#6fdd8b",
    error: "#ff8a80",
    focus: "#8ab4f8",
  },
};

/**
 * Foreground/background pairs that carry text (WCAG AA needs 4.5:1) or that must stand out as
 * non-text UI (3:1): checked by the unit tests for both palettes.
 * @type {ReadonlyArray<{ fg: keyof Palette, bg: keyof Palette, min: number }>}
 */
export const CONTRAST_PAIRS = [
  { fg: "fg", bg: "bg", min: 4.5 },
  { fg: "muted", bg: "bg", min: 4.5 },
  { fg: "accentFg", bg: "accent", min: 4.5 },
  { fg: "error", bg: "bg", min: 4.5 },
  { fg: "ok", bg: "bg", min: 4.5 },
  { fg: "border", bg: "bg", min: 3 },
  { fg: "focus", bg: "bg", min: 3 },
  { fg: "accent", bg: "bg", min: 3 },
];

/** @param {Palette} p */
function vars(p) {
  return (
    `--bg:${p.bg};--fg:${p.fg};--muted:${p.muted};--border:${p.border};--accent:${p.accent};` +
    `--accent-fg:${p.accentFg};--ok:${p.ok};--error:${p.error};--focus:${p.focus};`
  );
}

const COLS = [1, 2, 3, 4, 5, 6]
  .map((n) => `.cg-cols-${n}{grid-template-columns:repeat(${n},1fr)}`)
  .join("");

export const CSS = `
:host{all:initial;display:inline-block;max-width:100%}
[hidden]{display:none!important}
.cg-sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.cg{${vars(PALETTES.light)}box-sizing:border-box;width:304px;max-width:100%;padding:10px 12px;
font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;
color:var(--fg);background:var(--bg);border:1px solid var(--border);border-radius:6px;text-align:start}
.cg-dark{${vars(PALETTES.dark)}}
@media (prefers-color-scheme:dark){.cg-auto{${vars(PALETTES.dark)}}}
.cg *,.cg *::before,.cg *::after{box-sizing:inherit}
.cg-compact{width:164px}
.cg-compact.cg-open{width:304px}
.cg-row{display:flex;align-items:center;gap:8px;min-height:52px}
.cg-compact .cg-row{flex-wrap:wrap}
button{font:inherit;color:inherit;cursor:pointer;margin:0}
button:disabled{cursor:default}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.cg-check{display:flex;align-items:center;gap:10px;padding:6px;border:0;border-radius:4px;background:none;text-align:start}
.cg-box{position:relative;flex:none;width:26px;height:26px;border:2px solid var(--border);border-radius:4px;background:var(--bg)}
.cg-check[aria-checked="true"] .cg-box{background:var(--ok);border-color:var(--ok)}
.cg-check[aria-checked="true"] .cg-box::after{content:"";position:absolute;left:7px;top:2px;width:7px;height:13px;border:solid var(--bg);border-width:0 3px 3px 0;transform:rotate(45deg)}
.cg-check[aria-busy="true"] .cg-box{border-style:dashed;border-color:var(--accent)}
.cg-brand{margin-inline-start:auto;font-size:11px;color:var(--muted);text-align:end}
.cg-panel{margin-top:8px}
.cg-prompt{margin:0 0 8px;font-weight:600}
.cg-grid{display:grid;gap:4px}
${COLS}
.cg-tile{position:relative;aspect-ratio:1;padding:0;overflow:hidden;border:3px solid transparent;border-radius:4px;background:var(--border)}
.cg-tile canvas{display:block;width:100%;height:100%;object-fit:cover}
.cg-tile[aria-pressed="true"]{border-color:var(--accent)}
.cg-tile[aria-pressed="true"] canvas{transform:scale(.86)}
.cg-tile[aria-pressed="true"]::after{content:"\\2713";position:absolute;top:2px;left:2px;width:20px;height:20px;border-radius:50%;font-size:13px;line-height:20px;text-align:center;color:var(--accent-fg);background:var(--accent)}
.cg-tile:focus-visible{outline-offset:-1px}
.cg-actions{display:flex;flex-wrap:wrap;gap:8px;justify-content:flex-end;margin-top:8px}
.cg-btn{min-height:32px;padding:5px 12px;border:1px solid var(--border);border-radius:4px;background:var(--bg)}
.cg-primary{color:var(--accent-fg);background:var(--accent);border-color:var(--accent)}
.cg-btn:disabled,.cg-tile:disabled{opacity:.6}
.cg-status{font-size:13px}
.cg-said{margin-top:6px}
.cg-bad{color:var(--error)}
.cg-code{display:block;font-size:12px;color:var(--muted)}
@media (prefers-reduced-motion:no-preference){
.cg-tile canvas{transition:transform .12s ease-out}
.cg-check[aria-busy="true"] .cg-box{animation:cg-spin 1s linear infinite}
}
@keyframes cg-spin{to{transform:rotate(360deg)}}
@media (forced-colors:active){.cg-tile[aria-pressed="true"]{border-color:Highlight}}
`;

/** @type {WeakMap<object, CSSStyleSheet>} */
const sheets = new WeakMap();

/**
 * Attach the stylesheet to a shadow root.
 * @param {ShadowRoot} root
 * @param {string} nonce CSP nonce for the <style> fallback; may be empty.
 * @returns {"constructed" | "element"} Which mechanism was used.
 */
export function applyStyles(root, nonce) {
  const doc = root.ownerDocument;
  const win = doc.defaultView;
  const Sheet = win && /** @type {any} */ (win).CSSStyleSheet;
  if (win && Sheet && "adoptedStyleSheets" in root && "replaceSync" in Sheet.prototype) {
    let sheet = sheets.get(win);
    if (!sheet) {
      sheet = /** @type {CSSStyleSheet} */ (new Sheet());
      sheet.replaceSync(CSS);
      sheets.set(win, sheet);
    }
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
    return "constructed";
  }
  const style = doc.createElement("style");
  if (nonce) style.setAttribute("nonce", nonce);
  style.textContent = CSS;
  root.appendChild(style);
  return "element";
}
