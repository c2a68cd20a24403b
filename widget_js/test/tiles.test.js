// @ts-check
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { fromBase64, sniffType } from "../src/tiles.js";

describe("tile bytes", () => {
  test("names JPEG, PNG and WebP by their signatures and nothing else", () => {
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    const webp = new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WEBPVP8 ");
    assert.equal(sniffType(jpeg), "image/jpeg");
    assert.equal(sniffType(png), "image/png");
    assert.equal(sniffType(webp), "image/webp");
    assert.equal(sniffType(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WAVEfmt ")), "");
    assert.equal(sniffType(new TextEncoder().encode("<svg onload=alert(1)>")), "");
    assert.equal(sniffType(new Uint8Array(0)), "");
  });

  test("decodes base64 to the exact bytes", () => {
    assert.deepEqual(Array.from(fromBase64(atob, "/9j/4A==")), [0xff, 0xd8, 0xff, 0xe0]);
  });
});
