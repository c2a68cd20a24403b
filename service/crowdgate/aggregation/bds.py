"""Bayesian Dawid-Skene: one-coin and full confusion, hierarchical priors, chosen by evidence."""

from __future__ import annotations

import numpy as np

from ._base import Aggregator, Encoded, RandomState
from .ds import confusion_counts
from .dsp import PooledDawidSkene
from .evidence import full_confusion_evidence, one_coin_evidence, truth_evidence
from .ods import OneCoinDawidSkene


class BayesianDawidSkene(Aggregator):
    """Average a one-coin and a full-confusion Dawid-Skene fit by their evidence.

    Both worker models have hierarchical priors fitted to the crowd (empirical Bayes), so a
    worker with one to three answers is judged mostly as the crowd is:

    - **one-coin** (:class:`OneCoinDawidSkene`): worker ``w`` is right with probability
      ``acc[w] ~ Beta`` centred on the population accuracy, errors spread evenly;
    - **full** (:class:`PooledDawidSkene`): each confusion row ``pi[w, true, :]`` is Dirichlet
      around the pooled confusion matrix of all workers.

    Which one describes the answers is decided by their marginal likelihood: the collapsed
    bound ``log P(answers)`` of each fit under uniform reference priors
    (:mod:`.evidence`). The posteriors are averaged with weights ``softmax(evidence)``
    (Bayesian model averaging): with a few thousand answers that is a clear choice, and on a
    handful of answers the two are blended. Full confusion costs ``K (K - 1)`` parameters per
    worker against one, so it wins only where workers answer enough to show class-specific
    habits; crowds of sparse workers fall to the one-coin model, where plain Dawid-Skene
    overfits. No truth is used for the choice; gold tasks are clamped in both fits.

    Fitted attributes (besides the :class:`Aggregator` ones)
    ----------------------------------------------------------
    evidence_ : {"one-coin": float, "full": float}, log evidence of each fit.
    weights_ : {"one-coin": float, "full": float}, their posterior model probabilities.
    chosen_ : the model with the larger weight.
    submodels_ : the two fitted aggregators.

    Parameters
    ----------
    n_iter, tol : EM iterations and stopping tolerance of both fits.
    random_state : seed of the tie-break draw.
    """

    name = "bds"

    def __init__(self, n_iter: int = 100, tol: float = 1e-6, random_state: RandomState = 0):
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        fits = {
            "one-coin": OneCoinDawidSkene(self.n_iter, self.tol, random_state=self.random_state),
            "full": PooledDawidSkene(self.n_iter, self.tol, random_state=self.random_state),
        }
        worker_evidence = {"one-coin": one_coin_evidence, "full": full_confusion_evidence}
        results = {}
        for name, model in fits.items():
            model.loss_history_ = []
            probas, prior = model._fit(enc)
            counts = confusion_counts(enc, probas)
            evidence = worker_evidence[name](counts) + truth_evidence(probas)
            results[name] = (probas, prior, evidence)
        self.submodels_ = fits
        self.evidence_ = {name: r[2] for name, r in results.items()}
        top = max(self.evidence_.values())
        raw = {name: np.exp(e - top) for name, e in self.evidence_.items()}
        total = sum(raw.values())
        self.weights_ = {name: float(w / total) for name, w in raw.items()}
        self.chosen_ = max(self.weights_, key=self.weights_.__getitem__)
        self.loss_history_ = list(fits[self.chosen_].loss_history_)
        probas = sum(self.weights_[n] * results[n][0] for n in results)
        prior = sum(self.weights_[n] * results[n][1] for n in results)
        return probas, prior

    def _empty(self, enc: Encoded) -> None:
        self.evidence_ = {}
        self.weights_ = {}
        self.chosen_ = ""
        self.submodels_ = {}
