"""Look up aggregators by the short names used on the command line and in project settings."""

from __future__ import annotations

from ._base import AggregationError, Aggregator
from .bds import BayesianDawidSkene
from .bdsc import CorrelationCheckedDawidSkene
from .ds import DawidSkene
from .dsp import PooledDawidSkene
from .ebcc import SubtypeClassifierCombination
from .mv import MajorityVote
from .ods import OneCoinDawidSkene
from .wmv import WeightedMajorityVote

AGGREGATORS: dict[str, type[Aggregator]] = {
    cls.name: cls
    for cls in (
        MajorityVote,
        WeightedMajorityVote,
        DawidSkene,
        OneCoinDawidSkene,
        PooledDawidSkene,
        BayesianDawidSkene,
        SubtypeClassifierCombination,
        CorrelationCheckedDawidSkene,
    )
}

#: The method ``crowdgate aggregate`` uses unless told otherwise.
DEFAULT_METHOD = CorrelationCheckedDawidSkene.name


def get_aggregator(name: str) -> type[Aggregator]:
    """Return the aggregator class registered as ``name`` (``bds``, ``mv``, ``ds``, ...).

    Raises
    ------
    AggregationError
        When ``name`` is not registered; the message lists the known names.
    """
    try:
        return AGGREGATORS[name]
    except KeyError:
        known = ", ".join(sorted(AGGREGATORS))
        raise AggregationError(
            f"Unknown aggregation method {name!r}; use one of {known}.", code="unknown-method"
        ) from None
