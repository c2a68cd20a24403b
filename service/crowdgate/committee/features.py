"""The built-in features, kept importable here; they live in :mod:`crowdgate.features`.

They moved out of this package so that import workers load numpy and Pillow only: importing
anything under ``crowdgate.committee`` runs its ``__init__``, which loads scikit-learn and SciPy.
"""

from ..features import FEATURE_DIM, extract_features, extract_features_batch

__all__ = ["FEATURE_DIM", "extract_features", "extract_features_batch"]
