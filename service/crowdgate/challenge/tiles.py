"""The bytes each slot of a grid is served as, sent inside the challenge response.

``slot_tile`` is the one place a slot's image is read, and the challenge response (nothing
else) carries its output to the browser. A tile is one of an item's precomputed variants
(``ingestion.variants.make_variants``: real crops, brightness, contrast and noise). Re-encoding a
new variant per serving would cost 1.4-3.1 ms of CPU per tile (measured; see
docs/defences.md), several times a whole visitor flow, so instead each serving wraps the
stored WebP in the extended container (``VP8X``) with a chunk of random bytes of random length
after the image. WebP readers skip chunks they do not know (the container specification
requires it), so the picture is unchanged while the bytes, their hash and their length differ
on every serving: a bot keyed on exact bytes never sees a tile twice. A bot that parses the
container is left with the variant's pixels, which repeat once per ``tile_variants`` servings
of an item: that is the perceptual-hash attack.
"""

from __future__ import annotations

import base64
import random
import struct
from functools import lru_cache

from ..errors import NotFound
from ..models import Challenge, Slot
from ..store import THUMB, Store, variant_kind
from . import testkit

#: variants per item before the default became 16: an item imported then is served variant
#: ``k mod LEGACY_VARIANTS`` for a drawn variant ``k`` it does not have
LEGACY_VARIANTS = 4


#: the FourCC of the random chunk (not one the WebP specification defines)
NONCE_CHUNK = b"CGNC"
#: random bytes per serving: between these (even, as RIFF chunks pad to even sizes)
NONCE_MIN, NONCE_MAX = 8, 40


def _size(data: bytes) -> tuple[int, int] | None:
    """Return the pixel size of a simple-format WebP (VP8 or VP8L), else None."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    kind, body = data[12:16], data[20:]
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and body[:1] == b"\x2f":
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _fresh_jpeg(data: bytes, rng: random.Random) -> bytes:
    """Return a JPEG tile with a comment segment (COM) of random bytes after its header.

    Decoders skip comments (the JPEG standard's COM marker), so the pixels are unchanged; it
    goes after the JFIF APP0 segment, which readers expect right after the start marker.
    """
    at = 2
    if data[2:4] == b"\xff\xe0":
        at = 4 + int.from_bytes(data[4:6], "big")
    n = 2 * rng.randint(NONCE_MIN // 2, NONCE_MAX // 2)
    return data[:at] + b"\xff\xfe" + (n + 2).to_bytes(2, "big") + rng.randbytes(n) + data[at:]


@lru_cache(maxsize=64)
def _vp8x(width: int, height: int) -> bytes:
    """Return the VP8X chunk of a ``width`` x ``height`` canvas (tiles come in few sizes)."""
    # flags 0: no ICC profile, alpha, EXIF, XMP or animation; canvas = the image's size
    chunk = b"VP8X" + struct.pack("<I", 10) + bytes(4)
    return chunk + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")


def fresh_bytes(data: bytes, rng: random.Random) -> bytes:
    """Return ``data`` (a WebP or JPEG tile) with random bytes the decoder skips, or
    unchanged if it is neither simple WebP nor JPEG.

    The result decodes to the same pixels; its bytes and length differ on every call.
    """
    if data[:3] == b"\xff\xd8\xff":
        return _fresh_jpeg(data, rng)
    size = _size(data)
    if size is None:
        return data
    vp8x = _vp8x(*size)
    # an even length, uniform over NONCE_MIN..NONCE_MAX
    n = NONCE_MIN + 2 * rng.randrange((NONCE_MAX - NONCE_MIN) // 2 + 1)
    body_size = 4 + len(vp8x) + len(data) - 12 + 8 + n
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", body_size),
            b"WEBP",
            vp8x,
            memoryview(data)[12:],
            NONCE_CHUNK,
            struct.pack("<I", n),
            rng.randbytes(n),
        )
    )


def _kind(slot: Slot) -> str:
    return variant_kind(slot.variant) if slot.variant >= 0 else THUMB


def slot_tile(
    store: Store,
    challenge: Challenge,
    index: int,
    rng: random.Random,
    data: bytes | None = None,
) -> bytes:
    """Return the bytes slot ``index`` of ``challenge`` is served as (variant drawn at issue).

    ``data``: the drawn variant's blob when the caller fetched it already; the fallbacks for
    items imported with fewer variants (or none) are read here.
    """
    if challenge.test:
        return testkit.image(index)
    slot: Slot = challenge.slots[index]
    kind = _kind(slot)
    if data is None:
        data = store.get_blob(challenge.project, slot.item, kind)
    if data is None and slot.variant >= LEGACY_VARIANTS:
        # imported when fewer variants were made per item (the default was 4)
        kind = variant_kind(slot.variant % LEGACY_VARIANTS)
        data = store.get_blob(challenge.project, slot.item, kind)
    if data is None and kind != THUMB:
        data = store.get_blob(challenge.project, slot.item, THUMB)
    if data is None:
        raise NotFound(
            "An image of this challenge is no longer available; request a new one.",
            code="tile-unavailable",
            status=503,
        )
    return fresh_bytes(data, rng)


def encoded_tiles(store: Store, challenge: Challenge, rng: random.Random) -> list[str]:
    """Return every slot's tile as base64 text, in slot order, fresh bytes per serving.

    The drawn variants are read in one store round trip. No media type travels with them:
    browsers sniff the image format when decoding (``createImageBitmap``), and the importer's
    WebP and the test site's PNG both work.
    """
    slots = challenge.slots
    if challenge.test:
        blobs: list[bytes | None] = [None] * len(slots)
    else:
        blobs = store.get_blobs(challenge.project, [(s.item, _kind(s)) for s in slots])
    return [
        base64.b64encode(slot_tile(store, challenge, i, rng, blobs[i])).decode("ascii")
        for i in range(len(slots))
    ]
