"""Disagreement measures for query by committee, as pure functions over probability arrays.

Every committee measure takes ``member_probas`` of shape ``(n_members, n_samples, n_classes)``
(each row a class distribution) and returns a float64 array of shape ``(n_samples,)`` in which a
higher value means the committee is more torn, so callers always rank in descending order.
Entropies and divergences are in nats.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.utils import check_random_state

from ..errors import CrowdgateError

__all__ = [
    "MEASURES",
    "consensus_entropy",
    "kl_max_disagreement",
    "margin",
    "mean_kl_divergence",
    "random_scores",
    "variation_ratio",
    "vote_entropy",
]


class InvalidProbabilities(CrowdgateError):
    """An array of probabilities has the wrong shape or holds values outside [0, 1]."""

    code = "invalid-probabilities"


def _check_member_probas(member_probas: np.ndarray) -> np.ndarray:
    probas = np.asarray(member_probas, dtype=np.float64)
    if probas.ndim != 3:
        raise InvalidProbabilities(
            f"Member probabilities have shape {probas.shape}, but (n_members, n_samples, "
            "n_classes) is required; stack each member's predict_proba output along axis 0."
        )
    _check_range(probas)
    return probas


def _check_range(probas: np.ndarray) -> None:
    if probas.size and not (np.isfinite(probas).all() and probas.min() >= 0 and probas.max() <= 1):
        raise InvalidProbabilities(
            "Probabilities must be finite and within [0, 1]; pass predict_proba outputs, "
            "not decision function scores."
        )


def _entropy(p: np.ndarray) -> np.ndarray:
    # 0 * log 0 is taken as 0: substituting 1 inside the log avoids a runtime warning.
    # Written as 0.0 - sum so an entropy of zero is +0.0, not -0.0, in stored scores.
    return 0.0 - np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)


def _vote_fractions(probas: np.ndarray) -> np.ndarray:
    n_members, n_samples, n_classes = probas.shape
    counts = np.zeros((n_samples, n_classes))
    rows = np.arange(n_samples)
    for votes in probas.argmax(axis=2):
        counts[rows, votes] += 1
    return counts / n_members


def vote_entropy(member_probas: np.ndarray) -> np.ndarray:
    """Return the entropy of the members' hard votes, shape ``(n_samples,)``.

    Parameters
    ----------
    member_probas : array of shape (n_members, n_samples, n_classes)
        Each member's class probabilities; a member votes for its argmax (first on ties).

    Returns
    -------
    ndarray of shape (n_samples,)
        ``-sum_c v_c log v_c`` with ``v_c`` the fraction of members voting ``c``; 0 when all
        members agree, at most ``log(min(n_members, n_classes))``.
    """
    probas = _check_member_probas(member_probas)
    return _entropy(_vote_fractions(probas))


def consensus_entropy(member_probas: np.ndarray) -> np.ndarray:
    """Return the entropy of the averaged (soft-vote) distribution, shape ``(n_samples,)``.

    Parameters
    ----------
    member_probas : array of shape (n_members, n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
        ``H(mean_m p_m)``, at most ``log(n_classes)``.
    """
    probas = _check_member_probas(member_probas)
    return _entropy(probas.mean(axis=0))


def _kl_to_consensus(probas: np.ndarray) -> np.ndarray:
    consensus = probas.mean(axis=0, keepdims=True)
    # Wherever p_m > 0 the consensus is at least p_m / n_members > 0, so the ratio is finite;
    # terms with p_m == 0 contribute 0 and are masked rather than clipped.
    positive = probas > 0
    ratio = np.where(positive, probas, 1.0) / np.where(positive, consensus, 1.0)
    return np.sum(probas * np.log(ratio), axis=2)


def mean_kl_divergence(member_probas: np.ndarray) -> np.ndarray:
    """Return the mean KL divergence of each member to the consensus, shape ``(n_samples,)``.

    Parameters
    ----------
    member_probas : array of shape (n_members, n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
        ``mean_m KL(p_m || mean p)``; equals the Jensen-Shannon divergence of the committee.
    """
    probas = _check_member_probas(member_probas)
    return _kl_to_consensus(probas).mean(axis=0)


def kl_max_disagreement(member_probas: np.ndarray) -> np.ndarray:
    """Return the largest KL divergence of a member to the consensus, shape ``(n_samples,)``.

    Parameters
    ----------
    member_probas : array of shape (n_members, n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
        ``max_m KL(p_m || mean p)``: high when at least one member strongly dissents.
    """
    probas = _check_member_probas(member_probas)
    return _kl_to_consensus(probas).max(axis=0)


def variation_ratio(member_probas: np.ndarray) -> np.ndarray:
    """Return the share of members not voting for the modal class, shape ``(n_samples,)``.

    Parameters
    ----------
    member_probas : array of shape (n_members, n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
        ``1 - max_c v_c`` with ``v_c`` the fraction of members voting ``c``.
    """
    probas = _check_member_probas(member_probas)
    return 1.0 - _vote_fractions(probas).max(axis=1)


def margin(proba: np.ndarray) -> np.ndarray:
    """Return one model's margin uncertainty, shape ``(n_samples,)`` (the single-model baseline).

    Parameters
    ----------
    proba : array of shape (n_samples, n_classes)
        One model's class probabilities (or a committee's consensus).

    Returns
    -------
    ndarray of shape (n_samples,)
        ``1 - (p_top1 - p_top2)``: 1 when the two best classes tie, 0 when one class is certain.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InvalidProbabilities(
            f"Probabilities have shape {p.shape}, but (n_samples, n_classes) with at least two "
            "classes is required for margin sampling."
        )
    _check_range(p)
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def random_scores(n: int, random_state: int | np.random.RandomState | None = None) -> np.ndarray:
    """Return ``n`` uniform scores in [0, 1), the random-selection baseline, shape ``(n,)``."""
    return check_random_state(random_state).random_sample(n)


#: Committee measures by name, each mapping ``(n_members, n_samples, n_classes)`` to scores.
MEASURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "vote_entropy": vote_entropy,
    "consensus_entropy": consensus_entropy,
    "mean_kl_divergence": mean_kl_divergence,
    "kl_max_disagreement": kl_max_disagreement,
    "variation_ratio": variation_ratio,
}
