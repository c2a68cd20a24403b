// @ts-check
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CONTRAST_PAIRS, CSS, PALETTES } from "../src/style.js";

/** WCAG 2.x relative luminance of a #rrggbb colour. @param {string} hex */
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** @param {string} a @param {string} b */
function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe("contrast", () => {
  test("the formula matches WCAG's reference values", () => {
    assert.equal(contrast("#000000", "#ffffff").toFixed(1), "21.0");
    assert.equal(contrast("#777777", "#ffffff").toFixed(2), "4.48");
  });

  for (const [theme, palette] of Object.entries(PALETTES)) {
    for (const { fg, bg, min } of CONTRAST_PAIRS) {
      test(`${theme}: ${fg} on ${bg} reaches ${min}:1`, () => {
        const ratio = contrast(palette[fg], palette[bg]);
        assert.ok(ratio >= min, `${palette[fg]} on ${palette[bg]} is ${ratio.toFixed(2)}:1`);
      });
    }
  }

  test("every text pair of WCAG AA is checked at 4.5:1", () => {
    const text = CONTRAST_PAIRS.filter((p) => p.min >= 4.5).map((p) => `${p.fg}/${p.bg}`);
    for (const pair of ["fg/bg", "muted/bg", "accentFg/accent", "error/bg", "ok/bg"]) {
      assert.ok(text.includes(pair), pair);
    }
  });
});

describe("stylesheet", () => {
  test("loads nothing from another origin", () => {
    assert.doesNotMatch(CSS, /url\(|@import/);
  });

  test("animates only when reduced motion is not requested", () => {
    const motionFree = CSS.replace(/@media \(prefers-reduced-motion:no-preference\)\{[^]*?\n\}/, "");
    assert.doesNotMatch(motionFree, /animation:|transition:/);
  });

  test("shows a focus ring", () => {
    assert.match(CSS, /:focus-visible\{outline:3px solid var\(--focus\)/);
  });
});
