// @ts-check
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { ApiError, createClient } from "../src/api.js";
import { createMachine } from "../src/machine.js";
import { POW_CANCELLED, POW_UNSUPPORTED, solvePuzzle, zeroBits } from "../src/pow.js";
import { BASE, fakeApi } from "../test_support/harness.js";

const subtle = globalThis.crypto.subtle;
const pause = () => new Promise((resume) => setImmediate(resume));

/** Leading zero bits of SHA-256(puzzle ":" nonce), computed by Node, not by the solver. */
function bitsOf(/** @type {string} */ puzzle, /** @type {string} */ nonce) {
  const digest = createHash("sha256").update(`${puzzle}:${nonce}`).digest();
  let n = 0;
  for (const byte of digest) {
    if (byte) return n + Math.clz32(byte) - 24;
    n += 8;
  }
  return n;
}

const newPuzzle = () =>
  randomBytes(42).toString("base64url") + "." + randomBytes(16).toString("base64url");

/**
 * A crowdgate stand-in that asks `bits` of proof of work: every challenge request without a
 * solution of its last puzzle is refused with a fresh one, as the service does.
 * @param {number} bits
 * @param {{ refuseAll?: boolean }} [options]
 */
function gatedApi(bits, options = {}) {
  const api = fakeApi();
  const plain = api.fetch;
  let last = "";
  api.fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    if (url === `${BASE}/api/v1/challenge`) {
      const pow = body.pow;
      const good = pow && pow.puzzle === last && bitsOf(pow.puzzle, pow.nonce) >= bits;
      if (!good || options.refuseAll) {
        api.requests.push({ url, init, body });
        last = newPuzzle();
        const code = pow ? "pow-invalid" : "pow-required";
        const fresh = { puzzle: last, bits, expires_in: 120 };
        return Response.json({ code, message: "Solve this.", pow: fresh }, { status: 403 });
      }
    }
    return plain(url, init);
  };
  return api;
}

/** @param {ReturnType<typeof fakeApi>} api */
function machineOver(api) {
  const log = /** @type {string[]} */ ([]);
  const machine = createMachine({
    client: createClient(BASE, api.fetch),
    sitekey: "site-1",
    hostname: "shop.example",
    timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h) },
    onChange: (state) => log.push(state.name),
    onError: (code) => log.push(`error:${code}`),
    solve: (puzzle, cancelled) => solvePuzzle(puzzle, { subtle, pause, cancelled }),
  });
  return { log, machine };
}

/** @param {() => boolean} done */
async function until(done) {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(done(), "timed out");
}

describe("proof of work", () => {
  test("zeroBits counts leading zero bits across bytes", () => {
    assert.equal(zeroBits(new Uint8Array([0, 0x0f, 0xff])), 12);
    assert.equal(zeroBits(new Uint8Array([0x80, 0])), 0);
    assert.equal(zeroBits(new Uint8Array([0, 0])), 16);
  });

  test("the solver finds a nonce Node's SHA-256 agrees with, pausing between batches", async () => {
    const puzzle = newPuzzle();
    let pauses = 0;
    const solved = await solvePuzzle(
      { puzzle, bits: 12 },
      { subtle, pause: () => ((pauses += 1), pause()), batch: 64 },
    );
    assert.equal(solved.puzzle, puzzle);
    assert.match(solved.nonce, /^[0-9a-z]{1,32}$/);
    assert.ok(bitsOf(puzzle, solved.nonce) >= 12);
    assert.equal(pauses, Math.floor(parseInt(solved.nonce, 36) / 64));
  });

  test("without crypto.subtle (an insecure page) the solver reports pow-unsupported", async () => {
    const exc = await solvePuzzle({ puzzle: "p.q", bits: 8 }, { subtle: undefined, pause }).catch(
      (e) => e,
    );
    assert.ok(exc instanceof ApiError);
    assert.equal(exc.code, POW_UNSUPPORTED);
  });

  test("an abandoned solve stops at the next pause", async () => {
    const run = solvePuzzle({ puzzle: "p.q", bits: 32 }, { subtle, pause, cancelled: () => true });
    assert.equal((await run.catch((e) => e)).code, POW_CANCELLED);
  });

  test("a gated site: loading -> solving -> grid, the retry carrying the solution", async () => {
    const api = gatedApi(8);
    const { log, machine } = machineOver(api);
    machine.open();
    await until(() => machine.state.name === "grid");
    assert.deepEqual(log, ["loading", "solving", "grid"]);
    const [first, second] = api.requests;
    assert.deepEqual(first.body, { sitekey: "site-1", hostname: "shop.example" });
    assert.equal(second.body.pow.puzzle.length > 20, true);
    assert.ok(bitsOf(second.body.pow.puzzle, second.body.pow.nonce) >= 8);
  });

  test("after two refused solutions the widget shows the server's error code", async () => {
    const api = gatedApi(4, { refuseAll: true });
    const { log, machine } = machineOver(api);
    machine.open();
    await until(() => machine.state.name === "error");
    assert.equal(machine.state.code, "pow-invalid");
    assert.equal(api.requests.length, 3);
    assert.deepEqual(log, ["loading", "solving", "solving", "error", "error:pow-invalid"]);
  });

  test("a site without proof of work gets no pow field and no extra round trip", async () => {
    const api = fakeApi();
    const { log, machine } = machineOver(api);
    machine.open();
    await until(() => machine.state.name === "grid");
    assert.deepEqual(log, ["loading", "grid"]);
    assert.equal(api.requests.length, 1);
    assert.equal("pow" in api.requests[0].body, false);
  });
});
