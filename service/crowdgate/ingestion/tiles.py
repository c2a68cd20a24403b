"""Grid tiles made when an item is first needed rather than for every item at import.

An open item is shown in grids only as one of its perturbed tiles (``v0``...: variants.py),
which cost most of an import's CPU. A project created since this module (the store's
``tiles_deferred``) gets them at import only for its gold and a cold-start batch of open
items, so it serves grids at once; the trainer gives every item it queues its tiles
(:func:`make_tiles`), and random draws take only items that have them, so an item never asked
about never costs them. Projects created before keep having every item's tiles made at import.
"""

from __future__ import annotations

import hmac
import io

from PIL import Image

from ..config import Settings
from ..store.base import IMAGE, Store, variant_kind
from .variants import make_variants, variant_base

__all__ = ["COLD_START_TILES", "item_tiles", "make_tiles", "tile_seed"]

#: open items of a new project whose tiles are made at import: two full trainer queues
#: (trainer.QUEUE_LENGTH), so grids have open items to ask about before the first model
COLD_START_TILES = 240
#: items whose new packs are written together (their fsyncs overlap)
TILE_BATCH = 32


def tile_seed(secret_key: str, item_id: str) -> int:
    """Return the seed of an item's tiles, keyed by the deployment secret.

    Reproducible here, but someone holding the original (say, a public dataset image) cannot
    precompute the served variant bytes.
    """
    mac = hmac.new(secret_key.encode(), item_id.encode(), "sha256")
    return int.from_bytes(mac.digest()[:8], "big")


def item_tiles(
    settings: Settings,
    item_id: str,
    image: Image.Image,
    *,
    fmt: str,
    base: Image.Image | None = None,
) -> dict[str, bytes]:
    """Return an item's ``settings.tile_variants`` grid tiles by blob kind."""
    variants = make_variants(
        image,
        settings.tile_variants,
        tile_seed(settings.secret_key, item_id),
        size=settings.thumb_px,
        fmt=fmt,
        base=base,
    )
    return {variant_kind(i): data for i, data in enumerate(variants)}


def make_tiles(store: Store, project_id: str, item_ids: list[str], settings: Settings) -> int:
    """Give each of ``item_ids`` that has no tiles yet its tiles; return how many got them.

    Each costs a decode of the stored image and the variants (about 10 ms of CPU), once.
    """
    if not settings.tile_variants:
        return 0
    made = 0
    todo = store.untiled(project_id, item_ids)
    for start in range(0, len(todo), TILE_BATCH):
        chunk = todo[start : start + TILE_BATCH]
        tiles = {}
        images = store.get_blobs(project_id, [(i, IMAGE) for i in chunk])
        for item_id, data in zip(chunk, images, strict=True):
            if data is None:
                continue
            with Image.open(io.BytesIO(data)) as im:
                rgb = im.convert("RGB")
            base = variant_base(rgb, settings.thumb_px)
            # JPEG: only projects whose tiles are deferred have untiled items, and their
            # tiles are all JPEG (importer.tile_format_of)
            tiles[item_id] = item_tiles(settings, item_id, rgb, fmt="jpeg", base=base)
        made += store.add_tiles_batch(project_id, tiles)
    return made
