// @ts-check
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { LANGS, MESSAGES, pickLang, translate } from "../src/i18n.js";

const KEYS = Object.keys(MESSAGES.en);
/** @param {string} text */
const placeholders = (text) => (text.match(/\{\w+\}/g) || []).sort();

describe("translation table", () => {
  for (const lang of LANGS) {
    test(`${lang} translates every key with the same placeholders`, () => {
      const table = /** @type {Record<string, string>} */ (MESSAGES[lang]);
      assert.deepEqual(Object.keys(table).sort(), [...KEYS].sort());
      for (const key of KEYS) {
        assert.ok(table[key].trim(), `${lang}.${key} is empty`);
        const english = /** @type {Record<string, string>} */ (MESSAGES.en)[key];
        assert.deepEqual(placeholders(table[key]), placeholders(english), `${lang}.${key}`);
      }
    });
  }

  test("non-English tables differ from English for the checkbox label", () => {
    for (const lang of LANGS.filter((l) => l !== "en")) {
      assert.notEqual(translate(lang, "checkbox"), translate("en", "checkbox"));
    }
  });
});

describe("pickLang", () => {
  /** @type {[string, (string | null | undefined)[], string][]} */
  const cases = [
    ["exact tag", ["de"], "de"],
    ["region subtag", ["es-419"], "es"],
    ["underscore form", ["fr_CA"], "fr"],
    ["upper case", ["ZH-CN"], "zh"],
    ["traditional Chinese maps to zh", ["zh-Hant-TW"], "zh"],
    ["first supported wins", ["pt-BR", "fr", "de"], "fr"],
    ["empty entries skipped", ["", null, undefined, "de-AT"], "de"],
    ["unsupported falls back to English", ["pt", "ja"], "en"],
    ["nothing falls back to English", [], "en"],
  ];
  for (const [name, candidates, expected] of cases) {
    test(name, () => assert.equal(pickLang(candidates), expected));
  }
});

describe("translate", () => {
  test("fills placeholders", () => {
    assert.equal(translate("en", "tile", { n: 2, total: 9 }), "Image 2 of 9");
    assert.equal(translate("de", "code", { code: "rate-limited" }), "Fehlercode: rate-limited");
  });

  test("leaves unknown placeholders as they are", () => {
    assert.equal(translate("en", "tile", { n: 1 }), "Image 1 of {total}");
  });

  test("falls back to English one string at a time", () => {
    const table = /** @type {Record<string, string>} */ (MESSAGES.fr);
    const saved = table.verify;
    delete table.verify;
    try {
      assert.equal(translate("fr", "verify"), "Verify");
      assert.equal(translate("fr", "retry"), "Réessayer");
    } finally {
      table.verify = saved;
    }
  });

  test("an unknown language reads English", () => {
    assert.equal(translate(/** @type {any} */ ("xx"), "retry"), "Try again");
  });
});
