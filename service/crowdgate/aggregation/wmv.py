"""Reliability-weighted majority vote, reweighted by agreement with the current consensus."""

from __future__ import annotations

import numpy as np

from ._base import (
    EPS,
    Aggregator,
    Encoded,
    RandomState,
    clamp_gold,
    log_normalize,
    tie_break_argmax,
)


class WeightedMajorityVote(Aggregator):
    """Weight each worker by the log-odds of their accuracy against the consensus (and gold).

    Start from majority vote; then repeat: estimate each worker's accuracy as their agreement
    with the current consensus labels (gold tasks count with their truth), shrunk toward the
    population accuracy by ``prior_strength`` pseudo-answers; vote with weight
    ``log(acc * (K - 1) / (1 - acc))``, the optimal weight when errors are spread evenly over
    the other classes. Stop when no label changes or after ``n_iter`` rounds.

    Parameters
    ----------
    n_iter : int
        Maximum number of reweighting rounds.
    prior_strength : float
        Pseudo-answers at the population accuracy added to every worker, so a worker seen once
        gets roughly the population weight instead of a perfect (or zero) one.
    random_state : int, Generator or None
        Seed of the tie-break draw.
    """

    name = "wmv"

    def __init__(
        self, n_iter: int = 20, prior_strength: float = 2.0, random_state: RandomState = 0
    ):
        self.n_iter = n_iter
        self.prior_strength = prior_strength
        self.random_state = random_state

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        n_tasks, n_workers, k = enc.shape
        prior = np.bincount(enc.label_idx, minlength=k) / len(enc.label_idx)
        cell = enc.task_idx * k + enc.label_idx
        counts = np.bincount(cell, minlength=n_tasks * k).reshape(n_tasks, k).astype(float)
        ref = tie_break_argmax(clamp_gold(counts, enc.gold_idx), enc.tie_keys)
        n_answers = np.bincount(enc.worker_idx, minlength=n_workers)
        probas = counts / counts.sum(axis=1, keepdims=True)
        weight = np.ones(n_workers)
        for _ in range(self.n_iter):
            agree = (enc.label_idx == ref[enc.task_idx]).astype(float)
            correct = np.bincount(enc.worker_idx, weights=agree, minlength=n_workers)
            population = correct.sum() / n_answers.sum()
            self.loss_history_.append(1.0 - population)
            acc = (correct + self.prior_strength * population) / (n_answers + self.prior_strength)
            # Clipping keeps the weight finite for workers who agreed on everything they saw.
            acc = np.clip(acc, EPS, 1.0 - EPS)
            weight = np.log(acc) + np.log(max(k - 1, 1)) - np.log1p(-acc)
            score = np.bincount(cell, weights=weight[enc.worker_idx], minlength=n_tasks * k)
            score = score.reshape(n_tasks, k)
            # Read as a log-likelihood ratio, the weighted score is the one-coin posterior.
            probas = clamp_gold(log_normalize(score)[0], enc.gold_idx)
            new_ref = tie_break_argmax(probas, enc.tie_keys)
            if np.array_equal(new_ref, ref):
                break
            ref = new_ref
        self.weights_ = dict(zip(enc.workers.tolist(), weight.tolist(), strict=True))
        return probas, prior

    def _empty(self, enc: Encoded) -> None:
        self.weights_ = {}
