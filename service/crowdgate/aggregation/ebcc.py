"""EBCC: Bayesian classifier combination with item subtypes, which models correlated errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Aggregator, Encoded, RandomState, log_normalize
from .ds import initial_probas
from .evidence import digamma, log_dirichlet_multinomial, log_gamma


class Grouping:
    """Sums of gathered table rows grouped by an answer index, prepared once per fit.

    ``sums(table)`` is the (n, S) array of sums of ``table[rows[a]]`` over answers ``a`` with
    ``index[a]`` equal to each group. That is the product ``G @ table`` of the sparse (n, R)
    count matrix ``G[i, r] = #{a : index[a] = i, rows[a] = r}``, built once (CSR) and
    multiplied in scipy's compiled loop: no per-answer gather of ``table`` into an
    (answers, S) array and no cell index to rebuild when the active states shrink, so memory
    stays at the matrix and the result whatever the input. scipy is imported here, not at
    module import, so commands that never fit EBCC do not pay its start-up.
    """

    def __init__(self, index: np.ndarray, rows: np.ndarray, n: int):
        self.n = n
        self.index = index
        self.rows = rows
        self._matrix: Any = None

    def _counts(self, n_rows: int) -> Any:
        from scipy.sparse import csr_matrix

        if self._matrix is None or self._matrix.shape[1] != n_rows:
            ones = np.ones(len(self.rows))
            matrix = csr_matrix((ones, (self.index, self.rows)), shape=(self.n, n_rows))
            matrix.sum_duplicates()
            self._matrix = matrix
        return self._matrix

    def sums(self, table: np.ndarray) -> np.ndarray:
        """Return the (n, S) group sums of ``table[rows]``."""
        width = table.shape[1]
        if not len(self.rows) or not width:
            return np.zeros((self.n, width))
        return np.asarray(self._counts(table.shape[0]) @ np.ascontiguousarray(table))


def gathered_sums(index: np.ndarray, table: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Return the (n, S) sums of ``table[rows[a]]`` grouped by ``index[a]``, over answers ``a``."""
    return Grouping(index, rows, n).sums(table)


def subtype_evidence(
    enc: Encoded,
    q: np.ndarray,
    row_prior: np.ndarray,
    subtype_prior: float,
    class_alpha: float,
) -> float:
    """Return the collapsed bound on ``log P(answers)`` of a subtype fit ``q`` (n, K, M).

    Worker rows, subtype weights and the class prior integrated out under the model's own
    priors (``row_prior[true, given]``), plus the entropy of ``q``; the same bound as
    :mod:`.evidence` uses for Dawid-Skene fits. Subtypes are exchangeable, so a fit found one
    of ``M_k!`` equivalent labellings of class ``k``'s ``M_k`` occupied subtypes (those with at
    least one item's mass): ``log M_k!`` is added for each.
    """
    n_tasks, n_workers, k = enc.shape
    m = q.shape[2]
    pair = enc.worker_idx * k + enc.label_idx
    flat = q.reshape(n_tasks, k * m)
    counts = gathered_sums(pair, flat, enc.task_idx, n_workers * k)
    counts = counts.reshape(n_workers, k, k, m).transpose(0, 2, 3, 1)
    alpha = np.broadcast_to(row_prior[None, :, None, :], counts.shape)
    workers = float(log_dirichlet_multinomial(counts, alpha).sum())
    per_subtype = q.sum(axis=0)
    classes = float(log_dirichlet_multinomial(per_subtype.sum(axis=1), np.full(k, class_alpha)))
    subtypes = 0.0
    if m > 1:
        subtypes = float(log_dirichlet_multinomial(per_subtype, np.full(m, subtype_prior)).sum())
    occupied = (per_subtype >= 1.0).sum(axis=1)
    labellings = float(log_gamma(occupied + 1.0).sum())
    entropy = -float(np.sum(q * np.log(np.clip(q, 1e-300, None))))
    return workers + classes + subtypes + labellings + entropy


#: A subtype holding less than this many items' posterior mass is dropped from the updates.
PRUNE_MASS = 1e-3


