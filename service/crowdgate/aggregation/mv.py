"""Majority vote: every answer counts once; the baseline every other method is compared with."""

from __future__ import annotations

import numpy as np

from ._base import Aggregator, Encoded, RandomState, clamp_gold


class MajorityVote(Aggregator):
    """Label each task with its most frequent answer.

    ``probas_`` holds each class's share of the task's answers; ties are broken by a uniform
    draw seeded with ``random_state``. Gold tasks are reported as their truth.
    """

    name = "mv"

    def __init__(self, random_state: RandomState = 0):
        self.random_state = random_state

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        n_tasks, _, k = enc.shape
        counts = np.bincount(enc.task_idx * k + enc.label_idx, minlength=n_tasks * k)
        counts = counts.reshape(n_tasks, k).astype(float)
        prior = np.bincount(enc.label_idx, minlength=k) / len(enc.label_idx)
        return clamp_gold(counts / counts.sum(axis=1, keepdims=True), enc.gold_idx), prior
