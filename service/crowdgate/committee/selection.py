"""Batch query selection: score a pool in chunks, then pick disputed, diverse items for a grid.

The flow a trainer runs after each retrain is :func:`score_pool` (memory bounded by
``chunk_size``), storing ``scores`` and ``candidates`` per item; filling one grid is then
:func:`select_batch` over those stored arrays. :func:`select_queries` does both, and falls back
to :func:`cold_start_batch` while the labeled set is too small for a committee.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..errors import CrowdgateError
from .committee import Committee
from .disagreement import MEASURES, margin, random_scores

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MEASURE",
    "DEFAULT_MIN_LABELS",
    "PoolScores",
    "candidate_labels",
    "cold_start_batch",
    "needs_cold_start",
    "score_pool",
    "select_batch",
    "select_queries",
]

#: Probabilities (float64 values) held at once when the chunk size is chosen automatically:
#: 2**22 values is 32 MiB, whatever the number of members and classes.
PROBA_BUDGET = 2**22
#: Bounds of the automatic chunk: small chunks make scikit-learn's multi-threaded k-NN search
#: pay its start-up cost per call (8 calls of 4,096 rows took twice one call of 32,768), and
#: large ones only add memory.
MIN_CHUNK, MAX_CHUNK = 4096, 16384
#: ``None``: rows per committee call chosen from ``PROBA_BUDGET`` (see ``auto_chunk_size``).
DEFAULT_CHUNK_SIZE = None


def auto_chunk_size(n_members: int, n_classes: int) -> int:
    """Return rows per committee call so member probabilities stay within PROBA_BUDGET."""
    rows = PROBA_BUDGET // max(1, n_members * n_classes)
    return int(min(MAX_CHUNK, max(MIN_CHUNK, rows)))


#: Measure used when none is named; see ``docs/committee.md`` for the offline comparison.
DEFAULT_MEASURE = "vote_entropy"
#: Labels below which selection is diverse-random instead of committee-driven.
DEFAULT_MIN_LABELS = 10
#: Cosine similarity above which two items count as near-duplicates within one batch.
DEFAULT_DUPLICATE_THRESHOLD = 0.98
#: The shortlist that batch diversity chooses from holds this many items per slot.
DEFAULT_SHORTLIST_FACTOR = 4
#: Pool rows a cold-start batch clusters (a random subset keeps it fast on large pools).
DEFAULT_COLD_START_SUBSET = 2000

MEASURE_NAMES = (*MEASURES, "margin", "random")
DIVERSITY_MODES = ("kmeans", "none")


class SelectionError(CrowdgateError):
    """A selection request names an unknown measure or mode, or has inconsistent arrays."""

    code = "invalid-selection"


@dataclass(frozen=True)
class PoolScores:
    """Per-item results of scoring a pool with a committee.

    Attributes
    ----------
    scores : ndarray of shape (n_items,), float32
        Disagreement, higher means ask sooner.
    candidates : ndarray of shape (n_items, 2)
        The committee's two most probable labels per item (values of ``classes``), best first.
    confidence : ndarray of shape (n_items,), float32
        Consensus probability of ``candidates[:, 0]``.
    classes : ndarray of shape (n_classes,)
    measure : str
    """

    scores: np.ndarray
    candidates: np.ndarray
    confidence: np.ndarray
    classes: np.ndarray
    measure: str


def candidate_labels(proba: np.ndarray, k: int = 2) -> np.ndarray:
    """Return the column indices of the ``k`` most probable classes, shape ``(n_samples, k)``.

    Ties go to the lower column index; ``k`` is capped at ``n_classes``.
    """
    proba = np.asarray(proba)
    k = min(k, proba.shape[1])
    return np.argsort(-proba, axis=1, kind="stable")[:, :k]


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise SelectionError(f"Unknown {what} {value!r}; use one of {', '.join(allowed)}.")


def score_pool(
    committee: Committee,
    X: np.ndarray,
    *,
    measure: str = DEFAULT_MEASURE,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    random_state: int | np.random.RandomState | None = None,
) -> PoolScores:
    """Score every pool row with a fitted committee, ``chunk_size`` rows at a time.

    Parameters
    ----------
    committee : Committee
        Fitted. With ``measure="margin"`` a one-member committee is the single-model baseline.
    X : array of shape (n_items, n_features)
        Pool features; an ``np.memmap`` works and is read one chunk at a time.
    measure : str
        A name in ``MEASURE_NAMES``; ``"margin"`` uses the consensus probabilities and
        ``"random"`` ignores them (the baseline).
    chunk_size : int or None
        Rows per committee call; only one chunk of member probabilities is held at a time.
        ``None`` picks it from the committee's size (:func:`auto_chunk_size`).
    random_state : int, RandomState instance or None
        Used only by ``measure="random"``.

    Returns
    -------
    PoolScores
    """
    _check_choice(measure, MEASURE_NAMES, "measure")
    check_is_fitted(committee)
    if chunk_size is None:
        chunk_size = auto_chunk_size(len(committee.estimators_), len(committee.classes_))
    if chunk_size < 1:
        raise SelectionError(f"chunk_size must be at least 1, got {chunk_size}.")
    n_items = X.shape[0]
    scores = np.empty(n_items, dtype=np.float32)
    candidates = np.empty((n_items, min(2, len(committee.classes_))), dtype=np.intp)
    confidence = np.empty(n_items, dtype=np.float32)
    for start in range(0, n_items, chunk_size):
        stop = min(start + chunk_size, n_items)
        member_probas = committee.member_proba(np.asarray(X[start:stop]))
        consensus = member_probas.mean(axis=0)
        top = candidate_labels(consensus)
        candidates[start:stop] = top
        confidence[start:stop] = np.take_along_axis(consensus, top[:, :1], axis=1)[:, 0]
        if measure == "margin":
            scores[start:stop] = margin(consensus)
        elif measure != "random":
            scores[start:stop] = MEASURES[measure](member_probas)
    if measure == "random":
        scores[:] = random_scores(n_items, random_state)
    return PoolScores(
        scores, committee.classes_[candidates], confidence, committee.classes_, measure
    )


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _drop_near_duplicates(
    X: np.ndarray, order: np.ndarray, batch_size: int, threshold: float | None
) -> np.ndarray:
    if threshold is None:
        return order[:batch_size]
    chosen: list[int] = []
    chosen_vectors: list[np.ndarray] = []
    # Walk the ranking, reading one row at a time, so a huge pool is never normalised whole.
    for index in order:
        vector = _unit_rows(X[index : index + 1])[0]
        if chosen_vectors and float(np.max(np.stack(chosen_vectors) @ vector)) > threshold:
            continue
        chosen.append(int(index))
        chosen_vectors.append(vector)
        if len(chosen) == batch_size:
            break
    return np.asarray(chosen, dtype=np.intp)


def _kmeans_picks(X: np.ndarray, shortlist: np.ndarray, n_picks: int, seed: int) -> np.ndarray:
    if n_picks >= len(shortlist):
        return shortlist
    with warnings.catch_warnings():
        # Duplicated rows can leave fewer distinct points than clusters; the picks stay valid.
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = KMeans(n_clusters=n_picks, n_init=1, random_state=seed).fit_predict(
            _unit_rows(X[shortlist])
        )
    # The shortlist is ranked, so each cluster's first position holds its most disputed item.
    _, first = np.unique(labels, return_index=True)
    return shortlist[np.sort(first)]


def select_batch(
    X: np.ndarray,
    scores: np.ndarray,
    batch_size: int,
    *,
    candidates: np.ndarray | None = None,
    label: object = None,
    eligible: np.ndarray | None = None,
    diversity: str = "kmeans",
    shortlist_factor: int = DEFAULT_SHORTLIST_FACTOR,
    duplicate_threshold: float | None = DEFAULT_DUPLICATE_THRESHOLD,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Return up to ``batch_size`` row indices of disputed, mutually distinct items, best first.

    Parameters
    ----------
    X : array of shape (n_items, n_features)
        Pool features; only the shortlisted rows are read.
    scores : array of shape (n_items,)
        Disagreement scores (higher first); ties are broken at random.
    batch_size : int
        Items wanted (for a grid: its unlabeled slots).
    candidates : array of shape (n_items, k), optional
        Each item's likeliest labels (``PoolScores.candidates``). With ``label``, items whose
        candidates include ``label`` come first; others only fill a batch they cannot.
    label : object, optional
        The label the grid asks about, in the encoding of ``candidates``.
    eligible : bool array of shape (n_items,), optional
        False for items that must not be asked (vote cap reached, already in flight).
    diversity : {"kmeans", "none"}
        ``"kmeans"`` clusters the top ``batch_size * shortlist_factor`` items into
        ``batch_size`` clusters and keeps the most disputed item of each.
    duplicate_threshold : float or None
        No two returned items have cosine similarity above this; None disables the check.
    random_state : int, RandomState instance or None

    Returns
    -------
    ndarray of int, shape (m,), ``m <= batch_size``
        Fewer only when too few eligible, non-duplicate items exist.
    """
    _check_choice(diversity, DIVERSITY_MODES, "diversity")
    rng = check_random_state(random_state)
    scores = np.asarray(scores, dtype=np.float64)
    n_items = scores.shape[0]
    if X.shape[0] != n_items:
        raise SelectionError(f"X has {X.shape[0]} rows but scores has {n_items}; pass both.")
    mask = np.ones(n_items, bool) if eligible is None else np.asarray(eligible, bool)
    preferred = mask.copy()
    if label is not None:
        if candidates is None:
            raise SelectionError("label was given without candidates; pass PoolScores.candidates.")
        preferred &= (np.asarray(candidates) == label).any(axis=1)
    # Primary key: score descending; secondary: a random draw, so equal scores rotate.
    ranked = np.lexsort((rng.random_sample(n_items), -scores))
    order = np.concatenate([ranked[preferred[ranked]], ranked[(mask & ~preferred)[ranked]]])
    if batch_size < 1 or len(order) == 0:
        return np.empty(0, dtype=np.intp)
    if diversity == "kmeans":
        n_short = min(len(order), batch_size * shortlist_factor)
        if label is not None:
            # Do not let backfill items into the clustering when enough preferred ones exist.
            n_short = min(n_short, max(int(preferred.sum()), batch_size))
        picks = _kmeans_picks(X, order[:n_short], batch_size, int(rng.randint(2**31 - 1)))
        order = np.concatenate([picks, order[~np.isin(order, picks)]])
    return _drop_near_duplicates(X, order, batch_size, duplicate_threshold)


