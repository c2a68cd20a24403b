"""Turn crowd answers into consensus labels: vote counting, worker reliability and EM models.

Every aggregator follows crowd-kit's ``task, worker, label`` contract and scikit-learn's
estimator conventions: ``fit`` returns self and sets ``tasks_``, ``classes_``, ``probas_``,
``labels_`` and ``loss_history_``. :mod:`.captcha` handles binary grid votes ("is this a 3?").
"""

from ._base import AggregationError, Aggregator
from .bds import BayesianDawidSkene
from .bdsc import CorrelationCheckedDawidSkene
from .ds import DawidSkene
from .dsp import PooledDawidSkene
from .ebcc import SubtypeClassifierCombination
from .io import CrowdFileError, read_answers, read_gold, write_labels
from .mv import MajorityVote
from .ods import OneCoinDawidSkene
from .registry import AGGREGATORS, DEFAULT_METHOD, get_aggregator
from .wmv import WeightedMajorityVote

# The grid-vote model is imported on first use: `crowdgate aggregate` never needs it.
_CAPTCHA = ("GridVoteModel", "is_settled", "posterior_from_votes")


def __getattr__(name: str):
    """Return the grid-vote names from :mod:`.captcha`, importing it on first use."""
    if name in _CAPTCHA:
        from . import captcha

        return getattr(captcha, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AGGREGATORS",
    "DEFAULT_METHOD",
    "AggregationError",
    "Aggregator",
    "BayesianDawidSkene",
    "CorrelationCheckedDawidSkene",
    "CrowdFileError",
    "DawidSkene",
    "GridVoteModel",
    "MajorityVote",
    "OneCoinDawidSkene",
    "PooledDawidSkene",
    "SubtypeClassifierCombination",
    "WeightedMajorityVote",
    "get_aggregator",
    "is_settled",
    "posterior_from_votes",
    "read_answers",
    "read_gold",
    "write_labels",
]
