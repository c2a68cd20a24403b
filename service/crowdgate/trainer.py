"""The trainer: retrain the committee on consensus, rescore the pool, refill the queues.

One trainer per project at a time (a lock in the store). ``crowdgate worker`` runs
:func:`run_forever`; ``crowdgate retrain`` calls :func:`retrain` once; in the embedded mode
``crowdgate serve`` starts the worker beside gunicorn.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from . import consensus, goldpool
from .committee import (
    DEFAULT_MEASURE,
    Committee,
    NotEnoughLabels,
    PoolScores,
    cold_start_batch,
    needs_cold_start,
    score_pool,
    select_batch,
)
from .config import SCORE_CAP, TRAIN_CAP, Settings
from .errors import Conflict
from .models import Project, Vote
from .store import Store
from .trainer_pool import Pool, load_pool

log = logging.getLogger(__name__)

#: Items kept in each label's queue after a retrain (grids draw among the best 40 of them).
QUEUE_LENGTH = 120
#: Seconds a trainer's lock lives without renewal (a crashed trainer frees it after this).
LOCK_TTL_S = 600.0


@dataclass(frozen=True)
class Caps:
    """Rows one pass trains on (a class-stratified sample) and scores (a rotating slice)."""

    #: labeled rows the committee fits on (0: all)
    train: int = TRAIN_CAP
    #: open rows scored, besides those the crowd has voted on (0: all)
    score: int = SCORE_CAP


class LockHeld(Conflict):
    code = "lock-held"


@contextmanager
def hold_lock(store: Store, project_id: str) -> Iterator[Callable[[], None]]:
    """Hold the project's trainer lock under a unique owner; yield a function that renews it.

    Raises :class:`LockHeld` when another trainer holds it, and the renew function raises it
    if the lock was lost (expired and taken), so two trainers never write one project.
    """
    name = f"trainer:{project_id}"
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    if not store.acquire_lock(name, owner, LOCK_TTL_S):
        raise LockHeld(f"Another trainer is retraining project {project_id!r}; try again later.")

    def renew() -> None:
        if not store.acquire_lock(name, owner, LOCK_TTL_S):
            raise LockHeld(f"The trainer lock of {project_id!r} was lost; stopping this run.")

    try:
        yield renew
    finally:
        store.release_lock(name, owner)


def retrain(
    store: Store,
    project: Project,
    *,
    random_state: int | None = None,
    progress: Callable[[str], None] | None = None,
    renew: Callable[[], None] | None = None,
    caps: Caps | None = None,
    settings: Settings | None = None,
) -> dict:
    """Fit the committee on gold and settled items, rescore the open pool, refill the queues.

    ``renew`` (from :func:`hold_lock`) is called between steps to keep the lock. ``caps``
    bound the rows fit on and scored (:class:`Caps`, default: ``settings``' train and score
    caps, else its defaults), so a pass on a million items costs what one on the caps does,
    bar reading the items' states once.
    Queued items without grid tiles get them first (``ingestion/tiles.py``), keyed by
    ``settings``' secret (default: the deployment's, ``Settings.from_env``).
    Returns the model record stored with :meth:`Store.put_model`, including ``version``.
    """

    def step(name: str) -> None:
        if renew is not None:
            renew()
        if progress is not None:
            progress(name)

    if caps is None:
        caps = Caps(settings.train_cap, settings.score_cap) if settings is not None else Caps()
    started = time.perf_counter()
    run = len(store.list_models(project.id)) + 1
    seed = run if random_state is None else random_state
    # read once for the three steps that need them (each read them all before)
    votes = store.list_votes(project.id)
    step("consensus")
    rerun = consensus.rerun(store, project, run, votes=votes)
    step("gold pool")
    gold_pool = goldpool.maintain(store, project, votes)
    step("load")
    pool = load_pool(
        store,
        project,
        train_cap=caps.train,
        score_cap=caps.score,
        run=run,
        seed=seed,
        voted={v.item for v in votes},
    )
    n_labeled, n_gold, n_open = pool.totals()
    metrics: dict[str, object] = {
        "n_labeled": n_labeled,
        "n_gold": n_gold,
        "n_open": n_open,
        "n_trained": len(pool.labeled_ids),
        "n_scored": len(pool.open_ids),
        "consensus": rerun,
        "gold_pool": gold_pool,
    }
    committee = None
    rows: list[tuple[str, str, float]] = []
    if len(pool.open_ids) and not needs_cold_start(pool.y_labeled):
        step("fit")
        try:
            committee = Committee(
                n_members=int(project.setting("committee_size")), random_state=seed
            ).fit(pool.X_labeled, pool.y_labeled)
        except NotEnoughLabels:
            committee = None
    if committee is None:
        step("cold start")
        picks = (
            cold_start_batch(pool.X_open, QUEUE_LENGTH, random_state=seed)
            if len(pool.open_ids)
            else np.zeros(0, int)
        )
        ranked = [(pool.open_ids[i], float(QUEUE_LENGTH - n)) for n, i in enumerate(picks)]
        step("tiles")
        metrics["tiles_made"] = _tile(store, project, [i for i, _ in ranked], settings)
        for label in project.labels:
            store.set_queue(project.id, label, ranked)
        metrics.update(mode="cold-start")
    else:
        step("score")
        query = str(project.setting("query"))
        scored = score_pool(
            committee,
            pool.X_open,
            measure="random" if query == "random" else DEFAULT_MEASURE,
            random_state=seed,
        )
        step("queues")
        said = open_progress(store, project, pool.open_ids, scored, votes)
        queues = {}
        for label in project.labels:
            order = label_queue(project, pool, scored, said, label, seed)
            queues[label] = [
                (pool.open_ids[i], float(QUEUE_LENGTH - n)) for n, i in enumerate(order)
            ]
        step("tiles")
        queued = list(dict.fromkeys(i for ranked in queues.values() for i, _ in ranked))
        metrics["tiles_made"] = _tile(store, project, queued, settings)
        for label, ranked in queues.items():
            store.set_queue(project.id, label, ranked)
        metrics.update(
            mode="committee",
            measure=scored.measure,
            query=query,
            split_items=int(said.split.sum()),
            in_progress=int(said.started.any(axis=1).sum()),
            **_quality(committee, pool, seed),
        )
        top = [str(c) for c in scored.candidates[:, 0]]
        rows = [
            (pool.open_ids[i], top[i], float(scored.confidence[i]))
            for i in range(len(pool.open_ids))
        ]
    metrics["seconds"] = round(time.perf_counter() - started, 3)
    record = {"created_at": time.time(), "metrics": metrics}
    version = store.put_model(project.id, record)
    if committee is not None:
        store.set_committee_labels(project.id, version, rows)
    step("done")
    return {**record, "version": version}


@dataclass
class Progress:
    """What the crowd has said so far about each open item (rows of ``Pool.open_ids``)."""

    #: the crowd splits on the item (:func:`consensus.is_split`): it is asked no more
    split: np.ndarray
    #: (n_open, n_labels) some voter said yes to the label
    started: np.ndarray
    #: (n_open, n_labels) a voter said no to the label and none said yes
    refused: np.ndarray
    #: (n_open, n_labels) expected votes until the item settles on the label
    cost: np.ndarray
    #: (n_open, n_labels) the committee reads another class too surely for votes to settle the
    #: item on the label (:func:`consensus.votes_can_outweigh`): it is not asked about it
    blocked: np.ndarray | None = None


def open_progress(
    store: Store,
    project: Project,
    open_ids: list[str],
    scored: PoolScores,
    votes: list[Vote] | None = None,
) -> Progress:
    """Return each open item's progress towards settling, from its votes and the committee.

    ``votes`` are the project's votes (default: read from the store).

    The live posterior is rebuilt from the votes with the population reliability and the
    committee's new reading as its half vote; the expected cost of label ``c`` is the yes
    votes it still needs over the chance that the next voter says yes to it.
    """
    labels = project.labels
    k, n = len(labels), len(open_ids)
    row = {item: i for i, item in enumerate(open_ids)}
    col = {lab: j for j, lab in enumerate(labels)}
    net = np.zeros((n, k))
    # voter sets only for the rows that have votes: a set per open item and label would be
    # millions of empty sets (some GB) at a million items, almost all never voted on
    yes_sets: dict[int, list[set[str]]] = {}
    no = np.zeros((n, k), bool)
    voters: dict[int, set[str]] = {}
    by_item: dict[int, list] = {}
    for vote in store.list_votes(project.id) if votes is None else votes:
        i, j = row.get(vote.item), col.get(vote.label)
        if i is None or j is None:
            continue
        by_item.setdefault(i, []).append(vote)
        voters.setdefault(i, set()).add(vote.voter)
        if vote.answer:
            net[i, j] += 1.0
            yes_sets.setdefault(i, [set() for _ in labels])[j].add(vote.voter)
        else:
            net[i, j] -= 1.0
            no[i, j] = True
    r = consensus.population_reliability(store, project)
    w = float(np.log(r / (1.0 - r)))
    logits = net * w
    cap = consensus.COMMITTEE_VOTE * w
    top = np.asarray([col.get(str(c), -1) for c in scored.candidates[:, 0]])
    conf = np.clip(np.asarray(scored.confidence, float), 1e-9, 1 - 1e-9)
    evidence = np.minimum(np.log(conf * (k - 1) / (1.0 - conf)), cap)
    has = (top >= 0) & (conf > 1.0 / k)
    logits[np.flatnonzero(has), top[has]] += evidence[has]
    yes_voters = np.zeros((n, k), int)
    for i, sets in yes_sets.items():
        yes_voters[i] = [len(s) for s in sets]
    n_voters = np.zeros(n, int)
    for i, seen in voters.items():
        n_voters[i] = len(seen)
    need = consensus.votes_to_settle(
        logits,
        w,
        float(project.setting("threshold")),
        yes_voters,
        n_voters,
        min_votes=int(project.setting("min_votes")),
        min_agreeing=consensus.MIN_AGREEING,
    )
    shifted = logits - logits.max(axis=1, keepdims=True)
    post = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    started = yes_voters > 0
    split = np.zeros(n, bool)
    for i, votes in by_item.items():
        split[i] = consensus.is_split(votes)
    blocked = np.zeros((n, k), bool)
    sure = has & (conf > consensus.outweigh_limit(project))
    blocked[sure] = True
    blocked[np.flatnonzero(sure), top[sure]] = False
    return Progress(
        split=split,
        started=started,
        refused=no & ~started,
        cost=consensus.expected_cost(need, post, r),
        blocked=blocked,
    )


def label_queue(
    project: Project,
    pool: Pool,
    scored: PoolScores,
    progress: Progress,
    label: str,
    seed: int,
) -> np.ndarray:
    """Return the open rows to ask about ``label``, best first (at most ``QUEUE_LENGTH``).

    First the items the crowd has started on ``label``, cheapest to finish first (adaptive
    redundancy: votes go where they finish labels), except those expected to cost more than a
    fresh item (:func:`consensus.retire_cost`, the live update's rule too), which retire; then
    fresh items whose committee top label is ``label``, in the committee's order (most disputed
    first under query by committee, random under label-aware random). Split items, items
    refused ``label`` and items whose committee reads another class too surely for votes to
    settle them on ``label`` (:func:`consensus.votes_can_outweigh`) are left out.
    """
    j = project.labels.index(label)
    live = ~progress.split & ~progress.refused[:, j]
    if progress.blocked is not None:
        live &= ~progress.blocked[:, j]
    cap = consensus.retire_cost(int(project.setting("min_votes")))
    started = live & progress.started[:, j] & (progress.cost[:, j] <= cap)
    first = np.flatnonzero(started)
    first = first[np.argsort(progress.cost[first, j], kind="stable")][:QUEUE_LENGTH]
    # A fresh item is asked about the committee's top reading only, never its runner-up: a
    # settle then needs the crowd to confirm the committee, two different readers. On the items
    # the committee is unsure of, which the visitors misread alike too, 9.8% of the settles were
    # wrong with runner-up questions, 5.2% without (bench/RESULTS.md, branch s11-live).
    torn = (scored.candidates[:, 0] == label) & live & ~progress.started[:, j]
    rest = select_batch(
        pool.X_open,
        scored.scores,
        QUEUE_LENGTH - len(first),
        candidates=scored.candidates,
        label=label,
        eligible=torn,
        random_state=seed,
    )
    return np.concatenate([first, rest]).astype(np.intp)


def _tile(store: Store, project: Project, ids: list[str], settings: Settings | None) -> int:
    """Give the queued items that have no grid tiles theirs; return how many were made."""
    from .ingestion.tiles import make_tiles

    if not store.tiles_deferred(project.id):
        return 0
    return make_tiles(store, project.id, ids, settings or Settings.from_env())


def _quality(committee: Committee, pool: Pool, seed: int) -> dict[str, float | None]:
    """Cross-validated accuracy on gold and agreement with crowd consensus."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    out: dict[str, float | None] = {"cv_accuracy": None, "agreement": None}
    X, y = pool.X_labeled[pool.gold_mask], pool.y_labeled[pool.gold_mask]
    classes, counts = np.unique(y, return_counts=True)
    folds = int(min(3, counts.min())) if len(classes) > 1 else 0
    if folds >= 2:
        right = 0
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            fold_model = clone(committee).fit(X[train], y[train])
            right += int((fold_model.predict(X[test]) == y[test]).sum())
        out["cv_accuracy"] = round(right / len(y), 4)
    settled = ~pool.gold_mask
    if settled.any():
        pred = committee.predict(pool.X_labeled[settled])
        out["agreement"] = round(float((pred == pool.y_labeled[settled]).mean()), 4)
    return out


