"""Built-in image features (numpy + Pillow only) for projects that bring no embeddings.

The vector concatenates three blocks, each L2-normalised and then scaled by ``1/sqrt(3)`` so the
whole vector has unit norm (dot product = cosine similarity):

========================  =====  ================================================================
block                     dims   what it captures
========================  =====  ================================================================
grayscale thumbnail       256    16x16 bilinear downscale, mean removed: coarse layout and shape
colour histogram          24     8 bins per R, G, B channel, square-rooted (Hellinger): palette
gradient orientations     144    4x4 cells of a 64x64 grayscale image, 9 unsigned orientation
                                 bins weighted by gradient magnitude (HOG-like): edges, texture
========================  =====  ================================================================

Images are squashed to a square (aspect ratio is not kept) and transparent pixels are composited
on white. The vector is small, dense and on one scale, which suits a committee of cheap models
(logistic regression, k-NN, trees, naive Bayes) trained on a few hundred labels: they fit in
milliseconds and disagree where the classes overlap rather than where the features are noisy.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

__all__ = ["FEATURE_DIM", "extract_features", "extract_features_batch"]

_THUMB = 16
_HOG_SIDE = 64
_HOG_CELLS = 4
_HOG_BINS = 9
_COLOUR_BINS = 8

#: Length of the vectors returned by :func:`extract_features`.
FEATURE_DIM = _THUMB * _THUMB + 3 * _COLOUR_BINS + _HOG_CELLS * _HOG_CELLS * _HOG_BINS

_EPS = 1e-12


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _unit(block: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(block))
    # A flat image has no layout or edges; a zero block says so instead of amplifying noise.
    return block / norm if norm > _EPS else np.zeros_like(block)


def _thumbnail_block(gray: Image.Image) -> np.ndarray:
    pixels = np.asarray(gray.resize((_THUMB, _THUMB), Image.Resampling.BILINEAR), np.float64)
    return (pixels - pixels.mean()).ravel()


def _colour_block(rgb: np.ndarray) -> np.ndarray:
    bins = (rgb.reshape(-1, 3).astype(np.int64) * _COLOUR_BINS) // 256
    offsets = bins + np.arange(3) * _COLOUR_BINS
    counts = np.bincount(offsets.ravel(), minlength=3 * _COLOUR_BINS).astype(np.float64)
    return np.sqrt(counts / (rgb.shape[0] * rgb.shape[1]))


def _gradient_block(gray: np.ndarray) -> np.ndarray:
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, 1:-1] = gray[:, 2:] - gray[:, :-2]
    gy[1:-1, :] = gray[2:, :] - gray[:-2, :]
    magnitude = np.hypot(gx, gy)
    # Unsigned orientation in [0, pi): a dark-to-light edge and its reverse count as one edge.
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((angle * (_HOG_BINS / np.pi)).astype(np.int64), _HOG_BINS - 1)
    cell = _HOG_SIDE // _HOG_CELLS
    rows, cols = np.indices(gray.shape) // cell
    index = (rows * _HOG_CELLS + cols) * _HOG_BINS + bins
    return np.bincount(
        index.ravel(), weights=magnitude.ravel(), minlength=_HOG_CELLS * _HOG_CELLS * _HOG_BINS
    )


def extract_features(image: Image.Image) -> np.ndarray:
    """Return the built-in feature vector of one image, float32 of shape ``(FEATURE_DIM,)``.

    Parameters
    ----------
    image : PIL.Image.Image
        Any mode and size; it is converted to RGB and resized, never modified in place.

    Returns
    -------
    ndarray of shape (FEATURE_DIM,), float32
        Grayscale thumbnail, colour histogram and gradient-orientation blocks, each L2-normalised
        and scaled so the whole vector has unit norm (zero blocks for a flat image).
    """
    rgb_image = _to_rgb(image).resize((_HOG_SIDE, _HOG_SIDE), Image.Resampling.BILINEAR)
    gray_image = rgb_image.convert("L")
    gray = np.asarray(gray_image, dtype=np.float64) / 255.0
    blocks = [
        _unit(_thumbnail_block(gray_image)),
        _unit(_colour_block(np.asarray(rgb_image))),
        _unit(_gradient_block(gray)),
    ]
    return (np.concatenate(blocks) / np.sqrt(len(blocks))).astype(np.float32)


def extract_features_batch(images: Iterable[Image.Image]) -> np.ndarray:
    """Return the features of several images, float32 of shape ``(n_images, FEATURE_DIM)``."""
    rows = [extract_features(image) for image in images]
    if not rows:
        return np.zeros((0, FEATURE_DIM), dtype=np.float32)
    return np.stack(rows)
