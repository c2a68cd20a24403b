"""Marginal likelihoods (evidence) of worker models, for choosing between them inside a fit.

The evidence of a worker model is the probability of the answers with the worker parameters
integrated out under a reference prior; a model with more parameters pays for them (Occam's
razor) unless the answers need them. With soft counts from a posterior over the truth these are
the collapsed variational bounds of Dawid-Skene type models (Kim and Ghahramani's Bayesian
classifier combination, without their priors' tuning). Only answers enter: never truth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def _shifted_to_seven(
    x: np.ndarray, term: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``x`` raised by whole steps to at least 7, and minus the sum of ``term`` over them.

    The recurrences ``log Gamma(z) = log Gamma(z + 1) - log z`` and ``psi(z) = psi(z + 1) -
    1 / z`` both move small arguments to where the asymptotic series is accurate. Every
    argument below 7 takes all seven steps (``x + 7`` is at least 7 for any positive ``x``),
    gathered once: seven passes over the small entries only, instead of seven masked passes
    over the whole array (EBCC's confusion posteriors are mostly large, a few small).
    """
    # A C-ordered copy, so that the flat views below write through (a transposed input
    # would otherwise give a copy back from reshape and the writes would be lost).
    z = np.array(x, dtype=float, order="C")
    shift = np.zeros_like(z, order="C")
    flat_z, flat_shift = z.reshape(-1), shift.reshape(-1)
    small = np.flatnonzero(flat_z < 7.0)
    if len(small):
        base = flat_z[small]
        total = term(base)
        for step in range(1, 7):
            total += term(base + float(step))
        flat_shift[small] = -total
        flat_z[small] = base + 7.0
    return z, shift


def log_gamma(x: np.ndarray) -> np.ndarray:
    """Return ``log Gamma(x)`` for positive ``x`` (absolute error below 1e-10).

    Shifts ``x`` to at least 7 with ``Gamma(x + 1) = x Gamma(x)``, then Stirling's series: a few
    vectorized passes, so the aggregation path needs neither scipy nor a Python loop per cell.
    """
    z, shift = _shifted_to_seven(x, np.log)
    inv = 1.0 / z
    inv2 = inv * inv
    series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    return shift + (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series


def digamma(x: np.ndarray) -> np.ndarray:
    """Return the digamma function ``d/dx log Gamma(x)`` for positive ``x`` (error below 1e-10).

    The same shift as :func:`log_gamma` (``psi(x) = psi(x + 1) - 1 / x``) to at least 7, then
    the asymptotic series: variational updates need ``E[log p]`` under Dirichlet posteriors.
    """
    z, shift = _shifted_to_seven(x, np.reciprocal)
    inv2 = 1.0 / (z * z)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))
    return shift + np.log(z) - 0.5 / z - series


def log_dirichlet_multinomial(counts: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Return log P(counts | Dirichlet(alpha)) of each row of ``counts`` (last axis: categories).

    The sequence probability (no multinomial coefficient): the answers are observed in order, so
    models with different category structures are compared on the same data.
    """
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), counts.shape)
    return (
        log_gamma(alpha.sum(-1))
        - log_gamma(counts.sum(-1) + alpha.sum(-1))
        + (log_gamma(counts + alpha) - log_gamma(alpha)).sum(-1)
    )


def full_confusion_evidence(counts: np.ndarray) -> float:
    """Return the log evidence of soft counts ``C[w, true, given]`` under full confusion matrices.

    Every row ``pi[w, true, :]`` has a uniform Dirichlet(1) reference prior.
    """
    return float(log_dirichlet_multinomial(counts, np.ones(counts.shape[-1])).sum())


def one_coin_evidence(counts: np.ndarray) -> float:
    """Return the log evidence of ``C[w, true, given]`` under one accuracy per worker.

    Accuracy ``a[w]`` has a uniform Beta(1, 1) reference prior; an error names each of the other
    ``K - 1`` classes with probability ``1 / (K - 1)``.
    """
    k = counts.shape[-1]
    right = np.einsum("wkk->w", counts)
    seen = counts.sum(axis=(1, 2))
    pair = np.stack([right, seen - right], axis=1)
    wrong_naming = (seen - right).sum() * np.log(max(k - 1, 1))
    return float(log_dirichlet_multinomial(pair, np.ones(2)).sum() - wrong_naming)


def truth_evidence(probas: np.ndarray) -> float:
    """Return the class-prior term plus entropy of a posterior over the truth (n_tasks, K).

    Together with a worker model's evidence this is the collapsed bound on log P(answers).
    """
    k = probas.shape[1]
    entropy = -float(np.sum(probas * np.log(np.clip(probas, 1e-300, None))))
    return float(log_dirichlet_multinomial(probas.sum(axis=0), np.ones(k))) + entropy