def cold_start_batch(
    X: np.ndarray,
    batch_size: int,
    *,
    eligible: np.ndarray | None = None,
    subset_size: int = DEFAULT_COLD_START_SUBSET,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Return ``batch_size`` diverse, representative rows for a project with too few labels.

    A random subset of at most ``subset_size`` eligible rows is clustered by k-means into
    ``batch_size`` clusters and the row nearest each centre is taken, so the first labels cover
    the pool's modes rather than its outliers. Shape ``(m,)``, ``m <= batch_size``.
    """
    rng = check_random_state(random_state)
    pool = np.flatnonzero(np.ones(X.shape[0], bool) if eligible is None else eligible)
    if batch_size < 1 or len(pool) == 0:
        return np.empty(0, dtype=np.intp)
    subset = np.sort(rng.choice(pool, size=min(subset_size, len(pool)), replace=False))
    if batch_size >= len(subset):
        return rng.permutation(subset)
    vectors = _unit_rows(X[subset])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        kmeans = KMeans(n_clusters=batch_size, n_init=1, random_state=rng.randint(2**31 - 1))
        kmeans.fit(vectors)
    return subset[np.unique(kmeans.transform(vectors).argmin(axis=0))]


def needs_cold_start(y_labeled: np.ndarray, *, min_labels: int = DEFAULT_MIN_LABELS) -> bool:
    """Return True while ``y_labeled`` has fewer than ``min_labels`` labels or two classes."""
    y = np.asarray(y_labeled)
    return len(y) < min_labels or len(np.unique(y)) < 2


def select_queries(
    X_pool: np.ndarray,
    y_labeled: np.ndarray,
    batch_size: int,
    *,
    committee: Committee | None = None,
    measure: str = DEFAULT_MEASURE,
    diversity: str = "kmeans",
    label: object = None,
    eligible: np.ndarray | None = None,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    min_labels: int = DEFAULT_MIN_LABELS,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Return pool row indices to ask next: committee-driven, or diverse-random at cold start.

    Parameters
    ----------
    X_pool : array of shape (n_items, n_features)
    y_labeled : array of shape (n_labeled,)
        Labels the committee was fit on (gold and settled); decides cold start.
    committee : Committee, optional
        Fitted on ``y_labeled``; None forces cold start.
    label : object, optional
        A class value of ``committee.classes_`` the grid asks about.

    Other parameters are those of :func:`score_pool` and :func:`select_batch`.
    """
    rng = check_random_state(random_state)
    if committee is None or needs_cold_start(y_labeled, min_labels=min_labels):
        return cold_start_batch(X_pool, batch_size, eligible=eligible, random_state=rng)
    pool = score_pool(committee, X_pool, measure=measure, chunk_size=chunk_size, random_state=rng)
    return select_batch(
        X_pool,
        pool.scores,
        batch_size,
        candidates=pool.candidates,
        label=label,
        eligible=eligible,
        diversity=diversity,
        random_state=rng,
    )
