// @ts-check
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { install } from "../src/main.js";
import { BASE, TEST_SITEKEY, controls, fakeApi, page, settle } from "../test_support/harness.js";

const FORM = `<form id="f"><div class="crowdgate" data-sitekey="${TEST_SITEKEY}"></div></form>`;

/** Open the widget in `container`, pick slot 0 and verify. @param {Element} container */
async function solve(container) {
  controls(container).check.click();
  await settle();
  controls(container).tiles[0].click();
  controls(container).verify.click();
  await settle();
}

/** What the draw stand-in painted on a tile's canvas. @param {Element} tile */
const painted = (tile) => /** @type {HTMLElement | null} */ (tile.querySelector("canvas"))?.dataset.painted;

/** @param {Element} container */
const inputNames = (container) =>
  Array.from(container.querySelectorAll("input[type=hidden]")).map((i) => i.getAttribute("name"));

describe("implicit render", () => {
  test("renders every .crowdgate[data-sitekey] container once", () => {
    const { doc } = page({
      html: `${FORM}<div class="crowdgate" data-sitekey="b"></div><div class="crowdgate"></div>`,
    });
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 2);
  });

  test("never binds twice, even when the script is loaded again", () => {
    const { win, doc, crowdgate } = page({ html: FORM });
    const el = /** @type {HTMLElement} */ (doc.querySelector(".crowdgate"));
    assert.equal(crowdgate.render(el), 0);
    const again = doc.createElement("script");
    again.src = `${BASE}/widget.js`;
    assert.equal(install(win, again), crowdgate);
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 1);
    assert.equal(doc.querySelectorAll("input[name=crowdgate-response]").length, 1);
  });

  test("waits for DOMContentLoaded while the document is loading", () => {
    const { win, doc } = page({
      before(w) {
        Object.defineProperty(w.document, "readyState", { value: "loading", configurable: true });
      },
    });
    doc.body.insertAdjacentHTML("beforeend", FORM);
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 0);
    doc.dispatchEvent(new win.Event("DOMContentLoaded"));
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 1);
  });

  test("render=explicit renders nothing and calls onload", () => {
    let called = 0;
    const { doc } = page({
      html: FORM,
      scriptUrl: `${BASE}/widget.js?onload=cgReady&render=explicit`,
      before: (w) => (w.cgReady = () => called++),
    });
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 0);
    assert.equal(called, 1);
  });
});

describe("explicit render", () => {
  test("render, getResponse, reset and remove on several widgets", async () => {
    const { doc, crowdgate } = page({
      html: '<form><div id="a"></div></form><form><div id="b"></div></form>',
      scriptUrl: `${BASE}/widget.js?render=explicit`,
    });
    const a = crowdgate.render("a", { sitekey: TEST_SITEKEY });
    const bEl = /** @type {HTMLElement} */ (doc.getElementById("b"));
    const b = crowdgate.render(bEl, { sitekey: TEST_SITEKEY, theme: "dark", size: "compact" });
    assert.deepEqual([a, b], [0, 1]);
    assert.equal(crowdgate.getResponse(a), "");
    await solve(/** @type {Element} */ (doc.getElementById("a")));
    const token = crowdgate.getResponse(a);
    assert.match(token, /^token-/);
    assert.equal(crowdgate.getResponse(), token, "no id means the first widget");
    assert.equal(crowdgate.getResponse(b), "");
    const input = /** @type {HTMLInputElement} */ (doc.querySelector("#a input"));
    assert.equal(input.value, token);
    crowdgate.reset(a);
    assert.equal(crowdgate.getResponse(a), "");
    assert.equal(input.value, "");
    crowdgate.remove(b);
    assert.equal(bEl.children.length, 0);
    assert.throws(() => crowdgate.getResponse(b), /no widget with id 1/);
    assert.equal(crowdgate.render(bEl, { sitekey: TEST_SITEKEY }), 2, "re-render after remove");
  });

  test("a missing container or sitekey is a clear error", () => {
    const { crowdgate } = page({ html: '<div id="x"></div>' });
    assert.throws(() => crowdgate.render("nope"), /no element nope/);
    assert.throws(() => crowdgate.render("x"), /add data-sitekey/);
  });

  test("execute opens the grid and async resolves with the token", async () => {
    const { doc, crowdgate } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    const pending = crowdgate.execute(0, { async: true });
    await settle();
    assert.equal(controls(el).panel.hidden, false);
    controls(el).verify.click();
    assert.match(await pending, /^token-/);
  });
});

