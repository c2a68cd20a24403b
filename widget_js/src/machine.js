// @ts-check
// The widget's state machine. It knows nothing about the DOM: the view renders its state and
// forwards user intents (open, toggle, verify, reload, close) to it.
//
//   idle/expired/error/offline --open--> loading --> grid --verify--> verifying
//   loading --pow-* error with a puzzle--> solving --> grid (at most two solves, then error)
//   verifying --> passed (token, expires after expires_in) | failed (next challenge)
//             --> error | offline
//   failed behaves like grid; passed --timer--> expired; reset() returns to idle from anywhere.
//   grid/failed --fault (a tile did not decode)--> error
//   grid/failed --alternative--> alternative (puzzle, solve, redeem) --> passed | error | offline

import { ApiError, BAD_RESPONSE, OFFLINE } from "./api.js";

/**
 * @typedef {"idle" | "loading" | "solving" | "grid" | "verifying" | "failed" | "passed"
 *   | "alternative" | "expired" | "error" | "offline"} StateName
 */

/**
 * Snapshot handed to listeners; never mutated after it is published.
 * @typedef {{
 *   name: StateName,
 *   open: boolean,
 *   challenge: import("./api.js").Challenge | null,
 *   selected: number[],
 *   token: string,
 *   code: string,
 * }} State
 */

/**
 * @typedef {{
 *   setTimeout: (fn: () => void, ms: number) => any,
 *   clearTimeout: (handle: any) => void,
 * }} Timers
 */

/**
 * @typedef {{
 *   client: Pick<import("./api.js").Client,
 *     "challenge" | "answer" | "alternativePuzzle" | "alternativePass">,
 *   sitekey: string,
 *   hostname: string,
 *   timers: Timers,
 *   onChange?: (state: State, previous: State) => void,
 *   onVerified?: (token: string) => void,
 *   onExpired?: () => void,
 *   onError?: (code: string) => void,
 *   onCompat?: (compat: string) => void,
 *   solve?: (puzzle: import("./api.js").Puzzle, cancelled: () => boolean)
 *     => Promise<import("./api.js").Proof>,
 * }} MachineOptions
 */

/** Puzzles solved for one challenge request before a refusal is reported as an error. */
const MAX_POW_ROUNDS = 2;

/** @type {State} */
const IDLE = Object.freeze({
  name: "idle",
  open: false,
  challenge: null,
  selected: [],
  token: "",
  code: "",
});

/**
 * Create one widget's state machine.
 * @param {MachineOptions} options
 */
