"""A query-by-committee ensemble of scikit-learn classifiers on class-stratified bootstraps."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import CrowdgateError

__all__ = ["Committee", "NotEnoughLabels", "default_members"]

#: Neighbours used by the default k-NN member (fewer when the labeled set is smaller).
DEFAULT_NEIGHBORS = 7


class NotEnoughLabels(CrowdgateError, ValueError):
    """The labeled set cannot train a committee (for example it holds a single class)."""

    code = "not-enough-labels"


def default_members() -> list[BaseEstimator]:
    """Return the default heterogeneous member templates (fit in well under a second each).

    Logistic regression on standardised features, extra-trees, k-NN (distance weighted),
    Gaussian naive Bayes and a small random forest: different inductive biases make their
    disagreements informative even before the bootstraps differ much.
    """
    return [
        make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=300)),
        ExtraTreesClassifier(n_estimators=40, min_samples_leaf=2, max_features="sqrt"),
        KNeighborsClassifier(n_neighbors=DEFAULT_NEIGHBORS, weights="distance"),
        GaussianNB(),
        RandomForestClassifier(n_estimators=30, max_depth=12, max_features="sqrt"),
    ]


def _seed_member(member: BaseEstimator, seed: int) -> BaseEstimator:
    params = {name: seed for name in member.get_params() if name.endswith("random_state")}
    return member.set_params(**params)


def _fit_knn_size(member: BaseEstimator, n_samples: int) -> BaseEstimator:
    # k-NN cannot ask for more neighbours than it has training points; early in a project the
    # labeled set is tiny, so the neighbourhood shrinks instead of the fit failing.
    params = {
        name: min(value, n_samples)
        for name, value in member.get_params().items()
        if name.endswith("n_neighbors") and isinstance(value, int) and value > n_samples
    }
    return member.set_params(**params)


class Committee(ClassifierMixin, BaseEstimator):
    """Committee of ``n_members`` classifiers, each fit on a class-stratified bootstrap.

    Each member is trained on a resample drawn with replacement *within each class*, of the same
    size as that class, so every member sees every class and the committee's probabilities are
    always aligned to ``classes_``.

    Parameters
    ----------
    estimators : sequence of scikit-learn classifiers, optional
        Templates cloned in turn for the members (member ``i`` clones
        ``estimators[i % len(estimators)]``). ``None`` uses :func:`default_members`.
        Every template must implement ``predict_proba``.
    n_members : int, default=5
        Number of committee members.
    bootstrap : bool, default=True
        Resample within each class; if False every member sees the whole labeled set and only
        the seeds and model types differ.
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstraps and every member that takes a ``random_state``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    estimators_ : list of fitted estimators, length ``n_members``
    sample_indices_ : list of ndarray
        Training-row indices each member was fit on.
    n_features_in_ : int
    """

    def __init__(
        self,
        estimators: Sequence[BaseEstimator] | None = None,
        n_members: int = 5,
        bootstrap: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ):
        self.estimators = estimators
        self.n_members = n_members
        self.bootstrap = bootstrap
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> Committee:
        """Fit every member on its own class-stratified bootstrap of ``(X, y)``; return self.

        Raises
        ------
        NotEnoughLabels
            When ``y`` holds fewer than two classes.
        """
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if not isinstance(self.n_members, int | np.integer) or self.n_members < 1:
            raise ValueError(f"n_members must be a positive integer, got {self.n_members!r}.")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise NotEnoughLabels(
                f"The labeled set holds one class only ({self.classes_.tolist()}); a committee "
                "needs at least two classes, so label items of another class first."
            )
        rng = check_random_state(self.random_state)
        templates = list(self.estimators) if self.estimators is not None else default_members()
        if not templates:
            raise ValueError("estimators is empty; pass at least one classifier or None.")
        by_class = [np.flatnonzero(y_index == c) for c in range(len(self.classes_))]
        self.estimators_, self.sample_indices_ = [], []
        for i in range(self.n_members):
            seed = int(rng.randint(np.iinfo(np.int32).max))
            if self.bootstrap:
                rows = np.concatenate([rng.choice(idx, size=len(idx)) for idx in by_class])
            else:
                rows = np.arange(len(y_index))
            member = _seed_member(clone(templates[i % len(templates)]), seed)
            member = _fit_knn_size(member, len(rows))
            with warnings.catch_warnings():
                # A member stopped before full convergence still votes usefully; the next
                # retrain starts over, so the warning would only add noise to worker logs.
                warnings.simplefilter("ignore", ConvergenceWarning)
                member.fit(X[rows], y_index[rows])
            self.estimators_.append(member)
            self.sample_indices_.append(rows)
        return self

    def member_proba(self, X: np.ndarray) -> np.ndarray:
        """Return every member's probabilities, shape ``(n_members, n_samples, n_classes)``.

        Columns follow ``classes_``; a class a member never predicts gets probability 0.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        out = np.zeros((len(self.estimators_), X.shape[0], len(self.classes_)))
        for m, member in enumerate(self.estimators_):
            out[m][:, member.classes_] = member.predict_proba(X)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return the consensus (mean member) probabilities, shape ``(n_samples, n_classes)``."""
        return self.member_proba(X).mean(axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return the consensus label of each sample, shape ``(n_samples,)``."""
        winners = self.predict_proba(X).argmax(axis=1)
        return self.classes_[winners]
