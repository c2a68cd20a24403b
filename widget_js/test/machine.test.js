// @ts-check
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { ApiError, OFFLINE } from "../src/api.js";
import { createMachine } from "../src/machine.js";
import { BASE, fakeApi, settle } from "../test_support/harness.js";
import { createClient } from "../src/api.js";

/**
 * A machine over the fetch stand-in, recording state names and callbacks.
 * @param {Partial<import("../src/machine.js").MachineOptions>} [extra]
 */
function setup(extra = {}) {
  const api = fakeApi();
  const log = /** @type {string[]} */ ([]);
  const machine = createMachine({
    client: createClient(BASE, api.fetch),
    sitekey: "site-1",
    hostname: "shop.example",
    timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h) },
    onChange: (state) => log.push(state.name),
    onVerified: (token) => log.push(`verified:${token}`),
    onExpired: () => log.push("expired-callback"),
    onError: (code) => log.push(`error:${code}`),
    ...extra,
  });
  return { api, log, machine };
}

describe("state machine", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  test("idle -> loading -> grid -> verifying -> passed", async () => {
    const { log, machine } = setup();
    assert.equal(machine.state.name, "idle");
    machine.open();
    assert.equal(machine.state.name, "loading");
    await settle();
    assert.equal(machine.state.name, "grid");
    assert.equal(machine.state.challenge?.tiles.length, 9);
    machine.toggle(4);
    machine.toggle(0);
    assert.deepEqual(machine.state.selected, [0, 4]);
    machine.verify();
    assert.equal(machine.state.name, "verifying");
    await settle();
    assert.equal(machine.state.name, "passed");
    assert.equal(machine.state.open, false);
    assert.match(machine.state.token, /^token-/);
    assert.deepEqual(log.slice(0, 6), ["loading", "grid", "grid", "grid", "verifying", "passed"]);
    assert.match(log[6], /^verified:token-/);
  });

  test("the answer carries the selected slots in ascending order", async () => {
    const { api, machine } = setup();
    machine.open();
    await settle();
    for (const i of [7, 2, 5, 2]) machine.toggle(i);
    machine.verify();
    await settle();
    assert.deepEqual(api.requests[1].body, { selected: [5, 7] });
    assert.match(api.requests[1].url, /\/api\/v1\/challenge\/ch1\/answer$/);
  });

  test("a wrong answer shows the next challenge in the failed state", async () => {
    const { api, machine } = setup();
    api.answers.push("fail");
    machine.open();
    await settle();
    machine.toggle(1);
    machine.verify();
    await settle();
    assert.equal(machine.state.name, "failed");
    assert.equal(machine.state.challenge?.challenge, "ch2");
    assert.deepEqual(machine.state.selected, []);
    machine.toggle(3);
    machine.verify();
    await settle();
    assert.equal(machine.state.name, "passed");
  });

  test("a server error moves to the error state with its code", async () => {
    const { api, log, machine } = setup();
    api.challengeFailure = { status: 429, code: "rate-limited" };
    machine.open();
    await settle();
    assert.equal(machine.state.name, "error");
    assert.equal(machine.state.code, "rate-limited");
    assert.ok(log.includes("error:rate-limited"));
    api.challengeFailure = null;
    machine.reload();
    await settle();
    assert.equal(machine.state.name, "grid");
  });

  test("a network failure moves to the offline state", async () => {
    const { api, machine } = setup();
    api.challengeFailure = "offline";
    machine.open();
    await settle();
    assert.equal(machine.state.name, "offline");
    assert.equal(machine.state.code, OFFLINE);
  });

  test("an expired challenge on answer is an error with its code", async () => {
    const { api, machine } = setup();
    api.answers.push({ status: 410, code: "challenge-expired" });
    machine.open();
    await settle();
    machine.verify();
    await settle();
    assert.equal(machine.state.name, "error");
    assert.equal(machine.state.code, "challenge-expired");
  });

  test("the token expires after expires_in and the expired callback fires", async () => {
    const { log, machine } = setup();
    machine.open();
    await settle();
    machine.verify();
    await settle();
    mock.timers.tick(119_999);
    assert.equal(machine.state.name, "passed");
    mock.timers.tick(1);
    assert.equal(machine.state.name, "expired");
    assert.equal(machine.state.token, "");
    assert.equal(log.at(-1), "expired-callback");
    machine.open();
    assert.equal(machine.state.name, "loading");
  });

  test("reset during loading drops the late response", async () => {
    const { api, machine } = setup();
    api.hold = true;
    machine.open();
    await settle();
    machine.reset();
    api.release();
    await settle();
    assert.equal(machine.state.name, "idle");
  });

  test("reset after a pass cancels the expiry timer silently", async () => {
    const { log, machine } = setup();
    machine.open();
    await settle();
    machine.verify();
    await settle();
    machine.reset();
    mock.timers.tick(200_000);
    assert.equal(machine.state.name, "idle");
    assert.ok(!log.includes("expired-callback"));
  });

  test("close returns to idle and ignores intents that do not apply", async () => {
    const { machine } = setup();
    machine.verify();
    machine.toggle(0);
    assert.equal(machine.state.name, "idle");
    machine.open();
    await settle();
    machine.toggle(99);
    assert.deepEqual(machine.state.selected, []);
    machine.close();
    assert.equal(machine.state.name, "idle");
    assert.equal(machine.state.challenge, null);
  });

  test("ApiError keeps the server code and status", () => {
    const exc = new ApiError("unknown-sitekey", "No such site.", 404);
    assert.equal(exc.code, "unknown-sitekey");
    assert.equal(exc.status, 404);
  });

  test("grid -> alternative -> passed: the puzzle is solved and redeemed, no tile answered", async () => {
    /** @type {string[]} */
    const asked = [];
    const { api, log, machine } = setup({
      solve: async (puzzle) => {
        asked.push(`${puzzle.puzzle}/${puzzle.bits}`);
        return { puzzle: puzzle.puzzle, nonce: "solved" };
      },
    });
    machine.open();
    await settle();
    machine.alternative();
    assert.equal(machine.state.name, "alternative");
    assert.equal(machine.state.challenge, null, "the grid is put away");
    await settle();
    assert.deepEqual(asked, ["alt-puzzle/4"]);
    assert.equal(machine.state.name, "passed");
    assert.equal(machine.state.token, "alt-token");
    assert.ok(log.includes("verified:alt-token"));
    const paths = api.requests.map((r) => r.url.slice(BASE.length));
    assert.deepEqual(paths, ["/api/v1/challenge", "/api/v1/alternative", "/api/v1/alternative"]);
    assert.equal(api.requests[1].body.pow, undefined);
    assert.deepEqual(api.requests[2].body.pow, { puzzle: "alt-puzzle", nonce: "solved" });
  });

  test("a refused alternative solution ends in the error state with its code", async () => {
    const { log, machine } = setup({
      solve: async (puzzle) => ({ puzzle: puzzle.puzzle, nonce: "wrong" }),
    });
    machine.open();
    await settle();
    machine.alternative();
    await settle();
    assert.equal(machine.state.name, "error");
    assert.equal(machine.state.code, "pow-invalid");
    assert.ok(log.includes("error:pow-invalid"));
  });

  test("the alternative is not taken when the site does not offer it", async () => {
    const { api, machine } = setup({ solve: async () => ({ puzzle: "p", nonce: "n" }) });
    api.alternative = false;
    machine.open();
    await settle();
    machine.alternative();
    assert.equal(machine.state.name, "grid");
    assert.equal(api.requests.length, 1);
  });

  test("reset during the alternative drops its late token", async () => {
    /** @type {(v: any) => void} */
    let finish = () => {};
    const { log, machine } = setup({
      solve: () => new Promise((resolve) => (finish = resolve)),
    });
    machine.open();
    await settle();
    machine.alternative();
    await settle();
    machine.reset();
    finish({ puzzle: "alt-puzzle", nonce: "solved" });
    await settle();
    assert.equal(machine.state.name, "idle");
    assert.ok(!log.some((entry) => entry.startsWith("verified:")));
  });
});
