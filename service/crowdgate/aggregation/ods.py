"""One-coin Dawid-Skene: one accuracy per worker, shrunk toward the population's accuracy."""

from __future__ import annotations

import numpy as np

from ._base import EPS, Aggregator, Encoded, RandomState, clamp_gold, log_normalize
from .ds import initial_probas


class OneCoinDawidSkene(Aggregator):
    """EM where worker ``w`` answers the truth with probability ``acc[w]``, else a uniform error.

    ``acc[w]`` has a Beta prior with mean the population accuracy (re-estimated each M-step)
    and strength ``prior_strength`` pseudo-answers, so one-shot workers get the population
    accuracy rather than 0 or 1. One parameter per worker makes it the steadiest model when
    most workers answer only a few tasks; it cannot represent class-specific confusions.

    Parameters
    ----------
    n_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the per-answer negative log-likelihood changes by less than this fraction.
    prior_strength : float
        Pseudo-answers at the population accuracy added to every worker.
    class_alpha : float
        Dirichlet pseudo-count added to every class of the class prior.
    init : {"mv", "wmv"}
        The posterior EM starts from.
    random_state : int, Generator or None
        Seed of the tie-break draw.
    """

    name = "ods"

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        prior_strength: float = 2.0,
        class_alpha: float = 1.0,
        init: str = "mv",
        random_state: RandomState = 0,
    ):
        self.n_iter = n_iter
        self.tol = tol
        self.prior_strength = prior_strength
        self.class_alpha = class_alpha
        self.init = init
        self.random_state = random_state

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        n_tasks, n_workers, k = enc.shape
        n_answers = np.bincount(enc.worker_idx, minlength=n_workers)
        cell = enc.task_idx * k + enc.label_idx
        probas = clamp_gold(initial_probas(enc, self.init), enc.gold_idx)
        for _ in range(max(self.n_iter, 1)):
            prior = (probas.sum(axis=0) + self.class_alpha) / (n_tasks + k * self.class_alpha)
            # Expected number of answers each worker got right under the current posterior.
            hit = probas.ravel()[cell]
            correct = np.bincount(enc.worker_idx, weights=hit, minlength=n_workers)
            population = correct.sum() / n_answers.sum()
            acc = (correct + self.prior_strength * population) / (n_answers + self.prior_strength)
            acc = np.clip(acc, EPS, 1.0 - EPS)
            log_miss = np.log1p(-acc) - np.log(max(k - 1, 1))
            # Every answer adds log_miss to all classes and log(acc) - log_miss to the one it
            # names; the first part is a per-task constant that cancels in the posterior, and
            # its sum over tasks, one term per answer, is all the loss needs.
            constant = float(n_answers @ log_miss)
            bonus = (np.log(acc) - log_miss)[enc.worker_idx]
            score = np.bincount(cell, weights=bonus, minlength=n_tasks * k).reshape(n_tasks, k)
            probas, log_evidence = log_normalize(np.log(prior) + score)
            probas = clamp_gold(probas, enc.gold_idx)
            self.loss_history_.append(-(float(log_evidence.sum()) + constant) / len(enc.task_idx))
            hist = self.loss_history_
            if len(hist) > 1 and abs(hist[-2] - hist[-1]) <= self.tol * abs(hist[-2]):
                break
        self.skills_ = dict(zip(enc.workers.tolist(), acc.tolist(), strict=True))
        return probas, prior

    def _empty(self, enc: Encoded) -> None:
        self.skills_ = {}
