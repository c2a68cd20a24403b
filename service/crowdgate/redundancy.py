"""Adaptive redundancy: which open items the next votes should go to, and which to stop asking.

Between retrains the live update re-ranks the queue of each label (``Store.rank_queue``) so
that grids finish the items the crowd has started, cheapest first: an item's expected cost is
the yes votes it still needs (:func:`votes_to_settle`) over the chance that the next voter says
yes (:func:`expected_cost`). An item whose expected cost exceeds that of a fresh item
(:func:`retire_cost`) retires: its votes would settle more labels elsewhere. An item the crowd
keeps splitting on (two classes each backed by ``MIN_AGREEING`` yes voters) stops being asked.
The trainer ranks the rest at each retrain by the same cost and cap (docs/aggregation.md,
"Adaptive redundancy").
"""

from __future__ import annotations

import numpy as np

from .models import Evidence, Project, Vote
from .reliability import MIN_AGREEING, logit, vote_weight

#: Distinct classes that each got ``MIN_AGREEING`` yes voters: the crowd splits on the item.
SPLIT_CLASSES = 2
#: Queue score of an item the crowd has started on a label (the trainer's scores are below):
#: the live update moves it there, minus the yes votes it still needs, so grids finish it.
STARTED_RANK = 1000.0
#: Queue score of an item the live update stops asking about a label (refused, or split).
DROPPED_RANK = -1.0
#: Most further yes votes :func:`votes_to_settle` looks ahead; beyond it an item is "far".
MAX_LOOKAHEAD = 6
#: Lowest chance that a fresh item is a yes under the label it is asked about: the committee
#: asks about its top reading, which is right at least as often as not once it beats a coin
#: (measured: about 0.89 on the items query by committee asks about, docs/aggregation.md).
FRESH_YES = 0.5


def retire_cost(min_votes: int) -> float:
    """Return the expected votes above which an open item retires: a fresh item's most.

    A fresh item settles after ``min_votes`` agreeing voters, each a yes with chance at least
    ``FRESH_YES``, so it costs at most ``min_votes / FRESH_YES`` votes in expectation (6 with the
    default 3 voters); an open item expected to cost more settles fewer labels per vote than
    starting afresh, so its votes go elsewhere.
    """
    return float(min_votes) / FRESH_YES


def expected_cost(need: np.ndarray, posterior: np.ndarray, reliability: float) -> np.ndarray:
    """Return the expected further votes to settle: yes votes needed over the chance of a yes.

    A voter of reliability ``r`` says yes to class ``c`` with chance ``r P + (1 - r)(1 - P)``,
    ``P`` the current posterior of ``c``; ``need`` is :func:`votes_to_settle`'s (``inf`` stays).
    """
    p = np.asarray(posterior, float)
    p_yes = reliability * p + (1.0 - reliability) * (1.0 - p)
    return np.asarray(need, float) / np.maximum(p_yes, 1e-9)


def split_classes(votes: list[Vote]) -> int:
    """Return how many classes ``MIN_AGREEING`` distinct voters each said yes to."""
    yes: dict[str, set[str]] = {}
    for v in votes:
        if v.answer:
            yes.setdefault(v.label, set()).add(v.voter)
    return sum(len(voters) >= MIN_AGREEING for voters in yes.values())


def is_split(votes: list[Vote]) -> bool:
    """Return True when the crowd keeps splitting on an item: stop asking about it."""
    return split_classes(votes) >= SPLIT_CLASSES


