"""A small real project: scikit-learn digits imported through the real importer."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from crowdgate import manage
from crowdgate.config import Settings
from crowdgate.ingestion import import_path
from crowdgate.store import Store


def make_digits_project(
    store: Store,
    folder: Path,
    *,
    n: int = 240,
    gold_fraction: float = 0.3,
    pid: str = "digits",
    seed: int = 0,
) -> dict[str, str]:
    """Import ``n`` digits (a ``gold_fraction`` of them gold); return file name -> truth."""
    digits = load_digits()
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    with (folder / "manifest.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "label"])
        for k in range(n):
            name = f"d{k:04d}.png"
            grey = (255 - digits.images[k] / 16 * 255).astype(np.uint8)
            Image.fromarray(grey, "L").resize((48, 48)).save(folder / name)
            truth[name] = str(digits.target[k])
            out.writerow([name, truth[name] if rng.random() < gold_fraction else ""])
    manage.create_project(
        store,
        pid,
        labels=[str(d) for d in range(10)],
        prompt="Select all images of the digit {label}",
    )
    project = store.get_project(pid)
    import_path(store, project, folder / "manifest.csv", Settings(data_dir=folder))
    return truth
