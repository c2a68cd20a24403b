// @ts-check
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { JSDOM } from "jsdom";
import { install, readScript, resolveCallback } from "../src/main.js";

describe("readScript", () => {
  /** @type {[string, string, Partial<ReturnType<typeof readScript>>][]} */
  const cases = [
    ["root widget.js", "https://gate.example/widget.js", { base: "https://gate.example", compat: "" }],
    ["recaptcha path", "https://gate.example/recaptcha/api.js", { compat: "recaptcha" }],
    ["compat query wins", "https://gate.example/recaptcha/api.js?compat=hcaptcha", { compat: "hcaptcha" }],
    ["unknown compat ignored", "https://gate.example/widget.js?compat=turnstile", { compat: "" }],
    ["sub-path mount", "https://example.com/cg/widget.js", { base: "https://example.com/cg" }],
    [
      "explicit with onload and hl",
      "https://gate.example/widget.js?onload=go&render=explicit&hl=fr",
      { onload: "go", explicit: true, lang: "fr" },
    ],
  ];
  for (const [name, src, expected] of cases) {
    test(name, () => {
      const got = readScript(src, "");
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(got[/** @type {keyof typeof got} */ (key)], value, key);
      }
    });
  }
});

describe("resolveCallback", () => {
  const win = { app: { done() {} }, plain() {}, notFn: 3 };
  /** @type {[string, unknown, boolean][]} */
  const cases = [
    ["global function", "plain", true],
    ["dotted path", "app.done", true],
    ["function value", () => {}, true],
    ["not a function", "notFn", false],
    ["missing", "nope.deeper", false],
    ["code is not evaluated", "plain()", false],
    ["prototype walk refused", "constructor.constructor", false],
    ["__proto__ refused", "__proto__", false],
    ["empty", "", false],
  ];
  for (const [name, ref, found] of cases) {
    test(name, () => assert.equal(resolveCallback(win, ref) !== null, found));
  }
});

test("without document.currentScript the widget finds its script tag", () => {
  const dom = new JSDOM(
    '<script src="https://gate.example/recaptcha/api.js?render=explicit"></script>',
    { url: "https://shop.example/" },
  );
  const win = /** @type {any} */ (dom.window);
  install(win, null);
  assert.equal(typeof win.grecaptcha.render, "function");
});