def votes_to_settle(
    logits: np.ndarray,
    weight: float,
    threshold: float,
    yes_voters: np.ndarray,
    voters: np.ndarray,
    *,
    min_votes: int,
    min_agreeing: int,
) -> np.ndarray:
    """Return, per item and class, the further votes that would settle the item on that class.

    Parameters
    ----------
    logits : array of shape (n_items, n_classes)
        Each item's current log-odds per class (crowd votes plus the committee's evidence).
    weight : float
        Log-odds one new yes vote adds to its class.
    threshold : float
        Posterior the settled class must reach.
    yes_voters : int array of shape (n_items, n_classes)
        Distinct voters who already said yes to each class.
    voters : int array of shape (n_items,)
        Distinct voters of each item.
    min_votes, min_agreeing : int
        The settle rule's distinct voters, and distinct yes voters of the settled class.

    Returns
    -------
    ndarray of float, shape (n_items, n_classes)
        Yes votes needed from new voters (at least enough to reach ``min_votes`` voters and
        ``min_agreeing`` yes voters); ``inf`` beyond ``MAX_LOOKAHEAD``.
    """
    logits = np.asarray(logits, dtype=float)
    n, k = logits.shape
    need = np.full((n, k), np.inf)
    for m in range(MAX_LOOKAHEAD, -1, -1):
        for c in range(k):
            moved = logits.copy()
            moved[:, c] += m * weight
            moved -= moved.max(axis=1, keepdims=True)
            post = np.exp(moved[:, c]) / np.exp(moved).sum(axis=1)
            ok = (
                (post >= threshold)
                & (np.asarray(yes_voters)[:, c] + m >= min_agreeing)
                & (np.asarray(voters) + m >= min_votes)
            )
            need[ok, c] = m
    return need


def votes_to_settle_one(
    logits: np.ndarray,
    weight: float,
    threshold: float,
    yes_voters: float,
    voters: int,
    cls: int,
    *,
    min_votes: int,
    min_agreeing: int,
) -> float:
    """Return :func:`votes_to_settle`'s figure for one item (``logits`` of shape (n_classes,))
    and one class ``cls``, all lookaheads at once.

    The same arithmetic, element by element, as the general function's column ``cls`` (the
    live update needs only that one): it built and reduced a (1, n_classes) array per class
    and lookahead, 70 times for 10 classes, 2.6 ms of CPU per started item (measured, loaded).
    """
    ms = np.arange(MAX_LOOKAHEAD + 1)
    moved = np.repeat(np.asarray(logits, dtype=float)[None, :], len(ms), axis=0)
    moved[:, cls] += ms * weight
    moved -= moved.max(axis=1, keepdims=True)
    post = np.exp(moved[:, cls]) / np.exp(moved).sum(axis=1)
    ok = (post >= threshold) & (yes_voters + ms >= min_agreeing) & (voters + ms >= min_votes)
    return float(ms[ok][0]) if ok.any() else float("inf")


def live_ranks(
    project: Project, evidence: list[Evidence], reliability: float
) -> dict[str, dict[str, float]]:
    """Return the queue scores the live update gives open items: ``{label: {item: score}}``.

    Adaptive redundancy between retrains. An item whose crowd-favoured class has more yes
    than no votes goes to the top of that class's queue, ahead by its lower expected cost
    (:func:`expected_cost`); an item costing more than :func:`retire_cost`, a class the crowd
    said no to on balance, and both classes of an item the crowd splits on, drop to the bottom
    of their queues.
    """
    unit = vote_weight(project)
    w = logit(reliability)
    out: dict[str, dict[str, float]] = {}
    threshold = float(project.setting("threshold"))
    min_votes = int(project.setting("min_votes"))
    cap = retire_cost(min_votes)
    for ev in evidence:
        net = {lab: ll / unit for lab, ll in ev.loglik.items() if lab in project.labels}
        favoured = [lab for lab, n in net.items() if n >= MIN_AGREEING - 0.5]
        for lab, n in net.items():
            if n <= -0.5 or (len(favoured) >= SPLIT_CLASSES and lab in favoured):
                out.setdefault(lab, {})[ev.item] = DROPPED_RANK
        if len(favoured) >= SPLIT_CLASSES:
            continue
        top = max(net, key=lambda lab: net[lab], default=None)
        if top is None or net[top] < 0.5:
            continue
        j = project.labels.index(top)
        logits = np.array([net.get(lab, 0.0) * w for lab in project.labels])
        need = votes_to_settle_one(
            logits,
            w,
            threshold,
            round(net[top]),
            ev.votes,
            j,
            min_votes=min_votes,
            min_agreeing=MIN_AGREEING,
        )
        shifted = logits - logits.max()
        posterior = np.exp(shifted[j]) / np.exp(shifted).sum()
        cost = float(expected_cost(np.asarray(need), np.asarray(posterior), reliability))
        out.setdefault(top, {})[ev.item] = STARTED_RANK - cost if cost <= cap else DROPPED_RANK
    return out
