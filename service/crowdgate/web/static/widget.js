/*! crowdgate widget 0.1.0 | Apache-2.0 | built from widget_js/src by widget_js/build.py */
(function () {
"use strict";
const __cg_i18n = (function () {
const LANGS = ["en", "es", "fr", "de", "zh"];
const EN = {
checkbox: "I am human",
verified: "Verified",
loading: "Loading challenge…",
solving: "Verifying…",
verifying: "Checking…",
verify: "Verify",
reload: "New challenge",
tile: "Image {n} of {total}",
selected: "{n} selected",
wrong: "Not quite. Please try this new one.",
expired: "Verification expired. Check the box again.",
error: "The challenge could not be loaded.",
offline: "You appear to be offline.",
retry: "Try again",
code: "Error code: {code}",
brand: "Protected by crowdgate",
alternative: "Check without images",
alternativeHint: "Can't see the images? Use Check without images, after Verify.",
alternativeBusy: "Checking without images. This can take up to a minute…",
};
const MESSAGES = {
en: EN,
es: {
checkbox: "Soy humano",
verified: "Verificado",
loading: "Cargando el desafío…",
solving: "Verificando…",
verifying: "Comprobando…",
verify: "Verificar",
reload: "Otro desafío",
tile: "Imagen {n} de {total}",
selected: "{n} seleccionadas",
wrong: "No del todo. Prueba con este nuevo.",
expired: "La verificación ha caducado. Marca la casilla de nuevo.",
error: "No se pudo cargar el desafío.",
offline: "Parece que no tienes conexión.",
retry: "Reintentar",
code: "Código de error: {code}",
brand: "Protegido por crowdgate",
alternative: "Verificar sin imágenes",
alternativeHint: "¿No puede ver las imágenes? Use Verificar sin imágenes, después de Verificar.",
alternativeBusy: "Verificando sin imágenes. Puede tardar hasta un minuto…",
},
fr: {
checkbox: "Je suis humain",
verified: "Vérifié",
loading: "Chargement du défi…",
solving: "Vérification de l’appareil…",
verifying: "Vérification…",
verify: "Valider",
reload: "Autre défi",
tile: "Image {n} sur {total}",
selected: "{n} sélectionnée(s)",
wrong: "Pas tout à fait. Essayez celui-ci.",
expired: "La vérification a expiré. Cochez à nouveau la case.",
error: "Le défi n’a pas pu être chargé.",
offline: "Vous semblez être hors ligne.",
retry: "Réessayer",
code: "Code d’erreur : {code}",
brand: "Protégé par crowdgate",
alternative: "Vérifier sans images",
alternativeHint: "Vous ne voyez pas les images ? Utilisez Vérifier sans images, après Valider.",
alternativeBusy: "Vérification sans images. Cela peut prendre jusqu’à une minute…",
},
de: {
checkbox: "Ich bin ein Mensch",
verified: "Bestätigt",
loading: "Aufgabe wird geladen…",
solving: "Gerät wird überprüft…",
verifying: "Wird geprüft…",
verify: "Bestätigen",
reload: "Neue Aufgabe",
tile: "Bild {n} von {total}",
selected: "{n} ausgewählt",
wrong: "Nicht ganz. Bitte versuchen Sie diese neue Aufgabe.",
expired: "Die Bestätigung ist abgelaufen. Bitte erneut ankreuzen.",
error: "Die Aufgabe konnte nicht geladen werden.",
offline: "Sie scheinen offline zu sein.",
retry: "Erneut versuchen",
code: "Fehlercode: {code}",
brand: "Geschützt durch crowdgate",
alternative: "Ohne Bilder prüfen",
alternativeHint: "Sie sehen die Bilder nicht? Nutzen Sie „Ohne Bilder prüfen“ nach „Bestätigen“.",
alternativeBusy: "Prüfung ohne Bilder. Das kann bis zu einer Minute dauern…",
},
zh: {
checkbox: "我是人类",
verified: "已验证",
loading: "正在加载验证…",
solving: "正在验证…",
verifying: "正在检查…",
verify: "验证",
reload: "换一组",
tile: "第 {n} 张图片，共 {total} 张",
selected: "已选择 {n} 张",
wrong: "不太对。请再试这一组。",
expired: "验证已过期，请重新勾选。",
error: "无法加载验证。",
offline: "您似乎已离线。",
retry: "重试",
code: "错误代码：{code}",
brand: "由 crowdgate 提供保护",
alternative: "不看图片验证",
alternativeHint: "看不到图片？请使用“验证”之后的“不看图片验证”。",
alternativeBusy: "正在进行无图片验证，最多可能需要一分钟…",
},
};
function pickLang(candidates) {
for (const tag of candidates) {
if (!tag) continue;
const primary = String(tag).trim().toLowerCase().split(/[-_]/)[0];
const found = LANGS.find((lang) => lang === primary);
if (found) return found;
}
return "en";
}
function translate(lang, key, vars) {
const table = /** @type {Partial<Strings>} */ (MESSAGES[lang] || EN);
const text = table[key] || EN[key];
if (!vars) return text;
return text.replace(/\{(\w+)\}/g, (whole, name) =>
Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole,
);
}
return { LANGS, MESSAGES, pickLang, translate };
})();
const __cg_api = (function () {
const OFFLINE = "network-error";
const BAD_RESPONSE = "bad-response";
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
class ApiError extends Error {
constructor(code, message, status, pow = null) {
super(message);
this.name = "ApiError";
this.code = code;
this.status = status;
this.pow = pow;
}
}
function parseChallenge(raw) {
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
function parsePuzzle(raw) {
const p = /** @type {Record<string, any>} */ (raw && typeof raw === "object" ? raw : {});
const bits = Number(p.bits);
const ok = typeof p.puzzle === "string" && p.puzzle && Number.isInteger(bits);
return ok && bits >= 1 && bits <= 32 ? { puzzle: p.puzzle, bits } : null;
}
function parsePass(data) {
if (data.success === true && typeof data.token === "string" && data.token) {
const ttl = Number(data.expires_in) > 0 ? Number(data.expires_in) : 120;
return { success: true, token: data.token, expires_in: ttl };
}
throw new ApiError(BAD_RESPONSE, "The pass response is missing fields.", 200);
}
function createClient(base, fetchFn) {
async function post(path, body) {
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
async challenge(sitekey, hostname, pow) {
const body = pow ? { sitekey, hostname, pow } : { sitekey, hostname };
return parseChallenge(await post("/api/v1/challenge", body));
},
async alternativePuzzle(sitekey, hostname) {
const puzzle = parsePuzzle(await post("/api/v1/alternative", { sitekey, hostname }));
if (!puzzle) throw new ApiError(BAD_RESPONSE, "The puzzle response is missing fields.", 200);
return puzzle;
},
async alternativePass(sitekey, hostname, pow) {
return parsePass(await post("/api/v1/alternative", { sitekey, hostname, pow }));
},
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
return { OFFLINE, BAD_RESPONSE, ApiError, parseChallenge, parsePuzzle, createClient };
})();
const __cg_pow = (function () {
const { ApiError } = __cg_api;
const POW_UNSUPPORTED = "pow-unsupported";
const POW_UNSOLVED = "pow-unsolved";
const POW_CANCELLED = "pow-cancelled";
const BATCH = 2048;
const LIMIT = 2 ** 32;
function zeroBits(bytes) {
let n = 0;
for (const byte of bytes) {
if (byte !== 0) return n + Math.clz32(byte) - 24;
n += 8;
}
return n;
}
async function solvePuzzle(puzzle, env) {
const subtle = env.subtle;
if (!subtle || typeof subtle.digest !== "function") {
throw new ApiError(POW_UNSUPPORTED, "crypto.subtle is missing; serve the page over HTTPS.", 0);
}
const batch = env.batch || BATCH;
const encoder = new TextEncoder();
const prefix = puzzle.puzzle + ":";
for (let start = 0; start < LIMIT; start += batch) {
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
return { POW_UNSUPPORTED, POW_UNSOLVED, POW_CANCELLED, zeroBits, solvePuzzle };
})();
const __cg_tiles = (function () {
const TILE_UNDECODABLE = "tile-undecodable";
function fromBase64(atob, text) {
const binary = atob(text);
const bytes = new Uint8Array(binary.length);
for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
return bytes;
}
function sniffType(bytes) {
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
async function decode(win, bytes) {
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
decoder.close();
}
}
if (typeof win.createImageBitmap !== "function") throw new Error(TILE_UNDECODABLE);
const bitmap = await win.createImageBitmap(new win.Blob([bytes]));
return { image: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
}
async function drawTile(win, canvas, tile) {
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
return { TILE_UNDECODABLE, fromBase64, sniffType, drawTile };
})();
const __cg_style = (function () {
const PALETTES = {
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
const CONTRAST_PAIRS = [
{ fg: "fg", bg: "bg", min: 4.5 },
{ fg: "muted", bg: "bg", min: 4.5 },
{ fg: "accentFg", bg: "accent", min: 4.5 },
{ fg: "error", bg: "bg", min: 4.5 },
{ fg: "ok", bg: "bg", min: 4.5 },
{ fg: "border", bg: "bg", min: 3 },
{ fg: "focus", bg: "bg", min: 3 },
{ fg: "accent", bg: "bg", min: 3 },
];
function vars(p) {
return (
`--bg:${p.bg};--fg:${p.fg};--muted:${p.muted};--border:${p.border};--accent:${p.accent};` +
`--accent-fg:${p.accentFg};--ok:${p.ok};--error:${p.error};--focus:${p.focus};`
);
}
const COLS = [1, 2, 3, 4, 5, 6]
.map((n) => `.cg-cols-${n}{grid-template-columns:repeat(${n},1fr)}`)
.join("");
const CSS = `
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
const sheets = new WeakMap();
function applyStyles(root, nonce) {
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
return { PALETTES, CONTRAST_PAIRS, CSS, applyStyles };
})();
const __cg_machine = (function () {
const { ApiError, BAD_RESPONSE, OFFLINE } = __cg_api;
const MAX_POW_ROUNDS = 2;
const IDLE = Object.freeze({
name: "idle",
open: false,
challenge: null,
selected: [],
token: "",
code: "",
});
function createMachine(options) {
const { client, timers } = options;
let state = IDLE;
let seq = 0;
let expiryTimer = null;
function set(patch) {
const previous = state;
state = Object.freeze({ ...state, ...patch });
if (options.onChange) options.onChange(state, previous);
}
function clearExpiry() {
if (expiryTimer !== null) timers.clearTimeout(expiryTimer);
expiryTimer = null;
}
function fail(exc) {
const code = exc instanceof ApiError ? exc.code : BAD_RESPONSE;
set({ name: code === OFFLINE ? "offline" : "error", open: false, code, challenge: null });
if (options.onError) options.onError(code);
}
function announceCompat(challenge) {
if (challenge.compat && options.onCompat) options.onCompat(challenge.compat);
}
function load() {
const mine = ++seq;
set({ name: "loading", open: true, code: "", selected: [] });
request(mine, undefined, 0);
}
function request(mine, proof, rounds) {
client.challenge(options.sitekey, options.hostname, proof).then(
(challenge) => {
if (mine !== seq) return;
announceCompat(challenge);
set({ name: "grid", challenge, selected: [] });
},
(exc) => {
if (mine !== seq) return;
const puzzle = exc instanceof ApiError ? exc.pow : null;
if (!puzzle || !options.solve || rounds >= MAX_POW_ROUNDS) return fail(exc);
set({ name: "solving" });
options.solve(puzzle, () => mine !== seq).then(
(solved) => {
if (mine === seq) request(mine, solved, rounds + 1);
},
(err) => {
if (mine === seq) fail(err);
},
);
},
);
}
function expire() {
expiryTimer = null;
if (state.name !== "passed") return;
set({ ...IDLE, name: "expired" });
if (options.onExpired) options.onExpired();
}
const canAnswer = () => state.name === "grid" || state.name === "failed";
function passed(pass) {
clearExpiry();
expiryTimer = timers.setTimeout(expire, pass.expires_in * 1000);
set({ ...IDLE, name: "passed", token: pass.token });
if (options.onVerified) options.onVerified(pass.token);
}
return {
get state() {
return state;
},
open() {
if (["idle", "expired", "error", "offline"].includes(state.name)) load();
},
reload() {
if (canAnswer() || state.name === "error" || state.name === "offline") load();
},
toggle(index) {
const ch = state.challenge;
if (!canAnswer() || !ch || index < 0 || index >= ch.grid) return;
const chosen = state.selected.includes(index)
? state.selected.filter((i) => i !== index)
: [...state.selected, index].sort((a, b) => a - b);
set({ selected: chosen });
},
verify() {
const ch = state.challenge;
if (!canAnswer() || !ch) return;
const mine = ++seq;
set({ name: "verifying" });
client.answer(ch.challenge, state.selected).then(
(verdict) => {
if (mine !== seq) return;
if (verdict.success) {
passed(verdict);
} else {
announceCompat(verdict.next);
set({ name: "failed", challenge: verdict.next, selected: [], code: verdict.code });
}
},
(exc) => {
if (mine === seq) fail(exc);
},
);
},
alternative() {
const ch = state.challenge;
if (!canAnswer() || !ch || !ch.alternative) return;
const mine = ++seq;
const { sitekey, hostname } = options;
set({ name: "alternative", challenge: null, selected: [], code: "" });
const solve = options.solve;
client
.alternativePuzzle(sitekey, hostname)
.then((puzzle) => {
if (mine !== seq) return null;
if (!solve) throw new ApiError(BAD_RESPONSE, "This widget cannot solve puzzles.", 0);
return solve(puzzle, () => mine !== seq).then((proof) =>
mine === seq ? client.alternativePass(sitekey, hostname, proof) : null,
);
})
.then(
(pass) => {
if (pass && mine === seq) passed(pass);
},
(exc) => {
if (mine === seq) fail(exc);
},
);
},
fault(code) {
if (!state.challenge) return;
seq++;
fail(new ApiError(code, "A tile of the challenge could not be drawn.", 0));
},
close() {
if (!state.open) return;
seq++;
set(IDLE);
},
reset() {
seq++;
clearExpiry();
set(IDLE);
},
};
}
return { createMachine };
})();
const __cg_dom = (function () {
const { translate } = __cg_i18n;
const { applyStyles } = __cg_style;
const { TILE_UNDECODABLE } = __cg_tiles;
const BUSY = ["loading", "solving", "verifying", "alternative"];
const MOVES = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);
function make(doc, tag, className, attrs) {
const el = doc.createElement(tag);
if (className) el.className = className;
for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
return el;
}
function createView(host, options) {
const doc = host.ownerDocument;
const { lang, intents } = options;
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
const hint = make(doc, "p", "cg-sr", { id: "cg-alt-hint" });
hint.textContent = t("alternativeHint");
const actions = make(doc, "div", "cg-actions");
const reload = make(doc, "button", "cg-btn cg-reload", { type: "button" });
reload.textContent = t("reload");
const verify = make(doc, "button", "cg-btn cg-primary cg-verify", { type: "button" });
verify.textContent = t("verify");
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
let tiles = [];
let cols = 3;
let renderedId = "";
let current = "idle";
function rove(index) {
tiles.forEach((tile, i) => tile.setAttribute("tabindex", i === index ? "0" : "-1"));
if (tiles[index]) tiles[index].focus();
}
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
key(event) {
if (event.key === "Escape" && !panel.hidden) {
event.preventDefault();
intents.close();
}
},
arrows(event) {
if (!MOVES.has(event.key)) return;
const at = tiles.findIndex((tile) => tile === root.activeElement);
if (at < 0) return;
event.preventDefault();
const last = tiles.length - 1;
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
return { createView };
})();
const __cg_main = (function () {
const { createClient } = __cg_api;
const { createView } = __cg_dom;
const { pickLang } = __cg_i18n;
const { createMachine } = __cg_machine;
const { solvePuzzle } = __cg_pow;
const { drawTile } = __cg_tiles;
const VERSION = "0.1.0";
const MARK = Symbol.for("crowdgate.api");
const SCRIPT_PATH = /\/(widget\.js|recaptcha\/api\.js)$/;
const RESERVED = new Set(["__proto__", "prototype", "constructor"]);
const INPUT_NAMES = {
"": ["crowdgate-response"],
recaptcha: ["crowdgate-response", "g-recaptcha-response"],
hcaptcha: ["crowdgate-response", "h-captcha-response", "g-recaptcha-response"],
};
function readScript(src, nonce) {
const url = new URL(src);
const match = url.pathname.match(SCRIPT_PATH);
const prefix = match ? url.pathname.slice(0, match.index) : "";
const asked = url.searchParams.get("compat");
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
function resolveCallback(win, ref) {
if (typeof ref === "function") return ref;
if (typeof ref !== "string" || !ref) return null;
let value = win;
for (const part of ref.split(".")) {
if (!/^[A-Za-z_$][\w$]*$/.test(part) || RESERVED.has(part)) return null;
if (value === null || (typeof value !== "object" && typeof value !== "function")) return null;
value = value[part];
}
return typeof value === "function" ? value : null;
}
function findScript(doc) {
const all = Array.from(doc.getElementsByTagName("script"));
const ours = (/** @type {HTMLScriptElement} */ s) => SCRIPT_PATH.test(s.src.split("?")[0]);
return all.reverse().find(ours) || null;
}
function install(win, current) {
const doc = win.document;
const script = current instanceof win.HTMLScriptElement ? current : findScript(doc);
const src = script ? script.src : win.location.href;
const config = readScript(src, (script && script.nonce) || "");
const report = (exc) => (win.reportError ? win.reportError(exc) : win.console.error(exc));
const call = (ref, ...args) => {
const fn = resolveCallback(win, ref);
if (!fn) return;
try {
fn(...args);
} catch (exc) {
report(exc);
}
};
const existing = /** @type {any} */ (win).crowdgate;
if (existing && existing[MARK]) {
call(config.onload);
return existing;
}
const client = createClient(config.base, (url, init) => win.fetch(url, init));
const widgets = new Map();
const bound = new WeakMap();
let nextId = 0;
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
const inputs = new Map();
let waiters = [];
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
const fill = (token) => inputs.forEach((input) => (input.value = token));
const emit = (type, detail) =>
el.dispatchEvent(new win.CustomEvent(type, { bubbles: true, detail }));
addInputs("");
addInputs(config.compat);
const host = /** @type {HTMLElement} */ (doc.createElement("crowdgate-widget"));
el.appendChild(host);
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
function pick(value, allowed) {
return typeof value === "string" && allowed.includes(value) ? value : allowed[0];
}
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
getResponse: (id) => widget(id).machine.state.token,
reset: (id) => widget(id).reset(),
remove(id) {
const w = widget(id);
w.remove();
widgets.delete(w.id);
bound.delete(w.el);
},
execute: (id, options) => widget(id).execute(!!(options && options.async)),
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
return { VERSION, INPUT_NAMES, readScript, resolveCallback, install };
})();
__cg_main.install(window, document.currentScript);
})();
