// @ts-check
// The committed bundle, loaded by jsdom through a real <script src>, installs itself from
// document.currentScript (this checks the build's module wrapper, not only the sources).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { JSDOM, ResourceLoader } from "jsdom";
import { BASE, controls, fakeApi, settle } from "../test_support/harness.js";

const BUNDLE = readFileSync(
  new URL("../../service/crowdgate/web/static/widget.js", import.meta.url),
);

class CrowdgateOrigin extends ResourceLoader {
  /** @param {string} url @param {any} options */
  fetch(url, options) {
    if (url.startsWith(`${BASE}/widget.js`) || url.startsWith(`${BASE}/recaptcha/api.js`)) {
      return /** @type {any} */ (Promise.resolve(BUNDLE));
    }
    return super.fetch(url, options);
  }
}

/** @param {string} scriptPath @param {string} body */
async function load(scriptPath, body) {
  const api = fakeApi();
  const html = `<!doctype html><body>${body}<script src="${BASE}${scriptPath}" async defer></script>`;
  const dom = new JSDOM(html, {
    url: "https://shop.example/",
    runScripts: "dangerously",
    resources: new CrowdgateOrigin(),
    beforeParse(/** @type {any} */ win) {
      win.fetch = api.fetch;
    },
  });
  await new Promise((resolve) => dom.window.addEventListener("load", resolve));
  return { win: /** @type {any} */ (dom.window), api };
}

describe("committed bundle", () => {
  test("auto-renders and talks to the origin it was loaded from", async () => {
    const { win, api } = await load(
      "/widget.js",
      '<form><div class="crowdgate" data-sitekey="k"></div></form>',
    );
    assert.equal(typeof win.crowdgate.render, "function");
    assert.equal(win.grecaptcha, undefined);
    const el = win.document.querySelector(".crowdgate");
    controls(el).check.click();
    await settle();
    assert.equal(api.requests[0].url, `${BASE}/api/v1/challenge`);
    assert.deepEqual(api.requests[0].body, { sitekey: "k", hostname: "shop.example" });
    assert.equal(controls(el).tiles.length, 9);
    win.close();
  });

  test("served as /recaptcha/api.js it runs in reCAPTCHA compatibility mode", async () => {
    let loaded = 0;
    const { win } = await load(
      "/recaptcha/api.js?onload=cgLoaded",
      '<script>window.cgLoaded = () => { window.loadedCount = (window.loadedCount || 0) + 1; };' +
        '</script><div class="g-recaptcha" data-sitekey="k"></div>',
    );
    loaded = win.loadedCount;
    assert.equal(loaded, 1);
    assert.equal(typeof win.grecaptcha.getResponse, "function");
    const names = Array.from(win.document.querySelectorAll("input")).map((i) => i.name);
    assert.deepEqual(names, ["crowdgate-response", "g-recaptcha-response"]);
    win.close();
  });
});