class SubtypeClassifierCombination(Aggregator):
    """Enhanced Bayesian classifier combination (Li, Rubinstein and Cohn, ICML 2019), our code.

    Each true class ``k`` has ``n_subtypes`` latent subtypes (item kinds: an easy "no", a
    look-alike "no", ...), and every worker has one confusion row per (class, subtype).
    Workers who err on the same kind of item therefore err *together*, which a
    conditionally independent model (Dawid-Skene, one-coin) reads as evidence for the wrong
    class. Generative model, all priors fixed as in the paper:

    - class ``z_i ~ Cat(tau)``, ``tau ~ Dirichlet(class_alpha)``;
    - subtype ``g_i | z_i = k ~ Cat(nu_k)``, ``nu_k ~ Dirichlet(subtype_prior / n_subtypes)`` (a
      small value, so subtypes the answers do not need stay empty);
    - answer ``y_iw | z_i = k, g_i = m ~ Cat(v[w, k, m])``, ``v[w, k, m] ~ Dirichlet`` with
      ``diag_prior`` pseudo-answers on ``k`` and ``off_prior`` on every other class.

    Inference is mean-field variational Bayes: ``q(z_i, g_i)`` jointly per item, Dirichlet
    posteriors for ``tau``, ``nu`` and ``v``, its updates accelerated by SQUAREM. It starts
    from majority vote, the subtypes split by a draw seeded with ``random_state`` (the fit
    depends on it a little: the subtypes are symmetric). Gold tasks are clamped to their
    class in every step.

    Fitted attributes (besides the :class:`Aggregator` ones)
    ----------------------------------------------------------
    subtype_probas_ : (n_tasks, n_classes, n_subtypes) joint posterior of class and subtype.
    evidence_ : the collapsed bound of the kept fit (:func:`subtype_evidence`).

    Parameters
    ----------
    n_subtypes : subtypes per class (the paper's 10).
    diag_prior, off_prior : Dirichlet pseudo-answers of each confusion row (the paper's 4, 1).
    subtype_prior : total Dirichlet concentration of a class's subtype weights, shared evenly
        by its subtypes (the paper's 0.1).
    class_alpha : Dirichlet pseudo-count per class of the class prior.
    n_restarts : fits from different subtype splits; the one with the largest evidence is kept
        (variational Bayes finds local optima, and the bound compares them).
    n_iter, tol : variational iterations (at most) and relative stopping tolerance.
    random_state : seed of the subtype splits and of the tie-break draw.
    accelerate : drive the updates by SQUAREM (see ``_run``): the same fixed points in a
        fraction of the updates; off, plain mean-field updates.
    """

    name = "ebcc"

    def __init__(
        self,
        n_subtypes: int = 10,
        diag_prior: float = 4.0,
        off_prior: float = 1.0,
        subtype_prior: float = 0.1,
        class_alpha: float = 1.0,
        n_restarts: int = 1,
        n_iter: int = 500,
        tol: float = 1e-6,
        random_state: RandomState = 0,
        accelerate: bool = True,
    ):
        self.accelerate = accelerate
        self.n_subtypes = n_subtypes
        self.n_restarts = n_restarts
        self.diag_prior = diag_prior
        self.off_prior = off_prior
        self.subtype_prior = subtype_prior
        self.class_alpha = class_alpha
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state

    def _fit(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        n_tasks, _, k = enc.shape
        m = max(int(self.n_subtypes), 1)
        # Prior of v[w, true, subtype, given]: diag_prior on the true class, off_prior elsewhere.
        row_prior = np.full((k, k), self.off_prior) + (self.diag_prior - self.off_prior) * np.eye(k)
        start = initial_probas(enc, "mv")
        rng = np.random.default_rng(self.random_state) if m > 1 else None
        best = None
        for _ in range(max(int(self.n_restarts), 1) if m > 1 else 1):
            split = rng.dirichlet(np.ones(m), (n_tasks, k)) if rng is not None else 1.0
            history: list[float] = []
            q = (start[:, :, None] * split).reshape(n_tasks, k * m)
            q = self._clamp(q, np.arange(k * m), m, enc).reshape(n_tasks, k, m)
            q, tau = self._run(enc, q, row_prior, history)
            evidence = subtype_evidence(enc, q, row_prior, self.subtype_prior / m, self.class_alpha)
            if best is None or evidence > best[0]:
                best = (evidence, q, tau, history)
        self.evidence_, q, tau, self.loss_history_ = best
        self.subtype_probas_ = q
        return q.sum(axis=2), tau / tau.sum()

    def _run(
        self, enc: Encoded, q: np.ndarray, row_prior: np.ndarray, history: list[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run mean-field updates from ``q`` (n, K, M); return it and the class pseudo-counts.

        With ``accelerate`` the updates are driven by SQUAREM (Varadhan and Roland, 2008): two
        plain updates ``q1 = F(q0)``, ``q2 = F(q1)`` give the residual ``r = q1 - q0`` and its
        change ``v = q2 - 2 q1 + q0``; the step ``q0 - 2 a r + a^2 v`` with ``a = -|r| / |v|``
        jumps along the slow direction of the fixed-point map (variational Bayes converges
        linearly, slower the more the answers leave the truth uncertain), and one more update
        from it stabilizes the jump. The jump is projected back onto item distributions
        (negative mass cut, rows renormalized, gold clamped) and is dropped for ``q2`` when
        the update after it scores worse than ``q2`` did, so the fit keeps the monotone path
        of plain updates wherever extrapolating does not pay. The fixed points are the plain
        iteration's; ``history`` holds one value per update of either kind.
        """
        n_tasks, n_workers, k = enc.shape
        m = q.shape[2]
        pair = enc.worker_idx * k + enc.label_idx
        # (class, subtype) states still in use. Under the sparse Dirichlet on subtype weights an
        # unneeded subtype's mass decays geometrically to nothing within a few updates; once it
        # holds less than PRUNE_MASS of an item it is dropped from the per-answer work (most
        # classes keep one to three of the ten subtypes, so a fit costs a few times DS's).
        # The posteriors are held over the active states only, (n, len(active)), so no update
        # or extrapolation touches a dropped column; ``dropped`` keeps the mass an array had on
        # the states dropped since it was made, which the next update from it still counts in
        # the class and subtype weights (as the full-width arrays did).
        active = np.arange(k * m)
        flat = np.ascontiguousarray(q.reshape(n_tasks, k * m))
        groups = (
            Grouping(pair, enc.task_idx, n_workers * k),
            Grouping(enc.task_idx, pair, n_tasks),
        )
        budget = max(self.n_iter, 1)
        nothing = np.zeros(k * m)

        def update(part: np.ndarray, dropped: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            new, tau, value = self._update(enc, part, active, dropped, row_prior, m, groups)
            history.append(value)
            return new, tau, value

        def prune(*parts: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
            """Drop the states ``parts[0]`` no longer holds; return their mass in it and the
            parts over the states kept."""
            nonlocal active
            keep = self._prune(parts[0], active, m)
            dropped = np.zeros(k * m)
            if keep.all():
                return dropped, list(parts)
            dropped[active[~keep]] = parts[0][:, ~keep].sum(axis=0)
            active = active[keep]
            return dropped, [np.ascontiguousarray(p[:, keep]) for p in parts]

        def converged(a: float, b: float) -> bool:
            return abs(a - b) <= self.tol * abs(a)

        flat, tau, value = update(flat, nothing)
        while len(history) < budget and not self.accelerate:
            if len(history) > 1 and converged(history[-2], value):
                break
            dropped, (flat,) = prune(flat)
            flat, tau, value = update(flat, dropped)
        while len(history) < budget and self.accelerate:
            dropped, (flat,) = prune(flat)
            q1, tau1, v1 = update(flat, dropped)
            if converged(value, v1) or len(history) >= budget:
                flat, tau = q1, tau1
                break
            dropped, (q1, flat) = prune(q1, flat)
            q2, tau2, v2 = update(q1, dropped)
            if converged(v1, v2) or len(history) >= budget:
                flat, tau = q2, tau2
                break
            r = q1 - flat
            v = q2 - 2.0 * q1 + flat
            size_r, size_v = float(np.sqrt(np.sum(r * r))), float(np.sqrt(np.sum(v * v)))
            step = -size_r / size_v if size_v > 0 else -1.0
            if step >= -1.0:  # no faster than plain updates: take them
                flat, tau, value = q2, tau2, v2
                continue
            jumped = np.clip(flat - 2.0 * step * r + step * step * v, 0, None)
            total = jumped.sum(axis=1, keepdims=True)
            jumped = np.where(total > 0, jumped / np.where(total > 0, total, 1.0), q2)
            q3, tau3, v3 = update(self._clamp(jumped, active, m, enc), nothing)
            if v3 <= v2:
                flat, tau, value = q3, tau3, v3
            else:
                flat, tau, value = q2, tau2, v2
        full = np.zeros((n_tasks, k * m))
        full[:, active] = flat
        return full.reshape(n_tasks, k, m), tau

    def _update(
        self,
        enc: Encoded,
        part: np.ndarray,
        active: np.ndarray,
        dropped: np.ndarray,
        row_prior: np.ndarray,
        m: int,
        groups: tuple[Grouping, Grouping],
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Return one mean-field update of ``part`` (n, active states), the class pseudo-counts
        and the loss; ``dropped`` (K*M) is the mass ``part`` had on states since dropped."""
        _, n_workers, k = enc.shape
        by_pair, by_task = groups
        width = len(active)
        # Expected counts by (worker, given label) and state, and their Dirichlet posteriors,
        # normalized over the given label (axis 1).
        counts = by_pair.sums(part).reshape(n_workers, k, width)
        post = counts + row_prior[active // m].T[None, :, :]
        log_v = digamma(post) - digamma(post.sum(axis=1, keepdims=True))
        mass = dropped.copy()
        mass[active] += part.sum(axis=0)
        mass = mass.reshape(k, m)
        tau = self.class_alpha + mass.sum(axis=1)
        nu = self.subtype_prior / m + mass
        log_prior = (digamma(tau) - digamma(tau.sum()))[:, None] + (
            digamma(nu) - digamma(nu.sum(axis=1, keepdims=True))
        )
        # Rows by (worker, given label), summed by task.
        score = by_task.sums(log_v.reshape(n_workers * k, width)) + log_prior.ravel()[active]
        new, log_norm = log_normalize(score)
        new = self._clamp(new, active, m, enc)
        return new, tau, -float(log_norm.sum()) / len(enc.task_idx)

    @staticmethod
    def _prune(part: np.ndarray, active: np.ndarray, m: int) -> np.ndarray:
        """Return the mask of the ``active`` states holding PRUNE_MASS items' mass or more in
        ``part`` (every class keeps its largest)."""
        state_class = active // m
        held = part.sum(axis=0)
        keep = held >= PRUNE_MASS
        for c in np.unique(state_class):
            mine = state_class == c
            if not keep[mine].any():
                keep[np.flatnonzero(mine)[np.argmax(held[mine])]] = True
        return keep

    @staticmethod
    def _clamp(part: np.ndarray, active: np.ndarray, m: int, enc: Encoded) -> np.ndarray:
        """Keep gold tasks' mass on their class's states only (renormalized), in place.

        ``part`` is (n, len(active)); a gold task with no mass left on its class gets an even
        share on each of that class's active states."""
        rows = np.flatnonzero(enc.gold_idx >= 0)
        if len(rows):
            mine = (active // m)[None, :] == enc.gold_idx[rows][:, None]
            keep = np.where(mine, part[rows], 0.0)
            total = keep.sum(axis=1, keepdims=True)
            uniform = mine / mine.sum(axis=1, keepdims=True)
            part[rows] = np.where(total > 0, keep / np.where(total > 0, total, 1.0), uniform)
        return part

    def _empty(self, enc: Encoded) -> None:
        self.evidence_ = 0.0
        self.subtype_probas_ = np.zeros((0, len(enc.classes), max(int(self.n_subtypes), 1)))
