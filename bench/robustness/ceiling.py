"""Perceiver ceiling, offline: how the simulated visitors' one shared perceiver reads open digits.

Per seed (the benches' ``Split.make(seed)`` and ``reference_perceiver``), each open digit is
rendered, perturbed into 16 variants by the import's own ``make_variants`` (seeded per digit,
not by the deployment secret) and read by the perceiver. Prints the tile accuracy, the accuracy
of the majority reading (what an aggregator that saw unlimited honest votes would settle), how
much more often two readings of one digit are both wrong than independent errors would be, and
how the misreadings sit against a gold-only committee's top label.

Usage: python bench/robustness/ceiling.py SEED [SEED ...]
"""

from __future__ import annotations

import sys

import numpy as np

from crowdgate.committee import Committee
from crowdgate.ingestion.images import make_variants
from crowdgate.simulate import digits
from crowdgate.simulate.features import digit_features
from crowdgate.simulate.harness import Split

VARIANTS = 16


def main(seeds: list[int]) -> None:
    """Print the perceiver's ceiling figures for each seed."""
    images, targets = digits.load()
    feats = digit_features()
    for seed in seeds:
        split = Split.make(seed)
        perceiver = digits.reference_perceiver(split.reference, random_state=seed)
        gold = set(split.gold.tolist())
        items = [int(i) for i in split.served if int(i) not in gold]
        reads = np.asarray(
            [
                perceiver.predict(make_variants(digits.render(images[i]), VARIANTS, i, size=128))
                for i in items
            ]
        )
        truth = targets[items].astype(str)
        right = reads == truth[:, None]
        share = right.mean(axis=1)
        modal = np.asarray([max(sorted(set(r)), key=list(r).count) for r in reads])
        wrong = modal != truth
        e = 1.0 - right.mean()
        both = float(np.mean((1.0 - share) ** 2))
        committee = Committee(random_state=seed).fit(
            feats[split.gold], targets[split.gold].astype(str)
        )
        top = committee.predict(feats[items])
        disagree = top != modal
        print(
            f"seed {seed}: {len(items)} open digits; tile accuracy {right.mean():.4f}; "
            f"majority reading right {np.mean(~wrong):.4f}; digits read right on every variant "
            f"{np.mean(share == 1):.3f}; two readings both wrong {both:.4f} against "
            f"{e * e:.5f} if independent (x{both / (e * e):.0f})"
        )
        print(
            f"  gold-only committee disagrees with the majority reading on {disagree.mean():.3f} "
            f"of digits, holding {wrong[disagree].sum()} of {wrong.sum()} misread ones; "
            f"P(misread | agree) {wrong[~disagree].mean():.4f}, P(misread | disagree) "
            f"{wrong[disagree].mean():.4f}; majority reading right on the agreeing digits "
            f"{np.mean(~wrong[~disagree]):.4f}; share of right readings on misread digits "
            f"{share[wrong].mean():.2f}"
        )


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0])
