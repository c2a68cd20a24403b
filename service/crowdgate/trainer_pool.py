"""The trainer's pool: every item's state and label, and features of the rows a pass uses.

Split from trainer.py. Memory is what bounds a million-item project here: features are
written into one preallocated float32 array as they are read, and rows are copied only when
some must be dropped (bench/RESULTS.md, "Scale at a million items").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import GOLD, SETTLED, UNLABELED, Project
from .store import Store

#: Fewest rows of each class a capped training sample keeps (all of a class with fewer), so a
#: rare class is not sampled away from the committee.
MIN_PER_CLASS = 25


@dataclass
class Pool:
    """The rows one pass uses: labeled features and labels, open features.

    With caps (:func:`load_pool`) these are a sample of the labeled items and a slice of the
    open ones; the ``total_*`` counts are the project's, whatever was loaded.
    """

    labeled_ids: list[str]
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    gold_mask: np.ndarray
    open_ids: list[str]
    X_open: np.ndarray
    #: labeled (gold and settled) items in the project; None: ``len(labeled_ids)``
    total_labeled: int | None = None
    #: gold items in the project; None: ``gold_mask.sum()``
    total_gold: int | None = None
    #: open items in the project; None: ``len(open_ids)``
    total_open: int | None = None

    def totals(self) -> tuple[int, int, int]:
        """Return the project's labeled, gold and open item counts."""
        lab = len(self.labeled_ids) if self.total_labeled is None else self.total_labeled
        gold = int(self.gold_mask.sum()) if self.total_gold is None else self.total_gold
        return lab, gold, len(self.open_ids) if self.total_open is None else self.total_open


