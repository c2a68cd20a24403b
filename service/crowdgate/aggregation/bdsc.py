"""Bayesian Dawid-Skene checked for correlated errors: EBCC subtypes where the answers need them."""

from __future__ import annotations

import numpy as np

from ._base import Aggregator, Encoded, RandomState
from .bds import BayesianDawidSkene
from .ebcc import SubtypeClassifierCombination

#: EBCC's per-answer work grows with classes x subtypes; beyond this many states the subtypes
#: per class are reduced (at least two), a compute bound: the shared sets have at most 5
#: classes (50 states), and with many classes a confusion row per worker and subtype has
#: little to learn from anyway.
MAX_STATES = 100


class CorrelationCheckedDawidSkene(Aggregator):
    """:class:`BayesianDawidSkene`, or item subtypes where workers' errors are correlated.

    Every Dawid-Skene model, one-coin or full, assumes that workers err independently given
    the true class. Where a few prolific workers are wrong on the *same* items, the full model
    reads their shared mistakes as the truth and fits the answers better for it, so no
    evidence between independent models can catch it. The assumption itself can be tested on
    the answers: EBCC (:class:`SubtypeClassifierCombination`, item subtypes with a confusion
    row per worker and subtype) contains Bayesian classifier combination (one subtype, the
    same priors) as a special case, so the log Bayes factor between the two,
    ``evidence(EBCC) - evidence(one subtype)``, is the answers' evidence for correlated errors.

    The posterior is the average of EBCC's and ``bds``'s with weights from that Bayes factor
    (``correlated_``: the posterior probability of correlated errors). ``bds`` stands for the
    independent hypothesis because it is the better independent model (its hierarchical
    priors keep sparse workers sound; one subtype with EBCC's fixed priors gives one-answer
    workers a strong vote). EBCC's defaults are the paper's (10 subtypes, Dirichlet(4 on the
    diagonal, 1 elsewhere) rows, subtype weights Dirichlet(0.1)); it is fitted from
    ``n_restarts`` seeded subtype splits, the one with the largest evidence kept. No constant
    was fitted to a data folder and no truth enters the choice.

    Fitted attributes (besides the :class:`Aggregator` ones)
    ----------------------------------------------------------
    evidence_ : {"subtypes": float, "one subtype": float}, EBCC's and its nested model's.
    correlated_ : posterior probability (equal prior odds) of the subtype model.
    submodels_ : {"bds", "subtypes", "one subtype"}: the fitted aggregators.

    Parameters
    ----------
    n_subtypes, n_restarts : EBCC's subtypes per class (fewer when classes x subtypes would
        pass MAX_STATES; one turns the check off) and fits from different splits.
    n_iter, tol : iterations and tolerance of the ``bds`` fits.
    random_state : seed of the subtype splits and of the tie-break draw.
    """

    name = "bdsc"

    def __init__(
        self,
        n_subtypes: int = 10,
        n_restarts: int = 3,
        n_iter: int = 100,
        tol: float = 1e-6,
        random_state: RandomState = 0,
    ):
        self.n_subtypes = n_subtypes
        self.n_restarts = n_restarts
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        k = max(len(enc.classes), 1)
        subtypes = min(int(self.n_subtypes), max(2, MAX_STATES // k))
        fits = {
            "bds": BayesianDawidSkene(self.n_iter, self.tol, random_state=self.random_state),
            "subtypes": SubtypeClassifierCombination(
                n_subtypes=subtypes,
                n_restarts=self.n_restarts,
                random_state=self.random_state,
            ),
            "one subtype": SubtypeClassifierCombination(n_subtypes=1),
        }
        results = {}
        for name, model in fits.items():
            model.loss_history_ = []
            results[name] = model._fit(enc)
        self.submodels_ = fits
        self.evidence_ = {n: fits[n].evidence_ for n in ("subtypes", "one subtype")}
        # With one subtype the two models coincide: there is nothing to test.
        log_odds = (
            self.evidence_["subtypes"] - self.evidence_["one subtype"] if subtypes > 1 else -np.inf
        )
        self.correlated_ = float(0.5 * (1.0 + np.tanh(0.5 * log_odds)))  # logistic, no overflow
        weights = {"subtypes": self.correlated_, "bds": 1.0 - self.correlated_}
        self.loss_history_ = list(
            fits["subtypes" if self.correlated_ > 0.5 else "bds"].loss_history_
        )
        probas = sum(w * results[n][0] for n, w in weights.items())
        prior = sum(w * results[n][1] for n, w in weights.items())
        return probas, prior

    def _empty(self, enc: Encoded) -> None:
        self.evidence_ = {}
        self.correlated_ = 0.0
        self.submodels_ = {}
