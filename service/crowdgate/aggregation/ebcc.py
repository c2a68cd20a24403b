"""EBCC: Bayesian classifier combination with item subtypes, which models correlated errors."""

from __future__ import annotations

import numpy as np

from ._base import Aggregator, Encoded, RandomState, column_sums, log_normalize, row_sums
from .ds import initial_probas
from .evidence import digamma, log_dirichlet_multinomial, log_gamma
from .sparse import Grouping


def subtype_evidence(
    enc: Encoded,
    q: np.ndarray,
    row_prior: np.ndarray,
    subtype_prior: float,
    class_alpha: float,
    answers: Grouping | None = None,
) -> float:
    """Return the collapsed bound on ``log P(answers)`` of a subtype fit ``q`` (n, K, M).

    Worker rows, subtype weights and the class prior integrated out under the model's own
    priors (``row_prior[true, given]``), plus the entropy of ``q``; the same bound as
    :mod:`.evidence` uses for Dawid-Skene fits. Subtypes are exchangeable, so a fit found one
    of ``M_k!`` equivalent labellings of class ``k``'s ``M_k`` occupied subtypes (those with at
    least one item's mass): ``log M_k!`` is added for each. ``answers`` is the fit's
    (task x (worker, given label)) :class:`Grouping`, when it has one.
    """
    n_tasks, n_workers, k = enc.shape
    m = q.shape[2]
    if answers is None:
        answers = Grouping(enc.task_idx, enc.worker_idx * k + enc.label_idx, n_tasks)
    counts = answers.transposed_sums(q.reshape(n_tasks, k * m), n_workers * k)
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


