"""Dawid-Skene EM: one confusion matrix per worker, gold tasks clamped to their truth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._base import EPS, Aggregator, Encoded, RandomState, clamp_gold, log_normalize
from .mv import MajorityVote
from .wmv import WeightedMajorityVote


def initial_probas(enc: Encoded, init: str) -> np.ndarray:
    """Return the starting posterior of EM: majority vote (``"mv"``) or weighted (``"wmv"``)."""
    start = WeightedMajorityVote() if init == "wmv" else MajorityVote()
    start.loss_history_ = []
    return start._fit(enc)[0]


def confusion_counts(enc: Encoded, probas: np.ndarray) -> np.ndarray:
    """Return expected counts ``C[w, true, given]`` (n_workers, K, K) under ``probas``."""
    # Each answer's soft truth summed into its (worker, given label) row, then transposed.
    return enc.by_worker_label(probas.take(enc.task_idx, axis=0)).transpose(0, 2, 1)


def run_em(
    enc: Encoded,
    probas: np.ndarray,
    confusion: Callable[[np.ndarray], np.ndarray],
    *,
    class_alpha: float,
    n_iter: int,
    tol: float,
    history: list[float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternate ``confusion(counts) -> (W, K, K)`` M-steps and E-steps until the loss settles.

    Returns the posterior (n_tasks, K), the class prior (K,) and the confusion matrices. The
    loss appended to ``history`` is the negative log-likelihood of the answers per answer.
    """
    n_tasks, _, k = enc.shape
    pair = enc.worker_idx * k + enc.label_idx
    probas = clamp_gold(probas.copy(), enc.gold_idx)
    for _ in range(max(n_iter, 1)):
        # Dirichlet pseudo-counts on the class prior keep a class that is rare in the current
        # posterior from collapsing to zero and never being predicted again.
        prior = (probas.sum(axis=0) + class_alpha) / (n_tasks + k * class_alpha)
        pi = confusion(confusion_counts(enc, probas))
        # Clip before the log: a zero cell would make one answer veto a class outright.
        # Rows indexed by (worker, given label): one contiguous gather per E-step.
        log_pi = np.log(np.clip(pi, EPS, 1.0)).transpose(0, 2, 1).reshape(-1, k)
        log_post = np.log(prior) + enc.by_task(log_pi.take(pair, axis=0))
        probas, log_evidence = log_normalize(log_post)
        probas = clamp_gold(probas, enc.gold_idx)
        history.append(-float(log_evidence.sum()) / len(enc.task_idx))
        if len(history) > 1 and abs(history[-2] - history[-1]) <= tol * abs(history[-2]):
            break
    return probas, prior, pi


class DawidSkene(Aggregator):
    """Dawid-Skene EM with light Dirichlet smoothing of confusion matrices and class prior.

    Each worker ``w`` has a confusion matrix ``pi[w, true, given]``. EM starts from majority
    vote (or weighted majority vote), M-steps take MAP estimates under Dirichlet pseudo-counts
    (``alpha_diag`` on the diagonal, ``alpha`` elsewhere), and E-steps give each task the
    posterior ``prior * prod_answers pi[w, :, given]``. Gold tasks stay clamped to their truth
    in every E-step, so they also calibrate the workers who answered them.

    Parameters
    ----------
    n_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the per-answer negative log-likelihood changes by less than this fraction.
    alpha, alpha_diag : float
        Dirichlet pseudo-counts added to every off-diagonal and diagonal cell.
    class_alpha : float
        Dirichlet pseudo-count added to every class of the class prior.
    init : {"mv", "wmv"}
        The posterior EM starts from.
    random_state : int, Generator or None
        Seed of the tie-break draw.
    """

    name = "ds"

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        alpha: float = 0.5,
        alpha_diag: float = 0.5,
        class_alpha: float = 1.0,
        init: str = "mv",
        random_state: RandomState = 0,
    ):
        self.n_iter = n_iter
        self.tol = tol
        self.alpha = alpha
        self.alpha_diag = alpha_diag
        self.class_alpha = class_alpha
        self.init = init
        self.random_state = random_state

    def _confusion(self, counts: np.ndarray) -> np.ndarray:
        k = counts.shape[1]
        smoothed = counts + self.alpha + (self.alpha_diag - self.alpha) * np.eye(k)
        return smoothed / smoothed.sum(axis=2, keepdims=True)

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        probas, prior, pi = run_em(
            enc,
            initial_probas(enc, self.init),
            self._confusion,
            class_alpha=self.class_alpha,
            n_iter=self.n_iter,
            tol=self.tol,
            history=self.loss_history_,
        )
        self.errors_ = pi
        return probas, prior

    def _empty(self, enc: Encoded) -> None:
        k = len(enc.classes)
        self.errors_ = np.zeros((0, k, k))
