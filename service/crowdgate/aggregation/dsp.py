"""Dawid-Skene with a confusion-matrix prior pooled across workers, for sparse crowds."""

from __future__ import annotations

import numpy as np

from ._base import RandomState
from .ds import DawidSkene


class PooledDawidSkene(DawidSkene):
    """Dawid-Skene whose worker confusion matrices shrink toward the population's.

    Every worker's row ``pi[w, true, :]`` has a Dirichlet prior with mean the pooled confusion
    matrix of all workers and strength ``prior_strength`` pseudo-answers (plus the light
    ``alpha`` smoothing of :class:`DawidSkene`), re-estimated each
    M-step (empirical Bayes). A worker seen on two tasks is thus judged mostly by the crowd's
    habits, and one seen on hundreds by their own: plain Dawid-Skene overfits the first kind,
    which is what most captcha visitors are.

    Parameters
    ----------
    prior_strength : float
        Pseudo-answers per true class drawn from the pooled matrix.
    Other parameters are those of :class:`DawidSkene`.
    """

    name = "dsp"

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        prior_strength: float = 1.0,
        alpha: float = 0.5,
        alpha_diag: float = 0.5,
        class_alpha: float = 1.0,
        init: str = "mv",
        random_state: RandomState = 0,
    ):
        super().__init__(n_iter, tol, alpha, alpha_diag, class_alpha, init, random_state)
        self.prior_strength = prior_strength

    def _confusion(self, counts: np.ndarray) -> np.ndarray:
        k = counts.shape[1]
        pseudo = self.alpha + (self.alpha_diag - self.alpha) * np.eye(k)
        pooled = counts.sum(axis=0) + pseudo
        pooled /= pooled.sum(axis=1, keepdims=True)
        self.pooled_errors_ = pooled
        smoothed = counts + self.prior_strength * pooled[None, :, :] + pseudo
        return smoothed / smoothed.sum(axis=2, keepdims=True)
