"""How much a live vote is worth: the crowd's reliability, and voters whose answers are no evidence.

Two estimates, both from the answers alone (truth and gold records are never used: a bot can
pass gold perfectly and still say nothing about the open items it votes on):

* :func:`estimate_reliability`, the population's one-coin reliability, from how often two
  voters asked the same question agree;
* :func:`voter_discounts`, per voter, the probability that its answers depend on the
  picture at all, from its answers on open items against the *other* voters' answers
  (docs/aggregation.md, "Votes that are evidence"). A voter who says yes whatever the picture
  shows (it echoes the asked label, which is the committee's own guess) says yes where the
  others say no: its answers are no evidence, however perfect its gold record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .models import Project, Vote

#: Distinct voters whose yes carries evidence who must have said yes to the settled class: a
#: posterior built from "no" answers to other classes, or one trusted voter's yes, is not
#: agreement.
MIN_AGREEING = 2
#: Pseudo-votes of the project's ``live_reliability`` in the population estimate (its prior).
RELIABILITY_PRIOR_VOTES = 20.0
#: Bounds of the population reliability: a crowd is never trusted as perfect, nor as worse
#: than a coin (an adversarial majority is beyond what any vote weighting can undo).
RELIABILITY_BOUNDS = (0.55, 0.99)
#: A voter more likely uninformative than not (:func:`voter_discounts`) is left out: its
#: votes neither count towards the settle rule nor enter the full run's fit.
DISCOUNT_DROP = 0.5
#: Rounds of the leave-one-out fit: the second judges voters against discounted others.
VOTER_ROUNDS = 2


def logit(r: float) -> float:
    """Return ``log(r / (1 - r))``."""
    return math.log(r / (1.0 - r))


def vote_weight(project: Project) -> float:
    """Return the log-odds one live vote adds to the stored sums (``logit(live_reliability)``)."""
    r = min(max(float(project.setting("live_reliability")), 0.5), 0.999)
    return logit(r)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(x, -50.0), 50.0)))


def _cells(votes: list[Vote], labels: list[str]) -> dict[tuple[str, str], dict[str, bool]]:
    """Return ``{(item, asked label): {voter: answer}}`` (a voter's last answer per cell)."""
    asked: dict[tuple[str, str], dict[str, bool]] = {}
    for v in votes:
        if v.label in labels:
            asked.setdefault((v.item, v.label), {})[v.voter] = bool(v.answer)
    return asked


def estimate_reliability(
    votes: list[Vote],
    labels: list[str],
    prior: float,
    prior_votes: float = RELIABILITY_PRIOR_VOTES,
    skip: frozenset[str] | set[str] = frozenset(),
) -> float:
    """Return the population's one-coin reliability from how often two voters agree.

    Every voter shares one reliability ``r`` (a yes to the true class or a no to another is
    right with probability ``r``), so two distinct voters asked the same item under the same
    label agree with probability ``r**2 + (1 - r)**2``, whatever the truth: the share of
    agreeing pairs gives ``r = (1 + sqrt(2 a - 1)) / 2``. ``prior`` enters as ``prior_votes``
    pseudo-pairs at its own agreement, so a young project stays near it. A closed form, so it
    cannot fall into the degenerate fixed point an EM over one-coin binary asks has. Truth and
    gold records are never used (gold passes are selected, so they flatter). Voters in
    ``skip`` (:func:`voter_discounts` found their answers carry no evidence) are left out.
    """
    agree = pairs = 0.0
    for answers in _cells(votes, labels).values():
        kept = [a for voter, a in answers.items() if voter not in skip]
        yes = sum(kept)
        no = len(kept) - yes
        n = yes + no
        if n < 2:
            continue
        # every unordered pair of the cell, weighed so that one cell counts as n - 1 pairs
        weight = (n - 1) / (n * (n - 1) / 2)
        agree += weight * (yes * (yes - 1) / 2 + no * (no - 1) / 2)
        pairs += n - 1
    lo, hi = RELIABILITY_BOUNDS
    r0 = min(max(prior, lo), hi)
    a0 = r0**2 + (1.0 - r0) ** 2
    a = (agree + prior_votes * a0) / (pairs + prior_votes)
    r = (1.0 + math.sqrt(max(2.0 * a - 1.0, 0.0))) / 2.0
    return float(min(max(r, lo), hi))


def _others_say(
    cells: dict[tuple[str, str], dict[str, bool]],
    weight: float,
    base: float,
    share: Mapping[str, float],
) -> dict[str, list[tuple[float, bool]]]:
    """Return ``{voter: [(p, answer)]}``: per answer, the chance the asked label is true as the
    *other* voters of its cell say it (each weighed ``weight`` times its share) on ``base``."""
    out: dict[str, list[tuple[float, bool]]] = {}
    for cell in cells.values():
        if len(cell) < 2:
            continue
        net = sum(share.get(v, 1.0) * (1.0 if a else -1.0) for v, a in cell.items())
        for voter, a in cell.items():
            own = share.get(voter, 1.0) * (1.0 if a else -1.0)
            out.setdefault(voter, []).append((_sigmoid(base + (net - own) * weight), a))
    return out


#: Reliabilities of an informative voter the evidence integrates over.
_GRID = np.linspace(0.5, 0.995, 100)
#: Prior strengths (pseudo-answers) of the crowd's reliability in an informative voter's own;
#: the fit picks the one the answers support best (empirical Bayes, no truth).
PRIOR_STRENGTHS = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def _answer_loglik(answers: list[tuple[float, bool]]) -> tuple[np.ndarray, float]:
    """Return one voter's answers' log-likelihood on ``_GRID`` if informative, and if not.

    Informative: a one-coin voter of reliability ``r`` answering a question true with
    probability ``p``. Uninformative: yes at an unknown rate, uniform on [0, 1], whatever the
    truth (an echo of the question, or a coin), integrated out in closed form.
    """
    p = np.array([x for x, _ in answers])
    a = np.array([y for _, y in answers], dtype=bool)
    r = _GRID[:, None]
    right = np.where(a, p, 1.0 - p)  # chance the answer is the truth
    ll = np.log(right * r + (1.0 - right) * (1.0 - r)).sum(axis=1)
    yes, n = int(a.sum()), len(a)
    uninformative = math.lgamma(yes + 1) + math.lgamma(n - yes + 1) - math.lgamma(n + 2)
    return ll, uninformative


def _log_prior(reliability: float, strength: float) -> np.ndarray:
    """Return the log of a Beta prior of mean ``reliability`` on ``_GRID``, normalised."""
    a, b = strength * reliability, strength * (1.0 - reliability)
    lp = (a - 1.0) * np.log(_GRID) + (b - 1.0) * np.log1p(-_GRID)
    return lp - (lp.max() + math.log(np.exp(lp - lp.max()).sum()))


def _mixture(diff: np.ndarray) -> tuple[np.ndarray, float]:
    """Return (P(uninformative) per voter, the crowd's log-likelihood) from log Bayes factors.

    The share of uninformative voters is fitted by EM, with a flat prior on it."""
    lam = 0.5
    for _ in range(50):
        odds = np.clip(diff + math.log(lam / (1.0 - lam)), -50.0, 50.0)
        post = 1.0 / (1.0 + np.exp(-odds))
        lam = float(min(max((post.sum() + 1.0) / (len(post) + 2.0), 1e-3), 1 - 1e-3))
    total = np.logaddexp(math.log(lam) + diff, math.log(1.0 - lam)).sum()
    return post, float(total)


def voter_discounts(
    votes: list[Vote],
    labels: list[str],
    reliability: float,
    rounds: int = VOTER_ROUNDS,
) -> dict[str, float]:
    """Return ``{voter: P(its answers depend on the picture)}`` for voters the others can judge.

    Per cell (an item asked under a label), the chance that the label is true is judged from
    the *other* voters' answers only (each weighed ``logit(reliability)`` times its own share
    from the previous round) on the crowd's base rate of true questions (from the yes rate
    and ``reliability``). Each voter's answers are then scored under two hypotheses by their
    marginal likelihoods (:func:`_answer_loglik`): an informative voter whose own reliability
    is drawn around the crowd's (a Beta prior, its strength the one of ``PRIOR_STRENGTHS``
    the answers support best), or an uninformative one whose yes rate ignores the truth; the
    share of uninformative voters is fitted by EM over the crowd (empirical Bayes, a flat
    prior on it). A voter who selects every open tile says yes where the others say no: the echo
    hypothesis explains that at no cost and wins once a few such cells are seen, however
    perfect its gold record. A random clicker is uninformative too (the crowd's prior makes a
    coin-like reliability unlikely for a voter), a colluder fits neither but is far likelier
    uninformative than reliable. Voters with no cell another voter answered are left out.
    """
    lo, hi = RELIABILITY_BOUNDS
    r = min(max(reliability, lo), hi)
    w = logit(r)
    cells = _cells(votes, labels)
    answers = [a for cell in cells.values() for a in cell.values()]
    if not answers:
        return {}
    # base rate of true questions: yes rate = pi r + (1 - pi)(1 - r)
    yes_rate = sum(answers) / len(answers)
    pi = min(max((yes_rate - (1.0 - r)) / (2.0 * r - 1.0), 0.02), 0.98)
    base = logit(pi)
    share: dict[str, float] = {}
    for _ in range(max(1, rounds)):
        said = _others_say(cells, w, base, share)
        if not said:
            return {}
        voters = list(said)
        scored = [_answer_loglik(said[v]) for v in voters]
        ll = np.array([x for x, _ in scored])
        unin = np.array([u for _, u in scored])
        best = None
        for strength in PRIOR_STRENGTHS:
            lp = _log_prior(r, strength)
            top = (ll + lp).max(axis=1, keepdims=True)
            inf = top[:, 0] + np.log(np.exp(ll + lp - top).sum(axis=1))
            post, total = _mixture(unin - inf)
            if best is None or total > best[1]:
                best = (post, total)
        post = best[0]
        share = {v: float(1.0 - q) for v, q in zip(voters, post, strict=True)}
    return share


def dropped(discounts: Mapping[str, float]) -> set[str]:
    """Return the voters more likely uninformative than not (share below ``DISCOUNT_DROP``)."""
    return {v for v, d in discounts.items() if d < DISCOUNT_DROP}


def agreeing_voters(
    votes: list[Vote], label: str, skip: frozenset[str] | set[str] = frozenset()
) -> int:
    """Return how many distinct voters, not in ``skip``, said yes to ``label`` among ``votes``."""
    return len({v.voter for v in votes if v.answer and v.label == label and v.voter not in skip})