#: The (items x states) arrays run in float32 when the relative tolerance is at least this:
#: float32's resolution. Its rounding moves a posterior by about 1e-5, where a fit stopped at
#: the default tolerance 1e-6 is still up to 5e-4 short of its fixed point (measured), and it
#: halves the memory every update streams through; a tighter tolerance asks for float64.
FLOAT32_TOL = float(np.finfo(np.float32).eps)

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
        # The sparse count matrix every update multiplies by (and by its transpose), built
        # once for all restarts.
        answers = Grouping(enc.task_idx, enc.worker_idx * k + enc.label_idx, n_tasks)
        best = None
        for _ in range(max(int(self.n_restarts), 1) if m > 1 else 1):
            split = rng.dirichlet(np.ones(m), (n_tasks, k)) if rng is not None else 1.0
            history: list[float] = []
            q = (start[:, :, None] * split).reshape(n_tasks, k * m)
            q = self._clamp(q, np.arange(k * m), m, enc).reshape(n_tasks, k, m)
            q, tau = self._run(enc, q, row_prior, history, answers)
            evidence = subtype_evidence(
                enc, q, row_prior, self.subtype_prior / m, self.class_alpha, answers
            )
            if best is None or evidence > best[0]:
                best = (evidence, q, tau, history)
        self.evidence_, q, tau, self.loss_history_ = best
        self.subtype_probas_ = q
        return q.sum(axis=2), tau / tau.sum()

    def _run(
        self,
        enc: Encoded,
        q: np.ndarray,
        row_prior: np.ndarray,
        history: list[float],
        answers: Grouping,
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
        iteration's; ``history`` holds one value per update of either kind. ``answers`` is the
        fit's (task x (worker, given label)) count matrix (:class:`Grouping`).
        """
        n_tasks, _, k = enc.shape
        m = q.shape[2]
        # (class, subtype) states still in use. Under the sparse Dirichlet on subtype weights an
        # unneeded subtype's mass decays geometrically to nothing within a few updates; once it
        # holds less than PRUNE_MASS of an item it is dropped from the per-answer work (most
        # classes keep one to three of the ten subtypes, so a fit costs a few times DS's).
        # The posteriors are held over the active states only, (n, len(active)), so no update
        # or extrapolation touches a dropped column; ``dropped`` keeps the mass an array had on
        # the states dropped since it was made, which the next update from it still counts in
        # the class and subtype weights (as the full-width arrays did). Every array travels
        # with its column sums (``held``): the pruning test and the next update's weights both
        # need them, and a column sum over 20,000 short rows costs as much as an update's exp.
        active = np.arange(k * m)
        dtype = np.float32 if self.tol >= FLOAT32_TOL else np.float64
        flat = np.ascontiguousarray(q.reshape(n_tasks, k * m), dtype=dtype)
        budget = max(self.n_iter, 1)
        nothing = np.zeros(k * m)
        gold = np.flatnonzero(enc.gold_idx >= 0)

        def update(
            part: np.ndarray, held: np.ndarray, dropped: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
            new, tau, value = self._update(
                enc, part, held, active, dropped, row_prior, m, answers, gold
            )
            history.append(value)
            return new, column_sums(new), tau, value

        def prune(
            *parts: tuple[np.ndarray, np.ndarray],
        ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
            """Drop the states the first (array, column sums) pair no longer holds; return
            their mass in it and the pairs over the states kept."""
            nonlocal active
            keep = self._prune(parts[0][1], active, m)
            dropped = np.zeros(k * m)
            if keep.all():
                return dropped, list(parts)
            dropped[active[~keep]] = parts[0][1][~keep]
            active = active[keep]
            return dropped, [(np.ascontiguousarray(p[:, keep]), h[keep]) for p, h in parts]

        def converged(a: float, b: float) -> bool:
            return abs(a - b) <= self.tol * abs(a)

        flat, held, tau, value = update(flat, column_sums(flat), nothing)
        while len(history) < budget and not self.accelerate:
            if len(history) > 1 and converged(history[-2], value):
                break
            dropped, [(flat, held)] = prune((flat, held))
            flat, held, tau, value = update(flat, held, dropped)
        while len(history) < budget and self.accelerate:
            dropped, [(flat, held)] = prune((flat, held))
            q1, held1, tau1, v1 = update(flat, held, dropped)
            if converged(value, v1) or len(history) >= budget:
                flat, tau = q1, tau1
                break
            dropped, [(q1, held1), (flat, held)] = prune((q1, held1), (flat, held))
            q2, held2, tau2, v2 = update(q1, held1, dropped)
            if converged(v1, v2) or len(history) >= budget:
                flat, tau = q2, tau2
                break
            r = q1 - flat
            v = q2 - q1
            v -= r
            size_r = float(np.sqrt(np.einsum("ij,ij->", r, r)))
            size_v = float(np.sqrt(np.einsum("ij,ij->", v, v)))
            step = -size_r / size_v if size_v > 0 else -1.0
            if step >= -1.0:  # no faster than plain updates: take them
                flat, held, tau, value = q2, held2, tau2, v2
                continue
            jumped = self._jump(flat, r, v, step, q2)
            self._clamp(jumped, active, m, enc)
            q3, held3, tau3, v3 = update(jumped, column_sums(jumped), nothing)
            if v3 <= v2:
                flat, held, tau, value = q3, held3, tau3, v3
            else:
                flat, held, tau, value = q2, held2, tau2, v2
        full = np.zeros((n_tasks, k * m))
        full[:, active] = flat
        if flat.dtype != np.float64:  # rows that sum to one in float64, not to float32's 1e-7
            full /= row_sums(full)[:, None]
        return full.reshape(n_tasks, k, m), tau

    @staticmethod
    def _jump(
        flat: np.ndarray, r: np.ndarray, v: np.ndarray, step: float, fallback: np.ndarray
    ) -> np.ndarray:
        """Return SQUAREM's ``flat - 2 step r + step^2 v`` projected onto item distributions.

        Negative mass is cut and rows renormalized; a row left with no mass takes its row of
        ``fallback``. Overwrites ``r`` and ``v``: they are scratch after the step."""
        jumped = r
        jumped *= -2.0 * step
        jumped += flat
        v *= step * step
        jumped += v
        np.maximum(jumped, 0.0, out=jumped)
        total = row_sums(jumped)
        if np.all(total > 0):
            jumped /= total[:, None]
            return jumped
        safe = np.where(total > 0, total, 1.0)[:, None]
        return np.where(total[:, None] > 0, jumped / safe, fallback)

    def _update(
        self,
        enc: Encoded,
        part: np.ndarray,
        held: np.ndarray,
        active: np.ndarray,
        dropped: np.ndarray,
        row_prior: np.ndarray,
        m: int,
        answers: Grouping,
        gold: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Return one mean-field update of ``part`` (n, active states), the class pseudo-counts
        and the loss; ``held`` are ``part``'s column sums, ``dropped`` (K*M) the mass ``part``
        had on states since dropped, ``gold`` the rows of gold tasks."""
        _, n_workers, k = enc.shape
        width = len(active)
        # Expected counts by (worker, given label) and state, and their Dirichlet posteriors,
        # normalized over the given label (axis 1).
        counts = answers.transposed_sums(part, n_workers * k).astype(np.float64, copy=False)
        counts = counts.reshape(n_workers, k, width)
        counts += row_prior[active // m].T[None, :, :]
        log_v = digamma(counts)
        log_v -= digamma(counts.sum(axis=1, keepdims=True))
        mass = dropped.copy()
        mass[active] += held
        mass = mass.reshape(k, m)
        tau = self.class_alpha + mass.sum(axis=1)
        nu = self.subtype_prior / m + mass
        log_prior = (digamma(tau) - digamma(tau.sum()))[:, None] + (
            digamma(nu) - digamma(nu.sum(axis=1, keepdims=True))
        )
        # Rows by (worker, given label), summed by task.
        score = answers.sums(log_v.reshape(n_workers * k, width).astype(part.dtype, copy=False))
        score += log_prior.ravel()[active]
        new, log_norm = log_normalize(score, overwrite=True)
        if len(gold):
            self._clamp(new, active, m, enc)
        return new, tau, -float(log_norm.sum(dtype=np.float64)) / len(enc.task_idx)

    @staticmethod
    def _prune(held: np.ndarray, active: np.ndarray, m: int) -> np.ndarray:
        """Return the mask of the ``active`` states holding PRUNE_MASS items' mass or more
        (``held``: an array's column sums; every class keeps its largest)."""
        state_class = active // m
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
