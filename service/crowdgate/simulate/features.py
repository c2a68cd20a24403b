"""Committee features of every digit, computed the way the service computes them on import."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..config import Settings
from ..features import extract_features
from ..ingestion.images import normalize_image
from . import digits


def digit_features(cache: Path | None = None) -> np.ndarray:
    """Return the (1797, FEATURE_DIM) features of the rendered, normalised digits (cached)."""
    if cache is not None and cache.exists():
        return np.load(cache)
    settings = Settings()
    images, _ = digits.load()
    rows = []
    for pixels in images:
        buf = io.BytesIO()
        digits.render(pixels).save(buf, "PNG")
        norm = normalize_image(
            buf.getvalue(),
            max_pixels=settings.max_image_pixels,
            max_side_px=settings.max_side_px,
            thumb_px=settings.thumb_px,
            max_file_bytes=settings.max_file_bytes,
        )
        rows.append(extract_features(norm.image))
    features = np.asarray(rows, dtype=np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, features)
    return features
