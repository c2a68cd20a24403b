"""The bytes each slot of a grid is served as, sent inside the challenge response.

``slot_tile`` is the one place a slot's image is read: code that perturbs tiles per serving
plugs in here, and the challenge response (nothing else) carries its output to the browser.
"""

from __future__ import annotations

import base64

from ..errors import NotFound
from ..models import Challenge, Slot
from ..store import THUMB, Store, variant_kind
from . import testkit


def slot_tile(store: Store, challenge: Challenge, index: int) -> bytes:
    """Return the bytes slot ``index`` of ``challenge`` is served as (variant drawn at issue)."""
    if challenge.test:
        return testkit.image(index)
    slot: Slot = challenge.slots[index]
    kind = variant_kind(slot.variant) if slot.variant >= 0 else THUMB
    data = store.get_blob(challenge.project, slot.item, kind)
    if data is None and kind != THUMB:
        data = store.get_blob(challenge.project, slot.item, THUMB)
    if data is None:
        raise NotFound(
            "An image of this challenge is no longer available; request a new one.",
            code="tile-unavailable",
            status=503,
        )
    return data


def encoded_tiles(store: Store, challenge: Challenge) -> list[str]:
    """Return every slot's tile as base64 text, in slot order.

    No media type travels with them: browsers sniff the image format when decoding
    (``createImageBitmap``), and the importer's WebP and the test site's PNG both work.
    """
    return [
        base64.b64encode(slot_tile(store, challenge, i)).decode("ascii")
        for i in range(len(challenge.slots))
    ]