describe("hidden inputs, callbacks and events", () => {
  /** @type {[string, string, string, string[]][]} */
  const modes = [
    ["plain widget.js", "/widget.js", "", ["crowdgate-response"]],
    ["recaptcha path", "/recaptcha/api.js", "", ["crowdgate-response", "g-recaptcha-response"]],
    [
      "hcaptcha query",
      "/widget.js?compat=hcaptcha",
      "",
      ["crowdgate-response", "h-captcha-response", "g-recaptcha-response"],
    ],
    ["per-site recaptcha", "/widget.js", "recaptcha", ["crowdgate-response", "g-recaptcha-response"]],
  ];
  for (const [name, path, siteCompat, expected] of modes) {
    test(`${name} writes ${expected.join(" + ")}`, async () => {
      const api = fakeApi({ compat: siteCompat });
      const html = '<form><div class="crowdgate g-recaptcha h-captcha" data-sitekey="k"></div></form>';
      const { doc } = page({ html, api, scriptUrl: BASE + path });
      const el = /** @type {Element} */ (doc.querySelector("form div"));
      await solve(el);
      assert.deepEqual(inputNames(el), expected);
      const values = Array.from(el.querySelectorAll("input")).map((i) => i.value);
      assert.ok(values.every((v) => v && v === values[0]));
      if (expected.includes("g-recaptcha-response")) {
        assert.ok(doc.getElementById("g-recaptcha-response"), "first widget gets reCAPTCHA's id");
      }
    });
  }

  test("recaptcha compat renders .g-recaptcha and exposes grecaptcha with ready", async () => {
    const { win, doc } = page({
      html: `<form><div class="g-recaptcha" data-sitekey="k"></div></form>`,
      scriptUrl: `${BASE}/recaptcha/api.js`,
    });
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 1);
    for (const fn of ["render", "getResponse", "reset", "execute", "ready"]) {
      assert.equal(typeof win.grecaptcha[fn], "function", fn);
    }
    let ready = false;
    win.grecaptcha.ready(() => (ready = true));
    await settle();
    assert.ok(ready);
    assert.equal(win.hcaptcha, undefined);
  });

  test("hcaptcha compat exposes hcaptcha and renders .h-captcha", () => {
    const { win, doc } = page({
      html: `<div class="h-captcha" data-sitekey="k"></div>`,
      scriptUrl: `${BASE}/widget.js?compat=hcaptcha`,
    });
    assert.equal(typeof win.hcaptcha.render, "function");
    assert.equal(doc.querySelectorAll("crowdgate-widget").length, 1);
  });

  test("named callbacks and DOM events fire on pass and on error", async () => {
    /** @type {string[]} */
    const calls = [];
    const api = fakeApi();
    const html = `<div class="crowdgate" data-sitekey="k" data-callback="app.onPass"
      data-error-callback="onFail"></div>`;
    const { doc } = page({
      html,
      api,
      before(w) {
        w.app = { onPass: (/** @type {string} */ t) => calls.push(`pass:${t}`) };
        w.onFail = (/** @type {string} */ code) => calls.push(`fail:${code}`);
      },
    });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    el.addEventListener("crowdgate:verified", (e) => calls.push(`event:${e.detail.response}`));
    el.addEventListener("crowdgate:error", (e) => calls.push(`event:${e.detail.code}`));
    await solve(el);
    assert.equal(calls.length, 2);
    assert.equal(calls[0].replace("pass:", "event:"), calls[1]);
    crowdgate_reset(doc);
    api.challengeFailure = { status: 403, code: "hostname-not-allowed" };
    controls(el).check.click();
    await settle();
    assert.deepEqual(calls.slice(2), ["fail:hostname-not-allowed", "event:hostname-not-allowed"]);
  });

  test("callback names are resolved as properties, never evaluated", async () => {
    const { win, doc } = page({
      html: `<div class="crowdgate" data-sitekey="k" data-callback="alert('x')"></div>
        <div class="crowdgate" data-sitekey="k" data-callback="constructor.constructor"></div>`,
      before: (w) => (w.alert = () => assert.fail("evaluated")),
    });
    for (const el of Array.from(doc.querySelectorAll(".crowdgate"))) await solve(el);
    assert.match(win.crowdgate.getResponse(1), /^token-/);
  });

  describe("expiry", () => {
    beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
    afterEach(() => mock.timers.reset());

    test("an expired token is cleared and the expired callback and event fire", async () => {
      let expired = 0;
      let events = 0;
      const html = `<form>
        <div class="crowdgate" data-sitekey="k" data-expired-callback="gone"></div></form>`;
      const { doc } = page({ html, before: (w) => (w.gone = () => expired++) });
      const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
      el.addEventListener("crowdgate:expired", () => events++);
      await solve(el);
      const input = /** @type {HTMLInputElement} */ (el.querySelector("input"));
      assert.ok(input.value);
      mock.timers.tick(120_000);
      assert.equal(input.value, "");
      assert.deepEqual([expired, events], [1, 1]);
      const c = controls(el);
      assert.equal(c.check.getAttribute("aria-checked"), "false");
      assert.match(c.status.textContent || "", /expired/);
    });
  });
});