def stratified_sample(y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Return sorted row indices of at most ``cap`` rows of ``y``, each class in proportion.

    Every row when ``cap`` is 0 or ``y`` has no more rows. Otherwise each class keeps its
    share of ``cap`` (largest remainders round up), at least ``MIN_PER_CLASS`` rows (all of a
    smaller class, taken from the largest classes' shares), so the committee's class balance
    and so its probabilities stay those of the whole labeled set.
    """
    n = len(y)
    if cap <= 0 or n <= cap:
        return np.arange(n)
    _, index, counts = np.unique(y, return_inverse=True, return_counts=True)
    floor = np.minimum(counts, MIN_PER_CLASS)
    share = cap * counts / n
    quota = np.minimum(np.maximum(np.floor(share).astype(np.int64), floor), counts)
    by_remainder = np.argsort(-(share - np.floor(share)), kind="stable")
    while quota.sum() < cap:  # at most one row per class short: n > cap leaves room
        for c in by_remainder:
            if quota.sum() < cap and quota[c] < counts[c]:
                quota[c] += 1
    while quota.sum() > cap:  # the floors overshot: the largest surplus gives back
        quota[int(np.argmax(quota - floor))] -= 1
    rows = [
        rng.choice(np.flatnonzero(index == c), size=int(q), replace=False)
        for c, q in enumerate(quota)
    ]
    return np.sort(np.concatenate(rows))


def rotating_slice(n: int, cap: int, run: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Return sorted indices of the ``cap`` rows of ``n`` that pass ``run`` scores, and ``keep``.

    Pass ``run`` (1, 2...) takes the window of ``cap`` rows after the previous pass's, wrapping
    round, so successive passes cover the whole open pool; rows in ``keep`` (items the crowd
    has voted on, whose queues need their scores) are always in. Every row when ``cap`` is 0.
    """
    if cap <= 0 or n <= cap:
        return np.arange(n)
    start = ((run - 1) * cap) % n
    window = (start + np.arange(cap)) % n
    if keep is not None and len(keep):
        window = np.union1d(window, keep)
    return np.sort(window)


def load_pool(
    store: Store,
    project: Project,
    batch: int = 2000,
    *,
    train_cap: int = 0,
    score_cap: int = 0,
    run: int = 1,
    seed: int = 0,
    voted: set[str] | frozenset[str] = frozenset(),
) -> Pool:
    """Read every item's state and label, then features only for the rows this pass uses.

    The rows are a class-stratified sample of at most ``train_cap`` labeled items
    (:func:`stratified_sample`, drawn afresh with ``seed``) and pass ``run``'s slice of at
    most ``score_cap`` open items (:func:`rotating_slice`) plus the open items in ``voted``;
    0 means no cap. Items without features are dropped.
    """
    lab_ids: list[str] = []
    labels: list[str] = []
    gold: list[bool] = []
    open_ids: list[str] = []
    for item in store.iter_items(project.id, batch=batch):
        if item.state in (GOLD, SETTLED) and item.label is not None:
            lab_ids.append(item.id)
            labels.append(item.label)
            gold.append(item.state == GOLD)
        elif item.state == UNLABELED:
            open_ids.append(item.id)
    y_all = np.asarray(labels, dtype=object)
    gold_all = np.asarray(gold, bool)
    totals = {
        "total_labeled": len(lab_ids),
        "total_gold": int(gold_all.sum()),
        "total_open": len(open_ids),
    }
    take = stratified_sample(y_all, train_cap, np.random.default_rng(seed))
    if len(take) < len(lab_ids):
        lab_ids = [lab_ids[i] for i in take]
        y_all, gold_all = y_all[take], gold_all[take]
    keep = np.asarray([i for i, item in enumerate(open_ids) if item in voted], np.intp)
    rows = rotating_slice(len(open_ids), score_cap, run, keep)
    if len(rows) < len(open_ids):
        open_ids = [open_ids[i] for i in rows]
    X_lab = _features(store, project.id, lab_ids)
    X_open = _features(store, project.id, open_ids)
    keep_lab = ~np.isnan(X_lab[:, 0]) if len(lab_ids) else np.zeros(0, bool)
    keep_open = ~np.isnan(X_open[:, 0]) if len(open_ids) else np.zeros(0, bool)
    return Pool(
        labeled_ids=_kept(lab_ids, keep_lab),
        X_labeled=_rows(X_lab, keep_lab),
        y_labeled=y_all[keep_lab],
        gold_mask=gold_all[keep_lab],
        open_ids=_kept(open_ids, keep_open),
        X_open=_rows(X_open, keep_open),
        **totals,
    )


def _kept(ids: list[str], keep: np.ndarray) -> list[str]:
    """Return the ids whose ``keep`` is True (the list itself when all are)."""
    if keep.all():
        return ids
    return [i for i, k in zip(ids, keep, strict=True) if k]


def _rows(X: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Return the rows of ``X`` whose ``keep`` is True, without a copy when all are."""
    # a boolean index always copies: at a million items that is a second GB-sized pool
    return X if keep.all() else X[keep]


def _features(store: Store, project_id: str, ids: list[str], chunk: int = 2000) -> np.ndarray:
    """Stack stored vectors into float32 rows; items without features get a NaN row.

    Rows are written into one preallocated array as they are read (a list of per-item
    vectors first would hold the pool twice, some GB at a million items). The width is that of
    the last vector found; should widths differ, rows of another width stay NaN, which the
    second read of :func:`_mixed_features` gets right (stores write one width per project).
    """
    if not ids:
        return np.zeros((0, 1), np.float32)
    out: np.ndarray | None = None
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        found = store.get_features(project_id, part)
        for n, item in enumerate(part, start):
            vec = found.get(item)
            if vec is None:
                continue
            if out is None:
                out = np.full((len(ids), len(vec)), np.nan, np.float32)
            if len(vec) != out.shape[1]:
                return _mixed_features(store, project_id, ids, chunk)
            out[n] = vec
    return out if out is not None else np.full((len(ids), 1), np.nan, np.float32)


def _mixed_features(store: Store, project_id: str, ids: list[str], chunk: int) -> np.ndarray:
    """:func:`_features` when vectors of several widths are stored: the last one's width wins."""
    rows: list[np.ndarray | None] = []
    dim = 0
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        found = store.get_features(project_id, part)
        for item in part:
            vec = found.get(item)
            rows.append(vec)
            if vec is not None:
                dim = len(vec)
    out = np.full((len(ids), max(dim, 1)), np.nan, np.float32)
    for n, vec in enumerate(rows):
        if vec is not None and len(vec) == dim:
            out[n] = vec
    return out
