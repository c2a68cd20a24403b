"""How a simulated visitor sees a tile: decode the served bytes and classify the picture.

A visitor never reads truth from the server. It decodes the image the service served (a grid
thumbnail, or a perturbed gold variant), shrinks it to a small grey grid and asks a classifier
trained on *reference* pictures it already knows (for digits: scikit-learn digits the service
was never given). Its mistakes are therefore real perception mistakes, larger on perturbed gold
tiles than on clean ones, and correlated across visitors who share the model, as people's
mistakes on ambiguous pictures are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.svm import SVC
from sklearn.utils import check_random_state

from ..errors import CrowdgateError

#: pixels per side of the grey grid a tile is shrunk to (scikit-learn digits are 8x8)
DEFAULT_SIDE = 8
#: cropped copies added per reference picture so the model tolerates shifted, zoomed tiles
DEFAULT_AUGMENT = 4


class PerceptionError(CrowdgateError):
    code = "simulate-perception"
    status = 400


def decode(data: bytes) -> Image.Image:
    """Return the picture in ``data`` (any format Pillow reads) or raise PerceptionError."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PerceptionError(
            f"A served tile of {len(data)} bytes is not an image Pillow can decode: {exc}."
        ) from exc
    return image


def image_vector(image: Image.Image, side: int = DEFAULT_SIDE) -> np.ndarray:
    """Return the (side * side,) ink vector of ``image``: 0 for white, 1 for black, box-averaged."""
    grey = image.convert("L").resize((side, side), Image.Resampling.BOX)
    return 1.0 - np.asarray(grey, dtype=np.float64).ravel() / 255.0


def _crops(image: Image.Image, n: int, rng: np.random.RandomState) -> list[Image.Image]:
    """Return ``n`` random square-ish crops keeping 85 to 100 % of each side."""
    width, height = image.size
    out = []
    for _ in range(n):
        keep = rng.uniform(0.85, 1.0)
        w, h = max(1, round(width * keep)), max(1, round(height * keep))
        left, top = rng.randint(0, width - w + 1), rng.randint(0, height - h + 1)
        out.append(image.crop((left, top, left + w, top + h)))
    return out


class Perceiver:
    """A picture classifier on small grey grids: what every simulated visitor's eyes share.

    Parameters
    ----------
    side : int
        Pixels per side of the grid images are shrunk to.
    augment : int
        Random crops added per reference picture in ``fit``.
    random_state : int, RandomState or None
        Seeds the crops.
    """

    def __init__(
        self,
        side: int = DEFAULT_SIDE,
        augment: int = DEFAULT_AUGMENT,
        random_state: int | np.random.RandomState | None = 0,
    ):
        self.side = side
        self.augment = augment
        self.random_state = random_state

    def fit(self, images: Sequence[Image.Image], labels: Sequence[str]) -> Perceiver:
        """Learn ``labels`` (one per image, at least two distinct) from reference pictures."""
        if len(images) != len(labels) or len(set(labels)) < 2:
            raise PerceptionError(
                f"A perceiver needs one label per reference image and two labels at least; "
                f"got {len(images)} images and labels {sorted(set(labels))}."
            )
        rng = check_random_state(self.random_state)
        rows, targets = [], []
        for image, label in zip(images, labels, strict=True):
            for view in [image, *_crops(image, self.augment, rng)]:
                rows.append(image_vector(view, self.side))
                targets.append(label)
        self.model_ = SVC(C=10.0, gamma="scale").fit(np.asarray(rows), np.asarray(targets))
        self.classes_ = [str(c) for c in self.model_.classes_]
        return self

    def vectors(self, tiles: Sequence[bytes]) -> np.ndarray:
        """Return the (n_tiles, side * side) ink vectors of served tile bytes."""
        return np.asarray([image_vector(decode(t), self.side) for t in tiles])

    def predict_vectors(self, vectors: np.ndarray) -> list[str]:
        """Return the label the perceiver sees in each row of ``vectors``."""
        return [str(p) for p in self.model_.predict(vectors)]

    def predict(self, tiles: Sequence[bytes]) -> list[str]:
        """Return the label the perceiver sees in each served tile."""
        return self.predict_vectors(self.vectors(tiles))


class GoldMemory:
    """Pictures a group of colluders has memorised as gold, matched by nearest ink vector.

    Each picture is memorised with ``views`` random crops, so a served copy that was shifted
    and zoomed still lands near one of them. A tile counts as remembered when its nearest
    memorised vector is closer than ``radius`` times the median distance between distinct
    memorised pictures: perturbed copies land inside, other pictures of the class mostly not.
    """

    def __init__(
        self,
        side: int = DEFAULT_SIDE,
        radius: float = 0.6,
        views: int = 24,
        random_state: int | np.random.RandomState | None = 0,
    ):
        self.side = side
        self.radius = radius
        self.views = views
        self.random_state = random_state

    def fit(self, images: Sequence[Image.Image]) -> GoldMemory:
        """Memorise ``images`` (at least two)."""
        if len(images) < 2:
            raise PerceptionError("A gold memory needs at least two pictures to calibrate.")
        rng = check_random_state(self.random_state)
        plain = np.asarray([image_vector(im, self.side) for im in images])
        d = _distances(plain, plain)
        np.fill_diagonal(d, np.inf)
        self.threshold_ = self.radius * float(np.median(d.min(axis=1)))
        crops = [image_vector(c, self.side) for im in images for c in _crops(im, self.views, rng)]
        self.vectors_ = np.vstack([plain, np.asarray(crops).reshape(-1, plain.shape[1])])
        return self

    def remembers(self, vectors: np.ndarray) -> np.ndarray:
        """Return a boolean (n_tiles,) mask of tiles matching a memorised picture."""
        return _distances(np.atleast_2d(vectors), self.vectors_).min(axis=1) < self.threshold_


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0.0, None))
