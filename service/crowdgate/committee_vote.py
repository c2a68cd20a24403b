"""The committee as evidence, never a voter: its capped half vote, and its check on the crowd.

reCAPTCHA v1 counted an OCR reading as half a vote; so does crowdgate with the committee's
calibrated reading (:func:`committee_vote`), live and as each item's prior in the full run
(:func:`committee_evidence`). A crowd label that a confident committee contradicts must
outweigh it (:func:`committee_check`). docs/aggregation.md, "Settle rule" and "Live consensus".
"""

from __future__ import annotations

import math

import numpy as np

from .models import Item, Project
from .reliability import logit

#: Committee confidence from which a committee reading another class is used as the prior.
COMMITTEE_CHECK = 0.5
#: The committee's reading counts at most this share of one vote: evidence, never a voter.
COMMITTEE_VOTE = 0.5
#: Chance that an item reads as another class to every voter alike (one shared misreading, not
#: independent slips): the simulated crowd's one perceiver misreads about 2 % of open digits on
#: most of their variants (bench/robustness/ceiling.py: 1.7 and 3.1 % on seeds 0 and 1), as
#: people misread a hard picture alike. A prior on the voters, not tuned to any set.
MISREAD_PRIOR = 0.02


def committee_vote(project: Project, item: Item | None, reliability: float) -> np.ndarray:
    """Return the log-odds the committee's reading adds per class: at most half a vote.

    The committee's calibrated confidence ``c`` in its label is worth ``log(c (k-1) / (1-c))``
    against a uniform prior; it is capped at ``COMMITTEE_VOTE`` of one vote of ``reliability``
    so it can tip an item the crowd has nearly settled, never settle one.
    """
    out = np.zeros(len(project.labels))
    if item is None or item.committee_label not in project.labels:
        return out
    conf, k = item.committee_confidence, len(project.labels)
    if conf is None or conf <= 1.0 / k:
        return out
    conf = min(float(conf), 1.0 - 1e-9)
    evidence = math.log(conf * (k - 1) / (1.0 - conf))
    out[project.labels.index(item.committee_label)] = min(
        evidence, COMMITTEE_VOTE * logit(reliability)
    )
    return out


def misread_likelihood(posterior: np.ndarray, misread: float = MISREAD_PRIOR) -> np.ndarray:
    """Return the votes' likelihood per true class when the item may be misread by everyone.

    ``posterior`` is the crowd's posterior under independent voters (uniform prior), which is
    proportional to the votes' likelihood ``L(s)`` if every voter read the item as class ``s``.
    With chance ``misread`` the item reads as another class to every voter alike (a shared
    misreading, uniform over the other ``k - 1`` classes), so the votes' likelihood of true
    class ``t`` is ``(1 - m) L(t) + m / (k - 1) * sum of L(s) over s != t``. However many votes
    agree, they then favour their class over another by at most ``(1 - m)(k - 1) / m``.
    """
    p = np.asarray(posterior, dtype=float)
    k = len(p)
    if k < 2:
        return p
    return (1.0 - misread) * p + misread / (k - 1) * (1.0 - p)


def committee_check(project: Project, item: Item, posterior: np.ndarray) -> np.ndarray:
    """Return ``posterior`` reweighted by the committee when it confidently reads another class.

    The committee's reading becomes the prior (its label at its confidence, the rest shared
    evenly) and the votes count through :func:`misread_likelihood`, so agreeing votes are
    bounded evidence: a crowd that may share one misreading of the item outweighs a committee
    at ``c`` only when ``(1 - c)(1 - m) / (c m)`` clears the threshold's odds. Otherwise
    ``posterior`` is returned unchanged.
    """
    label, conf = item.committee_label, item.committee_confidence
    if label not in project.labels or conf is None or conf < COMMITTEE_CHECK:
        return posterior
    top = int(np.argmax(posterior))
    if project.labels[top] == label:
        return posterior
    k = len(project.labels)
    prior = np.full(k, (1.0 - conf) / max(k - 1, 1))
    prior[project.labels.index(label)] = conf
    out = misread_likelihood(posterior) * prior
    return out / out.sum()


def votes_can_outweigh(project: Project, conf: float | None) -> bool:
    """Return True when agreeing votes could ever settle an item against a committee reading
    another class at confidence ``conf``: the most :func:`committee_check` leaves them (every
    vote for one class) still reaches the threshold. An item it rules out for a label is no
    longer asked about that label (live: ``consensus.apply_live``; trainer: its queues)."""
    k = len(project.labels)
    if conf is None or conf < COMMITTEE_CHECK or k < 2:
        return True
    sure = np.zeros(k)
    sure[0] = 1.0
    prior = np.full(k, (1.0 - conf) / (k - 1))
    prior[1] = conf
    out = misread_likelihood(sure) * prior
    return bool(out[0] / out.sum() >= float(project.setting("threshold")))


def outweigh_limit(project: Project) -> float:
    """Return the committee confidence up to which agreeing votes can still outweigh it
    (:func:`votes_can_outweigh` is true at and below it), found by bisection: the trainer
    compares a whole pool's confidences with one number."""
    lo, hi = COMMITTEE_CHECK, 1.0
    if not votes_can_outweigh(project, lo):
        return lo
    for _ in range(40):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if votes_can_outweigh(project, mid) else (lo, mid)
    return lo


def committee_evidence(
    project: Project, items: dict[str, Item | None], reliability: float
) -> dict[str, dict[str, float]]:
    """Return ``{item: {label: log-odds}}``: the committee's capped reading for the full run."""
    out: dict[str, dict[str, float]] = {}
    for item_id, item in items.items():
        prior = committee_vote(project, item, reliability)
        if prior.any():
            pairs = zip(project.labels, prior, strict=True)
            out[item_id] = {lab: float(x) for lab, x in pairs if x}
    return out
