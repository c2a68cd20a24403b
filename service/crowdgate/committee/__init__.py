"""Committee and active-learning core: features, disagreement measures, committee, selection.

Pure NumPy / scikit-learn / Pillow; no store, no web. See ``docs/committee.md``.
"""

from ..features import FEATURE_DIM, extract_features, extract_features_batch
from .committee import Committee, NotEnoughLabels, default_members
from .disagreement import (
    MEASURES,
    InvalidProbabilities,
    consensus_entropy,
    kl_max_disagreement,
    margin,
    mean_kl_divergence,
    random_scores,
    variation_ratio,
    vote_entropy,
)
from .embeddings import EMBEDDING_SUFFIXES, EmbeddingsError, check_embeddings, load_embeddings
from .selection import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MEASURE,
    DEFAULT_MIN_LABELS,
    MEASURE_NAMES,
    PoolScores,
    SelectionError,
    candidate_labels,
    cold_start_batch,
    needs_cold_start,
    score_pool,
    select_batch,
    select_queries,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MEASURE",
    "DEFAULT_MIN_LABELS",
    "EMBEDDING_SUFFIXES",
    "FEATURE_DIM",
    "MEASURES",
    "MEASURE_NAMES",
    "Committee",
    "EmbeddingsError",
    "InvalidProbabilities",
    "NotEnoughLabels",
    "PoolScores",
    "SelectionError",
    "candidate_labels",
    "check_embeddings",
    "cold_start_batch",
    "consensus_entropy",
    "default_members",
    "extract_features",
    "extract_features_batch",
    "kl_max_disagreement",
    "load_embeddings",
    "margin",
    "mean_kl_divergence",
    "needs_cold_start",
    "random_scores",
    "score_pool",
    "select_batch",
    "select_queries",
    "variation_ratio",
    "vote_entropy",
]
