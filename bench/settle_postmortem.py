"""Post-mortem of the live benches: which settles are wrong, and where the votes go.

``run`` runs ``bench/label_efficiency/run.py`` or ``bench/robustness/run.py`` unchanged,
but before each service stops it dumps the project's items (state, label, the committee's
last reading while open) and votes to ``DUMPDIR/<selector or crowd>-s<seed>.json``.
``report`` reads dumps and prints, per dump, the settled items' accuracy by the committee's
confidence, by whether the settled label is the committee's reading, and what the questions
asked were (the item's true label, the next class, another), and the votes of colluder-like
voters (a no to the true label at least 10 times, a yes to it at most 15% as often).

Usage:
  python bench/settle_postmortem.py run DUMPDIR bench/label_efficiency/run.py [its flags]
  python bench/settle_postmortem.py report DUMP.json [DUMP.json ...]
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from crowdgate.simulate import digits, harness

#: committee confidence bands of the report (the last holds 1.0)
EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def dump(service: harness.DigitsService, path: Path) -> None:
    """Write the service's items and votes to ``path`` (read from its store, as the admin)."""
    from crowdgate.config import Settings
    from crowdgate.simulate.local import SECRET
    from crowdgate.store import open_store

    settings = Settings.from_env(data_dir=service.server.data_dir, secret_key=SECRET)
    store = open_store(settings.store_uri)
    try:
        items = [
            {
                "id": it.id,
                "index": digits.index_of(it.filename),
                "state": it.state,
                "label": it.label,
                "cl": it.committee_label,
                "cc": it.committee_confidence,
                "by": it.consensus_by,
            }
            for it in store.iter_items(harness.PROJECT)
        ]
        votes = [
            [v.item, v.label, bool(v.answer), v.voter, v.ts]
            for v in store.list_votes(harness.PROJECT)
        ]
    finally:
        store.close()
    path.write_text(json.dumps({"items": items, "votes": votes}))


def run(dump_dir: Path, script: Path, argv: list[str]) -> None:
    """Run a bench script's ``main`` with a dump of every service before it stops."""
    dump_dir.mkdir(parents=True, exist_ok=True)
    tag = {"name": "run"}
    stop = harness.DigitsService.stop

    def stop_after_dump(service: harness.DigitsService) -> None:
        dump(service, dump_dir / f"{tag['name']}.json")
        stop(service)

    harness.DigitsService.stop = stop_after_dump  # type: ignore[method-assign]
    spec = importlib.util.spec_from_file_location("bench_under_postmortem", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.argv = [str(script), *argv]
    spec.loader.exec_module(module)
    run_one = module.run_one

    def tagged(name: str, seed: int, *args: object) -> dict:
        tag["name"] = f"{name.replace(' ', '_').replace('%', '')}-s{seed}"
        return run_one(name, seed, *args)

    module.run_one = tagged
    module.main()


def crowd_settled(item: dict) -> bool:
    """Return True for an item the crowd settled (still settled, or promoted to gold)."""
    promoted = item["state"] == "gold" and str(item["by"] or "").startswith("promoted-")
    return item["label"] is not None and (item["state"] == "settled" or promoted)


def report(paths: list[str]) -> None:
    """Print the post-mortem of each dump, then the bands pooled over all of them."""
    _, targets = digits.load()
    pooled: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for path in paths:
        data = json.loads(Path(path).read_text())
        items = {it["id"]: it for it in data["items"]}
        truth = {i: int(targets[it["index"]]) for i, it in items.items()}
        settled = [it for it in items.values() if crowd_settled(it)]
        bands: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        agree = Counter()
        for it in settled:
            wrong = it["label"] != str(truth[it["id"]])
            band = max(n for n, e in enumerate(EDGES) if (it["cc"] or 0.0) >= e)
            for acc in (bands[band], pooled[band]):
                acc[0], acc[1] = acc[0] + 1, acc[1] + wrong
            key = "with" if it["cl"] == it["label"] else "against"
            agree[key] += 1
            agree[key + " wrong"] += wrong
        asked, answers = Counter(), defaultdict(Counter)
        for item, label, yes, voter, *_ in data["votes"]:
            t = truth[item]
            kind = (
                "true" if int(label) == t else ("next" if int(label) == (t + 1) % 10 else "other")
            )
            asked[kind] += 1
            answers[voter][kind + ("+" if yes else "-")] += 1
        colluders = {
            v for v, c in answers.items() if c["true-"] >= 10 and c["true+"] <= 0.15 * c["true-"]
        }
        theirs = sum(sum(answers[v].values()) for v in colluders)
        n_votes = len(data["votes"])
        wrong = sum(it["label"] != str(truth[it["id"]]) for it in settled)
        print(
            f"{path}: {n_votes} votes, {len(settled)} settled ({wrong} wrong), "
            f"{n_votes / max(1, len(settled)):.2f} votes per settled label; settled with the "
            f"committee's reading {agree['with']} ({agree['with wrong']} wrong), against it "
            f"{agree['against']} ({agree['against wrong']} wrong); questions {dict(asked)}; "
            f"colluder-like voters {len(colluders)} cast {theirs} votes ({theirs / n_votes:.0%}),"
            f" the others {(n_votes - theirs) / max(1, len(settled)):.2f} per settled label"
        )
        print("  by committee confidence: " + _bands(bands))
    print("pooled by committee confidence: " + _bands(pooled))


def _bands(bands: dict[int, list[int]]) -> str:
    """Return ``lo-hi settled/wrong`` per band."""
    return ", ".join(
        f"{EDGES[b]:.1f}-{min(EDGES[b + 1], 1.0):.1f} {n}/{w}"
        for b, (n, w) in sorted(bands.items())
    )


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        report(sys.argv[2:])
    else:
        sys.exit(__doc__)
