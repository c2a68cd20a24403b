// @ts-check
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";

const SRC = new URL("../src/", import.meta.url);
const BUNDLE = new URL("../../service/crowdgate/web/static/widget.js", import.meta.url);
const files = readdirSync(SRC).filter((name) => name.endsWith(".js"));

/** @type {[string, RegExp][]} */
const FORBIDDEN = [
  ["innerHTML", /innerHTML/],
  ["outerHTML", /outerHTML/],
  ["insertAdjacentHTML", /insertAdjacentHTML/],
  ["document.write", /document\.write/],
  ["eval", /\beval\s*\(/],
  ["Function constructor", /\bFunction\s*\(/],
  ["string timers", /setTimeout\(\s*["'`]/],
  ["style attribute", /setAttribute\(\s*["']style["']|\.style\./],
  ["cookies", /document\.cookie/],
  ["web storage", /localStorage|sessionStorage|indexedDB/],
  ["console logging", /console\.(log|info|debug)/],
];

describe("sources and bundle", () => {
  test("there are a handful of source files", () => {
    assert.ok(files.length >= 5 && files.length <= 8, files.join(", "));
  });

  for (const name of files) {
    test(`${name} starts with // @ts-check`, () => {
      assert.ok(readFileSync(new URL(name, SRC), "utf8").startsWith("// @ts-check\n"));
    });
  }

  for (const [what, pattern] of FORBIDDEN) {
    test(`no ${what} in the sources or the bundle`, () => {
      for (const name of files) {
        assert.doesNotMatch(readFileSync(new URL(name, SRC), "utf8"), pattern, name);
      }
      assert.doesNotMatch(readFileSync(BUNDLE, "utf8"), pattern, "widget.js");
    });
  }
});
