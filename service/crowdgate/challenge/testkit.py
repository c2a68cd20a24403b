"""The published test site: always-pass challenges on generated images, never votes."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

from ..models import TEST_PROJECT, Site, Slot
from .keys import TEST_SITEKEY, hash_secret

TEST_SITE = Site(
    sitekey=TEST_SITEKEY,
    name="crowdgate test site (always passes)",
    secret_hash=hash_secret("0x0000000000000000000000000000000000000000"),
    hostnames=[],
    project=TEST_PROJECT,
)
LABEL = "test"
PROMPT = "Test challenge: any answer passes"
SLOTS = 9
COLOURS = [
    "#1b6ca8",
    "#2e8540",
    "#b5651d",
    "#6a1b9a",
    "#c62828",
    "#00796b",
    "#455a64",
    "#ad1457",
    "#5d4037",
]


def slots() -> list[Slot]:
    """Return the nine placeholder slots of a test challenge."""
    return [Slot(item=f"test-{i}", gold=False) for i in range(SLOTS)]


@functools.lru_cache(maxsize=SLOTS)
def image(index: int) -> bytes:
    """Return a generated PNG tile for test slot ``index`` (made once per process)."""
    img = Image.new("RGB", (128, 128), COLOURS[index % len(COLOURS)])
    draw = ImageDraw.Draw(img)
    draw.rectangle((8, 8, 119, 119), outline="white", width=4)
    draw.text((56, 56), str(index + 1), fill="white")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