export function createMachine(options) {
  const { client, timers } = options;
  /** @type {State} */
  let state = IDLE;
  // Bumped by every request and by reset(): a late answer to an abandoned request is dropped.
  let seq = 0;
  /** @type {any} */
  let expiryTimer = null;

  /** @param {Partial<State>} patch */
  function set(patch) {
    const previous = state;
    state = Object.freeze({ ...state, ...patch });
    if (options.onChange) options.onChange(state, previous);
  }

  function clearExpiry() {
    if (expiryTimer !== null) timers.clearTimeout(expiryTimer);
    expiryTimer = null;
  }

  /** @param {unknown} exc */
  function fail(exc) {
    const code = exc instanceof ApiError ? exc.code : BAD_RESPONSE;
    set({ name: code === OFFLINE ? "offline" : "error", open: false, code, challenge: null });
    if (options.onError) options.onError(code);
  }

  /** @param {import("./api.js").Challenge} challenge */
  function announceCompat(challenge) {
    if (challenge.compat && options.onCompat) options.onCompat(challenge.compat);
  }

  function load() {
    const mine = ++seq;
    set({ name: "loading", open: true, code: "", selected: [] });
    request(mine, undefined, 0);
  }

  /**
   * Ask for a challenge; on a refusal carrying a puzzle, solve it and ask again.
   * @param {number} mine
   * @param {import("./api.js").Proof | undefined} proof
   * @param {number} rounds Puzzles solved so far for this request.
   */
  function request(mine, proof, rounds) {
    client.challenge(options.sitekey, options.hostname, proof).then(
      (challenge) => {
        if (mine !== seq) return;
        announceCompat(challenge);
        set({ name: "grid", challenge, selected: [] });
      },
      (exc) => {
        if (mine !== seq) return;
        const puzzle = exc instanceof ApiError ? exc.pow : null;
        if (!puzzle || !options.solve || rounds >= MAX_POW_ROUNDS) return fail(exc);
        set({ name: "solving" });
        options.solve(puzzle, () => mine !== seq).then(
          (solved) => {
            if (mine === seq) request(mine, solved, rounds + 1);
          },
          (err) => {
            if (mine === seq) fail(err);
          },
        );
      },
    );
  }

  function expire() {
    expiryTimer = null;
    if (state.name !== "passed") return;
    set({ ...IDLE, name: "expired" });
    if (options.onExpired) options.onExpired();
  }

  const canAnswer = () => state.name === "grid" || state.name === "failed";

  /** @param {import("./api.js").Pass} pass */
  function passed(pass) {
    clearExpiry();
    expiryTimer = timers.setTimeout(expire, pass.expires_in * 1000);
    set({ ...IDLE, name: "passed", token: pass.token });
    if (options.onVerified) options.onVerified(pass.token);
  }

  return {
    /** @returns {State} */
    get state() {
      return state;
    },

    /** Open the challenge (from the checkbox); ignored while busy or already passed. */
    open() {
      if (["idle", "expired", "error", "offline"].includes(state.name)) load();
    },

    /** Fetch another challenge while the grid is open, or retry after an error. */
    reload() {
      if (canAnswer() || state.name === "error" || state.name === "offline") load();
    },

    /** @param {number} index Slot index to select or deselect. */
    toggle(index) {
      const ch = state.challenge;
      if (!canAnswer() || !ch || index < 0 || index >= ch.grid) return;
      const chosen = state.selected.includes(index)
        ? state.selected.filter((i) => i !== index)
        : [...state.selected, index].sort((a, b) => a - b);
      set({ selected: chosen });
    },

    /** Submit the current selection. */
    verify() {
      const ch = state.challenge;
      if (!canAnswer() || !ch) return;
      const mine = ++seq;
      set({ name: "verifying" });
      client.answer(ch.challenge, state.selected).then(
        (verdict) => {
          if (mine !== seq) return;
          if (verdict.success) {
            passed(verdict);
          } else {
            announceCompat(verdict.next);
            set({ name: "failed", challenge: verdict.next, selected: [], code: verdict.code });
          }
        },
        (exc) => {
          if (mine === seq) fail(exc);
        },
      );
    },

    /**
     * Take the accessible path instead of the grid (when the site offers it): solve its
     * proof of work and receive a token without answering images.
     */
    alternative() {
      const ch = state.challenge;
      if (!canAnswer() || !ch || !ch.alternative) return;
      const mine = ++seq;
      const { sitekey, hostname } = options;
      set({ name: "alternative", challenge: null, selected: [], code: "" });
      const solve = options.solve;
      client
        .alternativePuzzle(sitekey, hostname)
        .then((puzzle) => {
          if (mine !== seq) return null;
          if (!solve) throw new ApiError(BAD_RESPONSE, "This widget cannot solve puzzles.", 0);
          return solve(puzzle, () => mine !== seq).then((proof) =>
            mine === seq ? client.alternativePass(sitekey, hostname, proof) : null,
          );
        })
        .then(
          (pass) => {
            if (pass && mine === seq) passed(pass);
          },
          (exc) => {
            if (mine === seq) fail(exc);
          },
        );
    },

    /**
     * Report that the shown grid cannot be drawn (a tile did not decode): the error state.
     * @param {string} code
     */
    fault(code) {
      if (!state.challenge) return;
      seq++;
      fail(new ApiError(code, "A tile of the challenge could not be drawn.", 0));
    },

    /** Close the grid without answering (Escape); the challenge is dropped. */
    close() {
      if (!state.open) return;
      seq++;
      set(IDLE);
    },

    /** Forget everything (token included) and return to idle; no callback fires. */
    reset() {
      seq++;
      clearExpiry();
      set(IDLE);
    },
  };
}

/** @typedef {ReturnType<typeof createMachine>} Machine */
