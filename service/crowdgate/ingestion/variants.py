"""Grid tiles: each item's perturbed copies, cut, toned, noised and encoded at import.

Every gold and open item is served as one of these copies, so its bytes and perceptual hash
differ from one challenge to the next (the memorizing attackers of docs/defences.md).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageChops

from .pixels import BACKGROUND, _encode, _encode_jpeg, _to_rgb

_VARIANT_METHOD = 2
#: long side of the picture variants are cut from, in tile sides (1/0.88 is the least)
_BASE_SCALE = 1.25
#: standard normal quantiles at the midpoints of 256 equal-probability bins
_NORMAL_QUANTILES = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)])


def make_variants(
    image: Image.Image,
    n: int,
    seed: int,
    *,
    size: int = 128,
    fmt: str = "webp",
    base: Image.Image | None = None,
) -> list[bytes]:
    """Return ``n`` grid tiles of ``image`` (``fmt``: webp or jpeg), each lightly and
    differently perturbed.

    Each variant is a random crop keeping 88 to 97 % of each side (a small shift and zoom),
    letterboxed to ``size`` px, with brightness and contrast jittered by up to 10 %, Gaussian
    noise of 1.5 to 4 grey levels and a random encoder quality, so a gold item's bytes and
    perceptual hash differ across challenges while a person still sees the same picture.
    The result depends only on ``image``, ``n``, ``size`` and ``seed``. ``base``: the
    picture :func:`variant_base` makes of ``image`` for ``size``, if the caller has it
    (:func:`normalize_image` does), so it is not made again.
    """
    rng = np.random.default_rng(seed)
    rgb = _to_rgb(image)
    width, height = rgb.size
    # Variants cost most of an import's CPU, so each is made with a few whole-image C calls:
    # one resize of the image to a little over the tile size (``base``), then per variant one
    # bilinear resize of the crop box (no intermediate crop), brightness and contrast folded
    # into one 256-byte table and noise drawn as random bytes mapped through a Gaussian
    # quantile table, both applied with ``bytes.translate`` (``Image.point`` spends more
    # rounding its 768-entry list in Python than applying it). The letterbox bars stay plain
    # white (they carry nothing to perturb, and flat bars encode faster and smaller).
    if base is None:
        base = variant_base(rgb, size)
    sx, sy = base.width / width, base.height / height
    # Every variant's random draws first, in the order the formula has always drawn them
    # (tests/test_variant_pixels.py pins the bytes), so the tables can be made all at once.
    draws = []
    for _ in range(n):
        keep = rng.uniform(0.88, 0.97)
        crop_w, crop_h = max(1, round(width * keep)), max(1, round(height * keep))
        left = int(rng.integers(0, width - crop_w + 1))
        top = int(rng.integers(0, height - crop_h + 1))
        box = (left * sx, top * sy, (left + crop_w) * sx, (top + crop_h) * sy)
        shape = _fit(crop_w, crop_h, size)
        tone = (rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1))
        noise = rng.bytes(3 * shape[0] * shape[1])
        sigma = rng.uniform(1.5, 4.0)
        draws.append((box, shape, tone, noise, sigma, int(rng.integers(78, 91))))
    if not draws:
        return []
    tones = _tone_tables(_mean_grey(base), np.array([d[2] for d in draws]))
    noises = _noise_tables(np.array([d[4] for d in draws]))
    variants = []
    for (box, shape, _, noise, _, quality), tone, table in zip(draws, tones, noises, strict=True):
        content = base.resize(shape, Image.Resampling.BILINEAR, box=box)
        toned = Image.frombytes("RGB", shape, content.tobytes().translate(tone))
        grain = Image.frombytes("RGB", shape, noise.translate(table))
        tile = _pad(ImageChops.add(toned, grain, 1, -128), size)
        if fmt == "jpeg":
            variants.append(_encode_jpeg(tile, quality))
        else:
            variants.append(_encode(tile, quality, _VARIANT_METHOD))
    return variants


def variant_base(rgb: Image.Image, size: int) -> Image.Image:
    """Return ``rgb`` shrunk so that its smallest crop (88 %) still has ``size`` px to spare."""
    longest = max(rgb.size)
    target = math.ceil(_BASE_SCALE * size)
    if longest <= target:
        return rgb
    scale = target / longest
    shape = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(shape, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    """Return the size of a ``width`` x ``height`` picture fitted into a ``side`` px square."""
    if width >= height:
        return side, max(1, round(side * height / width))
    return max(1, round(side * width / height)), side


def _pad(content: Image.Image, side: int) -> Image.Image:
    """Return ``content`` centred on a white ``side`` px square."""
    if content.size == (side, side):
        return content
    tile = Image.new("RGB", (side, side), BACKGROUND)
    tile.paste(content, ((side - content.width) // 2, (side - content.height) // 2))
    return tile


def _mean_grey(im: Image.Image) -> float:
    """Return the mean grey level of ``im`` (the pivot of a contrast change)."""
    histogram = np.asarray(im.convert("L").histogram(), dtype=np.float64)
    return float(histogram @ np.arange(256)) / max(1.0, float(histogram.sum()))


def _tone_tables(grey: float, tones: np.ndarray) -> list[bytes]:
    """Return per ``(brightness, contrast)`` row the byte table of ``ImageEnhance``
    brightness then contrast (one table serves all three channels)."""
    brightness, contrast = tones[:, :1], tones[:, 1:]
    levels = np.clip(np.rint(np.arange(256) * brightness), 0, 255)
    # ImageEnhance.Contrast pivots on the mean grey level of the (brightened) image; the
    # pivot is rounded half up as int(x + 0.5) rounds a positive x.
    pivot = np.floor(grey * brightness + 0.5)
    table = np.clip(np.rint(pivot + contrast * (levels - pivot)), 0, 255).astype(np.uint8)
    return [row.tobytes() for row in table]


def _noise_tables(sigmas: np.ndarray) -> list[bytes]:
    """Return per sigma the byte table mapping a uniform random byte to 128 plus Gaussian noise."""
    # Quantiles of N(0, sigma) at the 256 byte values (tails cut at 2.7 sigma): a uniform byte
    # through this table is Gaussian noise, without drawing a float per pixel.
    table = np.clip(128 + np.rint(_NORMAL_QUANTILES * sigmas[:, None]), 0, 255).astype(np.uint8)
    return [row.tobytes() for row in table]
