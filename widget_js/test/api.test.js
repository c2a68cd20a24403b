// @ts-check
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiError, BAD_RESPONSE, createClient, parseChallenge } from "../src/api.js";
import { BASE, fakeApi } from "../test_support/harness.js";

describe("API client", () => {
  test("sends a CORS simple request without credentials", async () => {
    const api = fakeApi();
    await createClient(BASE, api.fetch).challenge("site-1", "shop.example");
    const { url, init, body } = api.requests[0];
    assert.equal(url, `${BASE}/api/v1/challenge`);
    assert.equal(init.method, "POST");
    assert.deepEqual(init.headers, { "Content-Type": "text/plain;charset=UTF-8" });
    assert.equal(init.credentials, "omit");
    assert.deepEqual(body, { sitekey: "site-1", hostname: "shop.example" });
  });

  test("turns an error body into an ApiError with the stable code", async () => {
    const api = fakeApi();
    api.challengeFailure = { status: 404, code: "unknown-sitekey" };
    await assert.rejects(createClient(BASE, api.fetch).challenge("x", "shop.example"), {
      name: "ApiError",
      code: "unknown-sitekey",
      status: 404,
    });
  });

  test("names a non-JSON error by its HTTP status", async () => {
    const fetchFn = async () => new Response("<html>bad gateway</html>", { status: 502 });
    await assert.rejects(createClient(BASE, fetchFn).challenge("x", "h"), { code: "http-502" });
  });

  /** @type {[string, object][]} */
  const broken = [
    ["no id", { grid: 1, tiles: ["AAAA"] }],
    ["grid and tiles disagree", { challenge: "c", grid: 9, tiles: ["AAAA"] }],
    ["a URL for a tile", { challenge: "c", grid: 1, tiles: ["javascript:alert(1)"] }],
    ["an empty tile", { challenge: "c", grid: 1, tiles: [""] }],
    ["image URLs instead of tiles", { challenge: "c", grid: 1, images: ["/a"] }],
  ];
  for (const [name, raw] of broken) {
    test(`rejects a challenge with ${name}`, () => {
      assert.throws(() => parseChallenge(raw), (exc) => {
        return exc instanceof ApiError && exc.code === BAD_RESPONSE;
      });
    });
  }

  test("keeps the base64 tiles as sent and defaults cols to 3", () => {
    const c = parseChallenge({ challenge: "c", grid: 1, tiles: ["UklGRg=="], compat: "x" });
    assert.deepEqual(c.tiles, ["UklGRg=="]);
    assert.equal(c.cols, 3);
    assert.equal(c.compat, "");
  });
});
