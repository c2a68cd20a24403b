"""Answers CSV in, ``task,label,confidence`` out: the work of ``crowdgate aggregate``.

Kept inside the aggregation package (numpy only) so that ``python -m crowdgate.aggregation``
runs it without the rest of the command line's imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .io import read_answers, read_gold, write_labels
from .registry import DEFAULT_METHOD, get_aggregator


def aggregate_file(
    answers: Path,
    method: str = DEFAULT_METHOD,
    gold: Path | None = None,
    output: Path | None = None,
) -> int:
    """Fit ``method`` on the ANSWERS file, write one labelled row per task; return the task count.

    Raises :class:`~crowdgate.errors.CrowdgateError` on bad input and ``OSError`` when the
    output cannot be written.
    """
    tasks, workers, labels = read_answers(answers)
    truth = read_gold(gold) if gold is not None else None
    model = get_aggregator(method)().fit(tasks, workers, labels, gold=truth)
    confidence = model.probas_.max(axis=1) if len(model.tasks_) else []
    if output is None:
        write_labels(sys.stdout, model.tasks_, model.labels_, confidence)
    else:
        with output.open("w", newline="", encoding="utf-8") as out:
            write_labels(out, model.tasks_, model.labels_, confidence)
    return len(model.tasks_)
