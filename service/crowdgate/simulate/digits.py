"""scikit-learn's digits as pictures: the demo's rendering, reference sets and project folders."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .perception import GoldMemory, Perceiver

#: pixels per side of a rendered digit, as in the demo (``crowdgate.demo.SIDE_PX``)
SIDE_PX = 96
LABELS = [str(d) for d in range(10)]


def load() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits as ``(images (1797, 8, 8) in 0..16, targets (1797,))``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def render(pixels: np.ndarray) -> Image.Image:
    """Return one 8x8 digit as the demo draws it: dark ink on white, upscaled bicubically."""
    grey = (255 - pixels / 16.0 * 255).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").resize((SIDE_PX, SIDE_PX), Image.Resampling.BICUBIC)


def file_name(index: int) -> str:
    """Return the file name of digit ``index``, as the demo names it."""
    return f"digit-{index:04d}.png"


def index_of(file_name: str) -> int | None:
    """Return the digit index encoded in a file name like ``digit-0042.png``, else None."""
    stem = Path(file_name).stem
    if not stem.startswith("digit-") or not stem[6:].isdigit():
        return None
    return int(stem[6:])


def reference_perceiver(indices: Sequence[int], random_state: int = 0) -> Perceiver:
    """Return a perceiver trained on the digits at ``indices`` (the visitors' prior knowledge)."""
    images, targets = load()
    return Perceiver(random_state=random_state).fit(
        [render(images[i]) for i in indices], [str(targets[i]) for i in indices]
    )


def gold_memory(indices: Sequence[int]) -> GoldMemory:
    """Return a memory of the digits at ``indices`` (what colluders learned of the gold)."""
    images, _ = load()
    return GoldMemory().fit([render(images[i]) for i in indices])


def write_folder(folder: Path, indices: Sequence[int], gold: Sequence[int]) -> Path:
    """Write the digits at ``indices`` as PNGs and a manifest labelling those in ``gold``.

    Returns the manifest path (``file,label``; empty label = unlabeled), importable with
    ``crowdgate import`` or zipped for the admin API.
    """
    images, targets = load()
    folder.mkdir(parents=True, exist_ok=True)
    known = set(gold)
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label"])
        for i in indices:
            render(images[i]).save(folder / file_name(i))
            writer.writerow([file_name(i), str(targets[i]) if i in known else ""])
    return manifest
