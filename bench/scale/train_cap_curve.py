"""How the committee's accuracy and cost grow with ``train_cap`` (the trainer's training sample).

Usage::

    python bench/scale/train_cap_curve.py [--caps 1000,2000,5000,10000,20000,40000]
        [--classes 10] [--features 424] [--sep 0.6] [--test 5000] [--repeats 1]

Draws one hard simulated labeled set (scikit-learn's ``make_classification``: ``--classes``
classes in two clusters each, few informative dimensions among ``--features``, 5 % of the
labels flipped, like a crowd's errors), then for each cap fits the default committee
(``crowdgate.committee.Committee``, 5 members) on a class-stratified sample of that many rows
(``trainer_pool.stratified_sample``, what a pass trains on) and prints one JSON line: accuracy
on a held-out test set, the fit's CPU and wall seconds, and the CPU seconds of scoring
``--score`` open rows (``score_pool``, which grows with the cap too: k-NN). A flat curve past
some cap means rows beyond it buy nothing; a rising one means the cap is a budget.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--caps", default="1000,2000,5000,10000,20000,40000")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--features", type=int, default=424)
    parser.add_argument("--informative", type=int, default=40)
    parser.add_argument("--sep", type=float, default=1.0, help="class_sep: lower is harder")
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--score", type=int, default=10000, help="open rows scored per cap")
    parser.add_argument("--repeats", type=int, default=1, help="samples per cap (seeds)")
    args = parser.parse_args()
    from sklearn.datasets import make_classification

    from crowdgate.committee import Committee, score_pool
    from crowdgate.trainer_pool import stratified_sample

    caps = [int(c) for c in args.caps.split(",")]
    n = max(caps) + args.test + args.score
    X, y = make_classification(
        n_samples=n,
        n_features=args.features,
        n_informative=args.informative,
        n_redundant=10,
        n_classes=args.classes,
        n_clusters_per_class=2,
        class_sep=args.sep,
        flip_y=0.05,
        random_state=0,
    )
    X = X.astype(np.float32)
    y = y.astype(str).astype(object)
    X_test, y_test = X[: args.test], y[: args.test]
    X_open = X[args.test : args.test + args.score]
    X_lab, y_lab = X[args.test + args.score :], y[args.test + args.score :]
    for cap in caps:
        for rep in range(args.repeats):
            rows = stratified_sample(y_lab, cap, np.random.default_rng(rep))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            committee = Committee(random_state=rep).fit(X_lab[rows], y_lab[rows])
            fit_cpu, fit_wall = time.process_time() - cpu0, time.perf_counter() - wall0
            accuracy = float((committee.predict(X_test) == y_test).mean())
            cpu0 = time.process_time()
            score_pool(committee, X_open, random_state=rep)
            score_cpu = time.process_time() - cpu0
            print(
                json.dumps(
                    {
                        "cap": cap,
                        "repeat": rep,
                        "rows": len(rows),
                        "accuracy": round(accuracy, 4),
                        "fit_cpu_s": round(fit_cpu, 1),
                        "fit_wall_s": round(fit_wall, 1),
                        f"score_{args.score}_cpu_s": round(score_cpu, 1),
                        "load_avg": [round(x, 2) for x in os.getloadavg()],
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
