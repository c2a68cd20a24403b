"""Two-coin grid voters and the evidence that decides between one coin and two.

A two-coin voter answers "is this a ``c``?" with its own rate on each side of the truth:
``P(yes | truth = c) = se`` (sensitivity) and ``P(no | truth != c) = sp`` (specificity). A
voter who clicks every tile, or none, is one-sided: one coin can only call them mediocre, two
coins see that their "yes" says nothing while their "no" (or the reverse) still does. Each coin
has a Beta prior centred on the population's rate, so a one-grid visitor is judged as the crowd
is. :class:`~.captcha.GridVoteModel` fits both and weighs them by their evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import EPS, log_normalize
from .evidence import log_gamma


@dataclass(frozen=True)
class GridVotes:
    """Encoded grid votes: ``cell = item * K + asked``; gold items clamped to ``gold_idx``."""

    item_idx: np.ndarray
    voter_idx: np.ndarray
    cell: np.ndarray
    yes: np.ndarray
    n_items: int
    n_voters: int
    k: int
    gold_idx: np.ndarray
    #: (n_items, k) log-odds added to the class prior per item (the committee's reading), or None
    offset: np.ndarray | None = None


def shrunk_rate(hits: np.ndarray, trials: np.ndarray, population: float, strength: float):
    """Return the posterior mean rate ``(hits + s m) / (trials + s)`` under a population prior.

    ``population`` is the crowd's rate ``m`` and ``strength`` its weight ``s`` in pseudo-votes:
    a voter with no history gets ``m``, one with many votes their own rate. The live consensus
    can use this for a voter it has not seen fitted yet.
    """
    return (np.asarray(hits, dtype=float) + strength * population) / (
        np.asarray(trials, dtype=float) + strength
    )


def coin_evidence(hits: np.ndarray, trials: np.ndarray) -> float:
    """Return the summed log P(sequence of hits) of Bernoulli coins with uniform Beta priors."""
    hits = np.asarray(hits, dtype=float)
    trials = np.asarray(trials, dtype=float)
    return float(
        (log_gamma(hits + 1.0) + log_gamma(trials - hits + 1.0) - log_gamma(trials + 2.0)).sum()
    )


def posterior_entropy_term(probas: np.ndarray, gold_idx: np.ndarray) -> float:
    """Return the class-prior term and entropy of the unknown items' posterior (collapsed bound)."""
    from .evidence import truth_evidence

    free = probas[gold_idx < 0]
    return truth_evidence(free) if len(free) else 0.0


def fit_two_coin(
    votes: GridVotes,
    g_right: np.ndarray,
    g_seen: np.ndarray,
    *,
    prior_strength: float,
    class_alpha: float,
    n_iter: int,
    tol: float,
) -> dict[str, np.ndarray | float | list[float]]:
    """Run EM for two-coin voters; return posterior, prior, rates, expected counts and loss.

    A gold slot's outcome is split evenly between the two coins: the voter's gold score says
    how often they were right, not on which side of the truth.
    """
    v, k, n_items = votes.voter_idx, votes.k, votes.n_items
    yes = votes.yes
    gold_rows = np.flatnonzero(votes.gold_idx >= 0)
    g_half_right, g_half_seen = g_right / 2.0, g_seen / 2.0
    prior = np.full(k, 1.0 / k)
    # Start from the one-coin starting point: every voter at the prior population rate.
    start = (g_right.sum() + 0.8 * prior_strength) / (g_seen.sum() + prior_strength)
    se_pop = sp_pop = start
    se_hit, se_n = g_half_right.copy(), g_half_seen.copy()
    sp_hit, sp_n = g_half_right.copy(), g_half_seen.copy()
    probas = np.tile(prior, (n_items, 1))
    loss: list[float] = []
    for _ in range(max(n_iter, 1)):
        se = np.clip(shrunk_rate(se_hit, se_n, se_pop, prior_strength), EPS, 1 - EPS)
        sp = np.clip(shrunk_rate(sp_hit, sp_n, sp_pop, prior_strength), EPS, 1 - EPS)
        # Worse than chance (se + sp < 1) gets no weight, as one coin below 0.5 does.
        se = np.maximum(se, 1.0 - sp)
        se_v, sp_v = se[v], sp[v]
        base = np.where(yes, np.log1p(-sp_v), np.log(sp_v))
        bonus = np.where(yes, np.log(se_v) - np.log1p(-sp_v), np.log1p(-se_v) - np.log(sp_v))
        score = np.bincount(votes.cell, weights=bonus, minlength=n_items * k).reshape(n_items, k)
        score += np.bincount(votes.item_idx, weights=base, minlength=n_items)[:, None]
        if votes.offset is not None:
            score += votes.offset
        probas, log_evidence = log_normalize(np.log(prior) + score)
        probas[gold_rows] = 0.0
        probas[gold_rows, votes.gold_idx[gold_rows]] = 1.0
        loss.append(-float(log_evidence.sum()) / len(yes))
        p_asked = probas.ravel()[votes.cell]
        se_hit = g_half_right + np.bincount(v, weights=yes * p_asked, minlength=votes.n_voters)
        se_n = g_half_seen + np.bincount(v, weights=p_asked, minlength=votes.n_voters)
        sp_hit = g_half_right + np.bincount(
            v, weights=(~yes) * (1.0 - p_asked), minlength=votes.n_voters
        )
        sp_n = g_half_seen + np.bincount(v, weights=1.0 - p_asked, minlength=votes.n_voters)
        se_pop = se_hit.sum() / max(se_n.sum(), EPS)
        sp_pop = sp_hit.sum() / max(sp_n.sum(), EPS)
        prior = (probas.sum(axis=0) + class_alpha) / (n_items + k * class_alpha)
        if len(loss) > 1 and abs(loss[-2] - loss[-1]) <= tol * abs(loss[-2]):
            break
    return {
        "probas": probas,
        "prior": prior,
        "sensitivity": se,
        "specificity": sp,
        "loss": loss,
        "evidence": coin_evidence(se_hit, se_n)
        + coin_evidence(sp_hit, sp_n)
        + posterior_entropy_term(probas, votes.gold_idx),
    }
