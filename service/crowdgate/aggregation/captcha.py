"""Binary grid evidence: "is this item a ``label``? yes/no" votes turned into class posteriors.

A voter with reliability ``r`` answers a grid question correctly with probability ``r``,
whatever the truth: ``P(yes | truth = asked) = r`` and ``P(yes | truth != asked) = 1 - r``.
So a vote multiplies the asked class's odds against every other class by ``r / (1 - r)``
(yes) or ``(1 - r) / r`` (no) and leaves the other classes' ratios alone. See
docs/aggregation.md for the model, its priors and the settle rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np

from ._base import EPS, AggregationError, RandomState, log_normalize, tie_break_argmax, tie_keys
from .grid_coins import (
    GridVotes,
    coin_evidence,
    fit_two_coin,
    posterior_entropy_term,
    shrunk_rate,
)

#: Reliabilities are clipped to at least this: a voter who disagrees with the consensus more
#: often than chance is given no weight rather than having their answers read backwards, which
#: an adversary who learned the rule could exploit.
MIN_RELIABILITY = 0.5


def posterior_from_votes(votes: Iterable[tuple[int, bool, float]], prior: np.ndarray) -> np.ndarray:
    """Return the class posterior (n_classes,) of one item from its binary votes.

    Parameters
    ----------
    votes : iterable of (class_index, answer, reliability)
        ``answer`` is True when the voter said the item shows class ``class_index``;
        ``reliability`` is the voter's probability of answering correctly (see
        :meth:`GridVoteModel.voter_reliability`).
    prior : (n_classes,) array
        Class prior, positive, summing to 1 (e.g. ``GridVoteModel.prior_`` or the committee's
        prediction for the item).

    Cost is O(len(votes) + n_classes) with one n_classes array allocated.

    Raises
    ------
    AggregationError
        When a class index is outside the prior.
    """
    prior = np.asarray(prior, dtype=float)
    k = len(prior)
    # Work in log space: twenty votes at r = 0.99 multiply odds by 1e40, beyond what a product
    # of probabilities keeps accurately.
    log_post = np.log(np.clip(prior, EPS, None))
    for label, answer, reliability in votes:
        if not 0 <= label < k:
            raise AggregationError(
                f"Vote class index {label} is outside the {k} classes of the prior; "
                "pass indices into the project's label list."
            )
        r = min(max(reliability, MIN_RELIABILITY), 1.0 - EPS)
        log_odds = np.log(r) - np.log1p(-r)
        log_post[label] += log_odds if answer else -log_odds
    log_post -= log_post.max()
    np.exp(log_post, out=log_post)
    log_post /= log_post.sum()
    return log_post


def is_settled(
    posterior: np.ndarray,
    voters: Iterable[Any],
    networks: Iterable[Any],
    *,
    threshold: float = 0.95,
    min_votes: int = 3,
    min_networks: int | None = None,
) -> bool:
    """Return True when an item's consensus may settle.

    The top of ``posterior`` must reach ``threshold``, the item's votes must come from at least
    ``min_votes`` distinct voter keys, and from at least ``min_networks`` (default
    ``min_votes``) distinct client networks, so one person or one botnet subnet alone cannot
    settle an item however confident its votes make the posterior.
    """
    needed_networks = min_votes if min_networks is None else min_networks
    return (
        len(posterior) > 0
        and float(np.max(posterior)) >= threshold
        and len(set(voters)) >= min_votes
        and len(set(networks)) >= needed_networks
    )


class GridVoteModel:
    """EM over all binary grid votes of a project: class posteriors and voter reliabilities.

    Each voter ``v`` has one reliability ``r[v]`` with a Beta prior whose mean is the population
    reliability (re-estimated each iteration) and whose strength is ``prior_strength``
    pseudo-votes, so a one-shot visitor is scored like the average visitor. The voter's gold
    record enters as observed Bernoulli trials of ``r[v]``: ``gold_per_grid`` trials per
    challenge, ``gold_score`` of them correct. Items with known ``truth`` are clamped to it, so
    votes on them also measure their voters.

    Parameters
    ----------
    n_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the per-vote negative log-likelihood changes by less than this fraction.
    prior_strength : float
        Pseudo-votes at the population reliability added to every voter.
    gold_per_grid : int
        Gold slots per challenge, the weight of one challenge's ``gold_score``.
    gold_strength : float or None
        None: every gold slot counts as one observed trial of ``r[v]``, like a vote. A number:
        the gold record only sets the prior mean of ``r[v]``, worth this many pseudo-votes, and
        ``r[v]`` is learned from agreement with the consensus on unknown items. Colluders who
        recognise gold but lie on unknown items pass gold every time; with a number they are
        judged by their unknown answers, so a gold record cannot buy weight.
    class_alpha : float
        Dirichlet pseudo-count added to every class of the learned class prior.
    random_state : int, Generator or None
        Seed of the tie-break draw for ``labels_``.
    voter_model : {"auto", "one-coin", "two-coin"}
        ``"auto"`` also fits two-coin voters (:mod:`.grid_coins`: a sensitivity and a
        specificity each, with population priors) and averages the two posteriors by their
        evidence, as :class:`~.bds.BayesianDawidSkene` does for multi-class answers. The
        per-voter ``reliability_`` (what the live rule uses) is the one-coin fit's either way.
        With ``gold_strength`` set only the one-coin model is fitted.

    Fitted attributes besides posteriors and reliabilities: ``evidence_`` and ``weights_``
    (per voter model), ``voter_model_`` (the heavier one), and for two coins
    ``sensitivity_`` and ``specificity_`` per voter.
    """

    def __init__(
        self,
        n_iter: int = 50,
        tol: float = 1e-6,
        prior_strength: float = 4.0,
        gold_per_grid: int = 3,
        class_alpha: float = 1.0,
        random_state: RandomState = 0,
        gold_strength: float | None = None,
        voter_model: str = "auto",
    ):
        if voter_model not in ("auto", "one-coin", "two-coin"):
            raise AggregationError(
                f"Unknown voter model {voter_model!r}; use auto, one-coin or two-coin."
            )
        self.voter_model = voter_model
        self.n_iter = n_iter
        self.tol = tol
        self.prior_strength = prior_strength
        self.gold_per_grid = gold_per_grid
        self.gold_strength = gold_strength
        self.class_alpha = class_alpha
        self.random_state = random_state

    def fit(
        self,
        items: Sequence[Any],
        labels: Sequence[Any] | None = None,
        answers: Sequence[bool] | None = None,
        voters: Sequence[Any] | None = None,
        *,
        classes: Sequence[Any] | None = None,
        gold_score: Sequence[float] | None = None,
        challenges: Sequence[Any] | None = None,
        truth: Mapping[Any, Any] | None = None,
        item_evidence: Mapping[Any, Mapping[Any, float]] | None = None,
    ) -> Self:
        """Fit on votes given as columns, or as one sequence of ``(item, label, answer, voter)``.

        ``classes`` lists every class of the project (default: the labels asked or in
        ``truth``); ``gold_score`` is each vote's challenge gold score in [0, 1] and
        ``challenges`` the challenge id, so a challenge's gold counts once per voter.
        ``item_evidence`` maps an item to log-odds added to some of its classes on top of the
        class prior: the committee's capped reading. It matters when the asked label is chosen
        by the committee (one question per item, nearly all answered yes): with only a shared
        class prior a lone yes barely moves its item, so the EM scores agreeing voters as
        disagreeing and their reliability slides towards a coin (docs/aggregation.md).
        """
        if labels is None:
            rows = list(items)
            if any(len(r) != 4 for r in rows):
                raise AggregationError(
                    "Votes given as one sequence must be (item, label, answer, voter) tuples."
                )
            items, labels, answers, voters = zip(*rows, strict=True) if rows else ([],) * 4
        if answers is None or voters is None:
            raise AggregationError("Pass items, labels, answers and voters together.")
        item_col, label_col, voter_col = (np.asarray(x) for x in (items, labels, voters))
        yes = np.asarray(answers, dtype=bool)
        if not len(item_col) == len(label_col) == len(yes) == len(voter_col):
            raise AggregationError("The vote columns must have one value per vote.")
        truth = dict(truth or {})
        known = [*label_col.tolist(), *truth.values()] if classes is None else list(classes)
        self.classes_ = np.unique(np.asarray(known)) if known else np.zeros(0, dtype=str)
        k = len(self.classes_)
        label_idx = self._class_index(label_col)
        self.items_, item_idx = np.unique(item_col, return_inverse=True)
        self.voters_, voter_idx = np.unique(voter_col, return_inverse=True)
        n_items, n_voters = len(self.items_), len(self.voters_)
        gold_idx = np.full(n_items, -1)
        for item, label in truth.items():
            pos = np.searchsorted(self.items_, item)
            if pos < n_items and self.items_[pos] == item:
                gold_idx[pos] = self._class_index(np.asarray([label]))[0]
        g_right, g_seen = self._gold_record(voter_idx, n_voters, gold_score, challenges)
        offset = np.zeros((n_items, k))
        for item, per_class in (item_evidence or {}).items():
            pos = np.searchsorted(self.items_, item) if n_items else 0
            if pos < n_items and self.items_[pos] == item:
                for label, value in per_class.items():
                    offset[pos, self._class_index(np.asarray([label]))[0]] += float(value)
        self.loss_history_: list[float] = []
        self.prior_ = np.full(k, 1.0 / max(k, 1))
        self.probas_ = np.tile(self.prior_, (n_items, 1))
        n_votes = np.bincount(voter_idx, minlength=n_voters)
        seen = n_votes + g_seen
        hit: np.ndarray | None = None
        population = (g_right.sum() + 0.8 * self.prior_strength) / (
            g_seen.sum() + self.prior_strength
        )
        right = g_right.astype(float)
        cell = item_idx * k + label_idx
        gold_rows = np.flatnonzero(gold_idx >= 0)
        for _ in range(max(self.n_iter, 1) if len(yes) else 0):
            r = self._reliability(right, seen, g_right, g_seen, hit, n_votes, population)
            r = np.clip(r, MIN_RELIABILITY, 1.0 - EPS)[voter_idx]
            # log P(vote | class): the "other class" term goes to every class; the asked class
            # gets the log-odds on top, with the sign of the answer.
            base = np.where(yes, np.log1p(-r), np.log(r))
            bonus = np.where(yes, 1.0, -1.0) * (np.log(r) - np.log1p(-r))
            score = np.bincount(cell, weights=bonus, minlength=n_items * k).reshape(n_items, k)
            score += np.bincount(item_idx, weights=base, minlength=n_items)[:, None]
            probas, log_evidence = log_normalize(np.log(self.prior_) + offset + score)
            probas[gold_rows] = 0.0
            probas[gold_rows, gold_idx[gold_rows]] = 1.0
            self.probas_ = probas
            self.loss_history_.append(-float(log_evidence.sum()) / len(yes))
            p_asked = probas.ravel()[cell]
            agree = np.where(yes, p_asked, 1.0 - p_asked)
            hit = np.bincount(voter_idx, weights=agree, minlength=n_voters)
            right = g_right + hit
            population = right.sum() / seen.sum()
            self.prior_ = (probas.sum(axis=0) + self.class_alpha) / (n_items + k * self.class_alpha)
            hist = self.loss_history_
            if len(hist) > 1 and abs(hist[-2] - hist[-1]) <= self.tol * abs(hist[-2]):
                break
        r = self._reliability(right, seen, g_right, g_seen, hit, n_votes, population)
        self._choose_voter_model(
            GridVotes(item_idx, voter_idx, cell, yes, n_items, n_voters, k, gold_idx, offset),
            g_right,
            g_seen,
            coin_evidence(right, seen) + posterior_entropy_term(self.probas_, gold_idx),
        )
        self.population_reliability_ = float(np.clip(population, MIN_RELIABILITY, 1.0 - EPS))
        self.reliability_ = dict(
            zip(self.voters_.tolist(), np.clip(r, MIN_RELIABILITY, 1.0 - EPS).tolist(), strict=True)
        )
        keys = tie_keys(n_items, k, self.random_state)
        self.labels_ = self.classes_[tie_break_argmax(self.probas_, keys)]
        return self

    def _reliability(
        self,
        right: np.ndarray,
        seen: np.ndarray,
        g_right: np.ndarray,
        g_seen: np.ndarray,
        hit: np.ndarray | None,
        n_votes: np.ndarray,
        population: float,
    ) -> np.ndarray:
        """Return every voter's MAP reliability (unclipped) from gold and expected agreement."""
        s = self.prior_strength
        if self.gold_strength is None:
            return shrunk_rate(right, seen, population, s)
        from_gold = shrunk_rate(g_right, g_seen, population, s)
        if hit is None:
            return from_gold
        return (hit + self.gold_strength * from_gold) / (n_votes + self.gold_strength)

    def _choose_voter_model(
        self, votes: GridVotes, g_right: np.ndarray, g_seen: np.ndarray, one_evidence: float
    ) -> None:
        """Fit two-coin voters too (unless told not to) and average posteriors by evidence."""
        self.evidence_ = {"one-coin": one_evidence}
        self.weights_ = {"one-coin": 1.0}
        self.voter_model_ = "one-coin"
        self.sensitivity_: dict = {}
        self.specificity_: dict = {}
        if self.voter_model == "one-coin" or self.gold_strength is not None or not len(votes.yes):
            return
        two = fit_two_coin(
            votes,
            g_right,
            g_seen,
            prior_strength=self.prior_strength,
            class_alpha=self.class_alpha,
            n_iter=self.n_iter,
            tol=self.tol,
        )
        self.evidence_["two-coin"] = float(two["evidence"])
        if self.voter_model == "two-coin":
            w_two = 1.0
        else:
            # Posterior model probability from the evidence difference (a logistic of it).
            diff = np.clip(self.evidence_["one-coin"] - self.evidence_["two-coin"], -700, 700)
            w_two = float(1.0 / (1.0 + np.exp(diff)))
        self.weights_ = {"one-coin": 1.0 - w_two, "two-coin": w_two}
        self.voter_model_ = "two-coin" if w_two > 0.5 else "one-coin"
        self.probas_ = (1.0 - w_two) * self.probas_ + w_two * two["probas"]
        self.prior_ = (1.0 - w_two) * self.prior_ + w_two * two["prior"]
        voters = self.voters_.tolist()
        self.sensitivity_ = dict(zip(voters, np.asarray(two["sensitivity"]).tolist(), strict=True))
        self.specificity_ = dict(zip(voters, np.asarray(two["specificity"]).tolist(), strict=True))

    def _class_index(self, labels: np.ndarray) -> np.ndarray:
        n = len(self.classes_)
        pos = np.searchsorted(self.classes_, labels) if n else np.zeros(len(labels), dtype=int)
        bad = (pos >= n) | (self.classes_[np.minimum(pos, n - 1)] != labels) if n else pos >= 0
        if np.any(bad):
            bad_label = labels[bad].tolist()[0]
            raise AggregationError(
                f"Label {bad_label!r} is not one of the classes {self.classes_.tolist()}; "
                "add it to classes or fix the vote."
            )
        return pos

    def _gold_record(
        self,
        voter_idx: np.ndarray,
        n_voters: int,
        gold_score: Sequence[float] | None,
        challenges: Sequence[Any] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return per-voter gold answers right and seen, one challenge counted once."""
        if gold_score is None:
            return np.zeros(n_voters), np.zeros(n_voters)
        score = np.asarray(gold_score, dtype=float)
        if challenges is None:
            seen = (np.bincount(voter_idx, minlength=n_voters) > 0).astype(float)
            mean = np.bincount(voter_idx, weights=score, minlength=n_voters) / np.maximum(
                np.bincount(voter_idx, minlength=n_voters), 1
            )
            return mean * self.gold_per_grid, seen * self.gold_per_grid
        _, challenge_idx = np.unique(np.asarray(challenges), return_inverse=True)
        pair = voter_idx * (challenge_idx.max() + 1) + challenge_idx.ravel()
        _, first = np.unique(pair, return_index=True)
        right = np.bincount(voter_idx[first], weights=score[first], minlength=n_voters)
        seen = np.bincount(voter_idx[first], minlength=n_voters).astype(float)
        return right * self.gold_per_grid, seen * self.gold_per_grid

    def voter_reliability(self, voter: Any) -> float:
        """Return ``voter``'s fitted reliability, or the population's for an unseen voter."""
        return self.reliability_.get(voter, self.population_reliability_)

    def _rows(self, items: Sequence[Any] | None) -> np.ndarray:
        if items is None:
            return np.arange(len(self.items_))
        wanted = np.asarray(items)
        n = len(self.items_)
        pos = np.searchsorted(self.items_, wanted) if n else np.zeros(len(wanted), dtype=int)
        ok = (pos < n) & (self.items_[np.minimum(pos, n - 1)] == wanted) if n else pos < 0
        if not np.all(ok):
            raise AggregationError(
                f"Item {wanted[~ok].tolist()[0]!r} had no votes in fit; it has no label."
            )
        return pos

    def predict_proba(self, items: Sequence[Any] | None = None) -> np.ndarray:
        """Return the (n_items, n_classes) posterior of ``items`` (default: every fitted item)."""
        return self.probas_[self._rows(items)]

    def predict(self, items: Sequence[Any] | None = None) -> np.ndarray:
        """Return the consensus class of ``items`` (default: every fitted item)."""
        return self.labels_[self._rows(items)]