def due(store: Store, project: Project, every_labels: int, every_s: float) -> bool:
    """Return True after ``every_labels`` new labels, or ``every_s`` seconds with new ones."""
    models = store.list_models(project.id)
    counts = store.count_items(project.id)
    labeled = counts["settled"] + counts["gold"]
    if not models:
        return counts["unlabeled"] > 0 and counts["gold"] > 0
    last = models[-1]
    grown = labeled - int(last["metrics"].get("n_labeled", 0))
    return grown >= every_labels or (time.time() - last["created_at"] >= every_s and grown > 0)


def run_once(
    store: Store,
    every_labels: int,
    every_s: float,
    settings: Settings | None = None,
) -> list[int]:
    """Retrain every due project whose lock this process gets; return the new versions."""
    done = []
    for project in store.list_projects():
        try:
            with hold_lock(store, project.id) as renew:
                if due(store, project, every_labels, every_s):
                    record = retrain(store, project, renew=renew, settings=settings)
                    log.info("retrained %s: model %s", project.id, record["version"])
                    done.append(record["version"])
        except LockHeld:
            continue
    return done


def run_forever(
    store: Store,
    every_labels: int,
    every_s: float,
    poll_s: float,
    stop: Callable[[], bool] = lambda: False,
    settings: Settings | None = None,
) -> None:
    """Poll for due projects until ``stop()``; store errors are logged and retried."""
    from .errors import StoreError

    while not stop():
        try:
            run_once(store, every_labels, every_s, settings)
        except StoreError as exc:
            log.warning("trainer: store unavailable, retrying: %s", exc.message)
        time.sleep(poll_s)
