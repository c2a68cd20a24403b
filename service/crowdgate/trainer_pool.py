"""The trainer's pool: every item's state, label and stored feature vector, read in batches.

Split from trainer.py. Memory is what bounds a million-item project here: features are
written into one preallocated float32 array as they are read, and rows are copied only when
some must be dropped (bench/RESULTS.md, "Scale at a million items").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import GOLD, SETTLED, UNLABELED, Project
from .store import Store


@dataclass
class Pool:
    """The project's items split for training: labeled features and labels, open features."""

    labeled_ids: list[str]
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    gold_mask: np.ndarray
    open_ids: list[str]
    X_open: np.ndarray


def load_pool(store: Store, project: Project, batch: int = 2000) -> Pool:
    """Read every item's state, label and stored feature vector (in batches)."""
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
    X_lab = _features(store, project.id, lab_ids)
    X_open = _features(store, project.id, open_ids)
    keep_lab = ~np.isnan(X_lab[:, 0]) if len(lab_ids) else np.zeros(0, bool)
    keep_open = ~np.isnan(X_open[:, 0]) if len(open_ids) else np.zeros(0, bool)
    return Pool(
        labeled_ids=_kept(lab_ids, keep_lab),
        X_labeled=_rows(X_lab, keep_lab),
        y_labeled=np.asarray(labels, dtype=object)[keep_lab],
        gold_mask=np.asarray(gold, bool)[keep_lab],
        open_ids=_kept(open_ids, keep_open),
        X_open=_rows(X_open, keep_open),
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
