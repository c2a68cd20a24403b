"""Bots that learn to pass without reading images, played against the digits demo over HTTP.

For each attack (see ``crowdgate.simulate.attackers``) a fresh ``crowdgate serve`` (SQLite,
2 workers, behind one simulated proxy so each grid's ``X-Forwarded-For`` is its address) gets
the digits demo exactly as ``make demo`` builds it (``crowdgate.demo.ensure_demo``: all 1,797
digits, about 10 % gold), and the attacker plays ``--grids`` grids, each from a fresh address.
The perfect-recognition attackers are handed each tile's item identity by reading the issued
challenge from the store (the simulator's oracle; no client can do this). The harness also
reads, for every grid, how many unlabeled slots it had.

Every ``--worker-every`` grids it runs what ``crowdgate worker`` runs when due (full
consensus, the gold pool of ``crowdgate.goldpool``, committee retrain).

Reported per attack: pass rate over the first 250 grids, the last 500, and every window of
250 grids; unlabeled slots per passed grid; the gold pool (promoted items and their accuracy
against the truth, retired, active gold) and the attacker's answers on gold tiles the first
time each is served as gold, imported against promoted.

Usage: python bench/attacks/run.py [--grids 3000] [--attacks random,bytes,...] [--label NAME]
       [--write-results]
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crowdgate import demo, goldpool, trainer
from crowdgate.challenge.service import ChallengeService, Client
from crowdgate.config import Settings
from crowdgate.errors import CrowdgateError
from crowdgate.simulate import CAREFUL, SLOPPY, Visitor, choose, digits
from crowdgate.simulate.attackers import (
    ATTACKS,
    NEEDS_ORACLE,
    RECOGNIZER,
    AttackRun,
    HttpTransport,
    Transport,
)
from crowdgate.simulate.client import ServiceError
from crowdgate.simulate.local import SECRET, LocalServer
from crowdgate.store import Store, open_store

HERE = Path(__file__).resolve().parent


class ChallengeOracle:
    """Reads an issued challenge from the store: its item ids and its unlabeled slots."""

    def __init__(self, store: Store):
        self.store = store
        self.last_open = -1
        self.last = None

    def __call__(self, challenge_id: str) -> list[str]:
        challenge = self.store.get_challenge(challenge_id, time.time())
        self.last = challenge
        if challenge is None:
            return []
        self.last_open = sum(not s.gold for s in challenge.slots)
        return [s.item for s in challenge.slots]


class GoldWatch:
    """Tallies an attacker's answers on gold tiles the first time each is served as gold.

    Promoted gold was asked as an open item before (under the committee's predicted label), so
    a memorizer may already know it: its first answers on promoted gold, against imported
    gold's, measure that leak. Also checks every promoted item against the digits truth.
    """

    def __init__(self, store: Store, truth: dict[str, str]):
        self.store = store
        self.truth = truth
        self.seen: set[str] = set()
        self.first = {"imported": [0, 0], "promoted": [0, 0]}

    def grid(self, challenge: object, picks: list[int]) -> None:
        """Count the first-as-gold answers of one answered grid."""
        if challenge is None:
            return
        for i, slot in enumerate(challenge.slots):
            if not slot.gold or slot.item in self.seen:
                continue
            self.seen.add(slot.item)
            item = self.store.get_item(demo.PROJECT, slot.item)
            kind = (
                "promoted"
                if item and goldpool.PROMOTED_BY in (item.consensus_by or "")
                else "imported"
            )
            self.first[kind][0] += 1
            self.first[kind][1] += (i in picks) == bool(slot.truth)

    def figures(self) -> dict:
        """Return first-sighting accuracy per kind and the promoted gold's accuracy."""
        gold = self.store.list_items(demo.PROJECT, state="gold", limit=10**6)
        promoted = [i for i in gold if goldpool.PROMOTED_BY in (i.consensus_by or "")]
        right = sum(self.truth.get(i.filename) == i.label for i in promoted)
        stats = self.store.get_stats(demo.PROJECT)
        return {
            "first_right": {k: round(r / n, 3) if n else None for k, (n, r) in self.first.items()},
            "first_seen": {k: n for k, (n, _) in self.first.items()},
            "promoted": len(promoted),
            "promoted_accuracy": round(right / len(promoted), 4) if promoted else None,
            "retired": int(stats.get(goldpool.RETIRED, 0)),
            "active_gold": sum(self.store.gold_labels(demo.PROJECT).values()),
        }


def read_truth(data: Path) -> dict[str, str]:
    """Return the demo's true label per file name."""
    with (data / "demo-images" / "truth.csv").open() as fh:
        return {row["file"]: row["label"] for row in csv.DictReader(fh)}


def worker_pass(store: Store) -> None:
    """Run what the deployment's worker runs when due: consensus, gold pool, committee retrain.

    Due as ``crowdgate worker`` decides it (``trainer.due``): after the default 20 new labels.
    """
    project = store.get_project(demo.PROJECT)
    assert project is not None
    if trainer.due(store, project, Settings.retrain_every_labels, math.inf):
        trainer.retrain(store, project, random_state=0)


class CoreTransport:
    """Grids from the challenge core in this process (no HTTP), as the web layer calls it."""

    def __init__(self, service: ChallengeService, sitekey: str, host: str = "localhost"):
        self.service = service
        self.sitekey = sitekey
        self.host = host

    def _client(self, address: str, user_agent: str) -> Client:
        return Client(address=address, user_agent=user_agent, origin_host=self.host)

    def ask(self, address: str, user_agent: str) -> dict | str:
        client = self._client(address, user_agent)
        try:
            challenge = self.service.issue(self.sitekey, self.host, client)
            # the tiles as the challenge JSON carries them (one response, base64)
            tiles = [base64.b64decode(t) for t in self.service.describe(challenge)["tiles"]]
        except CrowdgateError as exc:
            return exc.code
        return {"challenge": challenge.id, "label": challenge.label, "_tiles": tiles}

    def answer(self, grid: dict, picks: list[int], address: str, user_agent: str) -> bool | str:
        try:
            result = self.service.answer(
                grid["challenge"], picks, self._client(address, user_agent)
            )
        except CrowdgateError as exc:
            return exc.code
        return result.success

    def close(self) -> None:
        return None


class Careful:
    """A careful person (the simulator's ``careful`` visitor) answering first tries."""

    kind = CAREFUL

    def __init__(self, seed: int):
        images, _ = digits.load()
        self.perceiver = digits.reference_perceiver(range(len(images)), random_state=seed)
        self.visitor = Visitor.make(0, CAREFUL, seed, 1)

    def keys(self, tiles: list[bytes], items: list[str] | None) -> list:
        return list(self.perceiver.vectors(tiles))

    def choose(self, label: str, keys: list) -> list[int]:
        return choose(self.visitor, label, np.asarray(keys), self.perceiver, None)

    def learn(self, label: str, keys: list, picks: list[int], passed: bool) -> None:
        return None


def template(folder: Path, variants: int | None) -> tuple[Path, demo.DemoInfo]:
    """Build the demo once (import, then one committee retrain); return its data dir."""
    data = folder / "template"
    extra = {} if variants is None else {"tile_variants": variants}
    settings = Settings.from_env(data_dir=data, secret_key=SECRET, **extra)
    if (data / "demo.json").exists():
        return data, demo.DemoInfo(**json.loads((data / "demo.json").read_text()))
    store = open_store(settings.store_uri)
    try:
        info = demo.ensure_demo(store, settings)
        project = store.get_project(demo.PROJECT)
        assert project is not None
        # A running deployment's worker retrains soon after import; from then on open items
        # are asked under the committee's predicted label (one of the leaks measured here).
        trainer.retrain(store, project, random_state=0)
    finally:
        store.close()
    return data, info


def demo_copy(data: Path, args: argparse.Namespace) -> tuple[Path, Settings, Store]:
    """Copy the built demo to ``data`` and open it with the run's project settings."""
    shutil.copytree(args.template, data)
    extra = {} if args.variants is None else {"tile_variants": args.variants}
    settings = Settings.from_env(data_dir=data, secret_key=SECRET, **extra)
    store = open_store(settings.store_uri)
    project = store.get_project(demo.PROJECT)
    assert project is not None
    project.settings.update(args.project_settings)
    store.save_project(project)
    return data, settings, store


def play(
    kind: str,
    grids: int,
    seed: int,
    base: Path,
    info: demo.DemoInfo,
    args: argparse.Namespace,
) -> dict:
    """Play one attack against a fresh copy of the demo; return its outcomes and figures."""
    data, settings, store = demo_copy(base / f"run-{kind}", args)
    http = args.http
    gold = store.gold_labels(demo.PROJECT)
    oracle = ChallengeOracle(store)
    server = None
    if http:
        server = LocalServer(data).start()
        transport: Transport = HttpTransport(server.url, info.sitekey)
    else:
        transport = CoreTransport(ChallengeService(store, settings), info.sitekey)
    run = AttackRun(
        transport,
        kind,
        oracle=oracle if kind in NEEDS_ORACLE else None,
        observe=oracle,
        seed=seed,
        attacker=Careful(seed) if kind == CAREFUL else None,
    )
    passed_open: list[int] = []
    watch = GoldWatch(store, read_truth(data))
    picked: list[list[int]] = [[]]
    choose = run.attacker.choose

    def choose_and_keep(label: str, keys: list) -> list[int]:
        picked[0] = choose(label, keys)
        return picked[0]

    run.attacker.choose = choose_and_keep  # type: ignore[method-assign]
    start = time.perf_counter()
    try:
        for n in range(grids):
            oracle.last_open = -1
            try:
                outcome = run.one()
            except ServiceError as exc:
                outcome = exc.code
            if outcome in ("pass", "fail"):
                run.log.outcomes.append(int(outcome == "pass"))
                watch.grid(oracle.last, picked[0])
                if outcome == "pass" and oracle.last_open >= 0:
                    passed_open.append(oracle.last_open)
            else:
                run.log.errors[outcome] += 1
            if args.worker_every and (n + 1) % args.worker_every == 0:
                worker_pass(store)
        pool = watch.figures()
    finally:
        seconds = time.perf_counter() - start
        transport.close()
        if server is not None:
            server.stop()
        store.close()
    log = run.log
    return {
        "attack": kind,
        "grids": len(log.outcomes),
        "gold_items": sum(gold.values()),
        "first_250": round(log.rate(0, 250), 4),
        "last_500": round(log.rate(max(0, len(log.outcomes) - 500)), 4),
        "overall": round(log.rate(), 4),
        "windows_250": [round(r, 3) for r in log.windows(250)],
        "open_per_pass": round(sum(passed_open) / len(passed_open), 2) if passed_open else None,
        "errors": dict(log.errors),
        "gold_pool": pool,
        "seconds": round(seconds, 1),
    }


class Person(Careful):
    """One visitor of the honest crowd (careful or sloppy) with its own address."""

    def __init__(self, index: int, kind: str, seed: int, perceiver: object):
        self.perceiver = perceiver
        self.visitor = Visitor.make(index, kind, seed, 1_000)
        self.kind = kind


def warm_bot(base: Path, args: argparse.Namespace) -> AttackRun:
    """Return a recognizer that has played ``--bot-warmup`` grids alone on a copy of the demo.

    A bot that has learned the imported gold before it joins the crowd: its memory carries
    over, since the crowd's copy starts from the same gold.
    """
    data, settings, store = demo_copy(base / "warmup", args)
    info = demo.DemoInfo(**json.loads((data / "demo.json").read_text()))
    oracle = ChallengeOracle(store)
    transport = CoreTransport(ChallengeService(store, settings), info.sitekey)
    bot = AttackRun(transport, RECOGNIZER, oracle=oracle, seed=args.seed)
    bot.run(args.bot_warmup)
    store.close()
    return bot


def damage(base: Path, info: demo.DemoInfo, args: argparse.Namespace, bots: float) -> dict:
    """Run the honest crowd (careful 0.9, sloppy 0.1) with a share of recognizer bots."""
    warmed = warm_bot(base / f"warm-{bots:g}", args) if bots and args.bot_warmup else None
    data, settings, store = demo_copy(base / f"damage-{bots:g}", args)
    truth = read_truth(data)
    images, _ = digits.load()
    perceiver = digits.reference_perceiver(range(len(images)), random_state=args.seed)
    rng = random.Random(f"damage:{args.seed}")
    people = [
        Person(i, SLOPPY if i % 10 == 9 else CAREFUL, args.seed, perceiver) for i in range(50)
    ]
    service = ChallengeService(store, settings)
    transport = CoreTransport(service, info.sitekey)
    oracle = ChallengeOracle(store)
    bot = AttackRun(
        transport,
        RECOGNIZER,
        oracle=oracle,
        seed=args.seed,
        attacker=warmed.attacker if warmed else None,
    )
    watch = GoldWatch(store, truth)
    picked: list[list[int]] = [[]]
    choose = bot.attacker.choose

    def choose_and_keep(label: str, keys: list) -> list[int]:
        picked[0] = choose(label, keys)
        return picked[0]

    bot.attacker.choose = choose_and_keep  # type: ignore[method-assign]
    grids = {"people": [0, 0], "bots": [0, 0]}
    bot_outcomes: list[int] = []
    n = 0
    while int(store.get_stats(demo.PROJECT).get("votes", 0)) < args.budget:
        if rng.random() < bots:
            outcome = bot.one()
            who = "bots"
            bot_outcomes.append(int(outcome == "pass"))
            watch.grid(oracle.last, picked[0])
        else:
            person = rng.choice(people)
            address, agent = person.visitor.address, person.visitor.user_agent
            grid = transport.ask(address, agent)
            if isinstance(grid, str):
                raise RuntimeError(grid)
            picks = person.choose(grid["label"], person.keys(grid["_tiles"], None))
            passed = transport.answer(grid, picks, address, agent)
            outcome = "pass" if passed is True else "fail"
            who = "people"
        grids[who][0] += 1
        grids[who][1] += outcome == "pass"
        n += 1
        if args.worker_every and n % args.worker_every == 0:
            worker_pass(store)
    settled = store.list_items(demo.PROJECT, state="settled", limit=10**6)
    gold = store.list_items(demo.PROJECT, state="gold", limit=10**6)
    promoted = [i for i in gold if i.filename in truth and i.votes > 0]
    labelled = settled + promoted
    right = sum(i.label == truth.get(i.filename) for i in labelled)
    votes = int(store.get_stats(demo.PROJECT).get("votes", 0))
    pool = watch.figures()
    store.close()
    windows = [
        round(sum(bot_outcomes[i : i + 100]) / len(bot_outcomes[i : i + 100]), 2)
        for i in range(0, len(bot_outcomes), 100)
    ]
    return {
        "crowd": f"bots {bots:.0%}",
        "votes": votes,
        "settled": len(labelled),
        "promoted": len(promoted),
        "accuracy": round(right / len(labelled), 4) if labelled else None,
        "votes_per_settled": round(votes / len(labelled), 2) if labelled else None,
        "pass_people": round(grids["people"][1] / max(1, grids["people"][0]), 3),
        "pass_bots": round(grids["bots"][1] / max(1, grids["bots"][0]), 3),
        "bot_warmup": args.bot_warmup if bots else 0,
        "bot_warmup_last_500": round(warmed.log.rate(max(0, args.bot_warmup - 500)), 3)
        if warmed
        else None,
        "bot_windows_100": windows,
        "grids": {k: v[0] for k, v in grids.items()},
        "gold_pool": pool,
    }


def report(rows: list[dict], command: str, label: str) -> str:
    """Return the markdown section for RESULTS.md."""
    lines = [
        f"## Attacks ({label})",
        "",
        f"Command: `{command}` (2 shared cores). A fresh `crowdgate serve` per attack (SQLite,",
        "2 workers, `CROWDGATE_TRUSTED_PROXIES=1`) with the digits demo as `make demo` builds",
        "it; every grid from a fresh address. Pass rates over grids 1-250, the last 500, and",
        "each window of 250; unlabeled slots per passed grid from the issued challenges.",
        "",
        "| attack | grids | first 250 | last 500 | unlabeled/pass | windows of 250 |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        windows = " ".join(f"{w:.2f}" for w in r["windows_250"])
        lines.append(
            f"| {r['attack']} | {r['grids']} | {r['first_250']:.3f} | {r['last_500']:.3f} | "
            f"{r['open_per_pass'] if r['open_per_pass'] is not None else '-'} | {windows} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", type=int, default=3000)
    parser.add_argument("--attacks", default=",".join((*ATTACKS, CAREFUL)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default="after", help="Section name in RESULTS.md.")
    parser.add_argument("--http", action="store_true", help="Through `crowdgate serve`.")
    parser.add_argument("--set", default="", help="Project settings, e.g. grid_size=12.")
    parser.add_argument("--variants", type=int, default=None, help="tile_variants at import.")
    parser.add_argument("--damage", action="store_true", help="Label damage of 10%% bots.")
    parser.add_argument("--budget", type=int, default=3000, help="Votes (with --damage).")
    parser.add_argument(
        "--bot-warmup",
        type=int,
        default=0,
        help="Grids the bot plays alone on a copy of the demo before joining (with --damage).",
    )
    parser.add_argument("--cache", default="", help="Folder to keep the built demo in.")
    parser.add_argument(
        "--worker-every",
        type=int,
        default=250,
        help="Grids between worker passes (consensus, gold pool, retrain); 0: none.",
    )
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    args.project_settings = {}
    for part in filter(None, args.set.split(",")):
        key, _, value = part.partition("=")
        args.project_settings[key] = json.loads(value)
    rows = []
    if args.damage:
        with tempfile.TemporaryDirectory(prefix="cg-bench-attack-") as tmp:
            base = Path(tmp)
            cache = (Path(args.cache) if args.cache else base) / f"variants-{args.variants or 0}"
            args.template, info = template(cache, args.variants)
            for share in (0.0, 0.1):
                row = damage(base, info, args, share)
                row["settings"] = args.project_settings
                print(json.dumps(row), flush=True)
                rows.append(row)
        (HERE / f"damage-{args.label}.json").write_text(json.dumps(rows, indent=1) + "\n")
        return
    with tempfile.TemporaryDirectory(prefix="cg-bench-attack-") as tmp:
        base = Path(tmp)
        cache = (Path(args.cache) if args.cache else base) / f"variants-{args.variants or 0}"
        t0 = time.perf_counter()
        args.template, info = template(cache, args.variants)
        print(f"demo ready in {time.perf_counter() - t0:.0f} s", flush=True)
        for kind in args.attacks.split(","):
            row = play(kind.strip(), args.grids, args.seed, base, info, args)
            row["settings"] = args.project_settings
            print(json.dumps(row), flush=True)
            rows.append(row)
    (HERE / f"runs-{args.label}.json").write_text(json.dumps(rows, indent=1) + "\n")
    command = "python bench/attacks/run.py " + " ".join(sys.argv[1:])
    section = report(rows, command, args.label)
    print(section)
    if args.write_results:
        sys.path.insert(0, str(HERE.parent))
        from results import write_section

        write_section(section, f"## Attacks ({args.label})")


if __name__ == "__main__":
    main()