/** @param {Document} doc */
function crowdgate_reset(doc) {
  /** @type {any} */ (doc.defaultView).crowdgate.reset();
}

describe("challenge UI", () => {
  test("the checkbox opens a labelled grid of image buttons", async () => {
    const { doc } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    const c = controls(el);
    assert.equal(c.check.getAttribute("role"), "checkbox");
    assert.equal(c.check.textContent, "I am human");
    c.check.click();
    assert.equal(c.check.getAttribute("aria-busy"), "true");
    await settle();
    const open = controls(el);
    assert.equal(open.panel.hidden, false);
    assert.equal(open.prompt.textContent, "Select all images with 3");
    assert.equal(open.grid.getAttribute("role"), "group");
    assert.equal(open.grid.getAttribute("aria-labelledby"), open.prompt.id);
    assert.equal(open.tiles.length, 9);
    assert.equal(open.tiles[4].getAttribute("aria-label"), "Image 5 of 9");
    assert.equal(painted(open.tiles[0]), "ch1/0", "the tile is painted from the response");
    assert.equal(open.tiles[0].querySelector("img"), null, "no image is fetched");
    assert.equal(open.grid.getAttribute("aria-busy"), "false", "every tile is drawn");
    assert.equal(open.status.getAttribute("aria-live"), "polite");
    assert.equal(open.root.activeElement, open.tiles[0], "focus moves to the first tile");
  });

  test("tiles toggle aria-pressed and the selection is announced", async () => {
    const { doc } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    controls(el).check.click();
    await settle();
    const { tiles, status } = controls(el);
    tiles[2].click();
    tiles[5].click();
    tiles[2].click();
    assert.deepEqual(tiles.map((t) => t.getAttribute("aria-pressed")).indexOf("true"), 5);
    assert.equal(status.textContent, "1 selected");
  });

  test("arrow keys move a roving tabindex and Escape returns to the checkbox", async () => {
    const { win, doc } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    controls(el).check.click();
    await settle();
    const { root, tiles, grid, check, panel } = controls(el);
    /** @param {string} key */
    const press = (key) =>
      /** @type {Element} */ (root.activeElement).dispatchEvent(
        new win.KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }),
      );
    const at = () => tiles.indexOf(/** @type {HTMLElement} */ (root.activeElement));
    press("ArrowRight");
    assert.equal(at(), 1);
    press("ArrowDown");
    assert.equal(at(), 4);
    press("ArrowUp");
    press("ArrowUp");
    assert.equal(at(), 1, "stops at the top edge");
    press("End");
    assert.equal(at(), 8);
    assert.deepEqual(
      tiles.map((t) => t.getAttribute("tabindex")).filter((v) => v === "0").length,
      1,
    );
    assert.ok(grid.contains(root.activeElement));
    press("Escape");
    assert.equal(panel.hidden, true);
    assert.equal(root.activeElement, check);
  });

  test("a wrong answer shows the next challenge with a message", async () => {
    const api = fakeApi();
    api.answers.push("fail");
    const { doc } = page({ html: FORM, api });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    await solve(el);
    const c = controls(el);
    assert.equal(c.panel.hidden, false);
    assert.equal(c.status.textContent, "Not quite. Please try this new one.");
    assert.equal(painted(c.tiles[0]), "ch2/0");
    assert.ok(c.tiles.every((t) => t.getAttribute("aria-pressed") === "false"));
  });

  test("reload fetches another challenge", async () => {
    const { doc, api } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    controls(el).check.click();
    await settle();
    controls(el).reload.click();
    await settle();
    assert.equal(api.requests.length, 2);
    assert.equal(painted(controls(el).tiles[0]), "ch2/0");
  });

  test("the path without images is a button after Verify, described to screen readers", async () => {
    const { doc } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    controls(el).check.click();
    await settle();
    const { root, grid, verify } = controls(el);
    const alt = /** @type {HTMLElement} */ (root.querySelector(".cg-alt"));
    assert.equal(alt.hidden, false);
    assert.equal(alt.textContent, "Check without images");
    assert.equal(verify.nextElementSibling, alt, "Tab order: tiles, New challenge, Verify, then it");
    const hint = root.getElementById(grid.getAttribute("aria-describedby") || "");
    assert.match(hint?.textContent || "", /Check without images/);
    assert.equal(hint?.className, "cg-sr");
  });

  test("a site without the path shows no button and no hint", async () => {
    const api = fakeApi();
    api.alternative = false;
    const { doc } = page({ html: FORM, api });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    controls(el).check.click();
    await settle();
    const { root, grid } = controls(el);
    assert.equal(/** @type {HTMLElement} */ (root.querySelector(".cg-alt")).hidden, true);
    assert.equal(grid.getAttribute("aria-describedby"), null);
  });

  test("a tile that does not decode shows the error state with its code", async () => {
    const api = fakeApi();
    const made = api.challenge;
    api.challenge = () => ({ ...made(), tiles: [...made().tiles.slice(1), btoa("broken")] });
    const { doc, win } = page({ html: FORM, api });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    const codes = /** @type {string[]} */ ([]);
    el.addEventListener("crowdgate:error", (e) => codes.push(/** @type {any} */ (e).detail.code));
    controls(el).check.click();
    await settle();
    assert.deepEqual(codes, ["tile-undecodable"]);
    assert.equal(controls(el).panel.hidden, true);
    assert.match(controls(el).status.textContent || "", /tile-undecodable/);
    assert.ok(win);
  });

  test("a pass checks the box and says Verified", async () => {
    const { doc } = page({ html: FORM });
    const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
    await solve(el);
    const c = controls(el);
    assert.equal(c.check.getAttribute("aria-checked"), "true");
    assert.equal(c.check.textContent, "Verified");
    assert.equal(c.panel.hidden, true);
  });

  /** @type {[string, any, RegExp, boolean][]} */
  const failures = [
    ["error", { status: 404, code: "unknown-sitekey" }, /Error code: unknown-sitekey/, true],
    ["error", { status: 503, code: "store-unavailable" }, /Error code: store-unavailable/, true],
    ["offline", "offline", /offline/, false],
  ];
  for (const [state, outcome, text, showsCode] of failures) {
    test(`${state} state for ${outcome.code || outcome} shows a retry button`, async () => {
      const api = fakeApi();
      api.challengeFailure = outcome;
      const { doc } = page({ html: FORM, api });
      const el = /** @type {Element} */ (doc.querySelector(".crowdgate"));
      controls(el).check.click();
      await settle();
      const c = controls(el);
      assert.match(c.status.textContent || "", text);
      assert.equal(/Error code/.test(c.status.textContent || ""), showsCode);
      assert.equal(c.retry.hidden, false);
      api.challengeFailure = null;
      c.retry.click();
      await settle();
      assert.equal(controls(el).panel.hidden, false);
      assert.equal(controls(el).retry.hidden, true);
    });
  }

  test("data-lang chooses the language, navigator.language otherwise", () => {
    const html = `<div class="crowdgate" data-sitekey="k" data-lang="de"></div>
      <div class="crowdgate" data-sitekey="k"></div>`;
    const { doc } = page({ html, languages: ["zh-CN", "en"] });
    const [de, zh] = Array.from(doc.querySelectorAll(".crowdgate")).map((el) => controls(el));
    assert.equal(de.check.textContent, "Ich bin ein Mensch");
    assert.equal(zh.check.textContent, "我是人类");
    assert.equal(zh.root.querySelector(".cg")?.getAttribute("lang"), "zh");
  });

  test("theme and size become classes; unknown values fall back", () => {
    const html = `<div class="crowdgate" data-sitekey="k" data-theme="dark" data-size="compact"></div>
      <div class="crowdgate" data-sitekey="k" data-theme="neon" data-size="huge"></div>`;
    const { doc } = page({ html });
    const [a, b] = Array.from(doc.querySelectorAll(".crowdgate")).map(
      (el) => controls(el).root.querySelector(".cg")?.className,
    );
    assert.equal(a, "cg cg-dark cg-compact");
    assert.equal(b, "cg cg-light cg-normal");
  });

  test("without constructable stylesheets a <style> carries the nonce", () => {
    const html = `<div class="crowdgate" data-sitekey="k" data-nonce="abc123"></div>`;
    const { doc } = page({ html });
    const style = controls(/** @type {Element} */ (doc.querySelector(".crowdgate"))).root
      .querySelector("style");
    assert.equal(style?.getAttribute("nonce"), "abc123");
  });

  test("with constructable stylesheets no <style> element is created", () => {
    const { doc } = page({
      html: FORM,
      before(w) {
        w.CSSStyleSheet = class {
          replaceSync(/** @type {string} */ text) {
            this.text = text;
          }
        };
        Object.defineProperty(w.ShadowRoot.prototype, "adoptedStyleSheets", {
          get() {
            return this._sheets || [];
          },
          set(v) {
            this._sheets = v;
          },
        });
      },
    });
    const root = controls(/** @type {Element} */ (doc.querySelector(".crowdgate"))).root;
    assert.equal(root.querySelector("style"), null);
    assert.equal(/** @type {any} */ (root).adoptedStyleSheets.length, 1);
  });
});
