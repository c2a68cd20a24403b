"""Image hygiene: refuse hostile files, then decode, orient, strip and re-encode deterministically.

Every stored image goes through :func:`normalize_image`, so an item's identity (the SHA-256 of
the normalized bytes) does not depend on the container, metadata or orientation flag of the
upload: the same pixels sent as PNG or BMP become the same item.

Output encoding is WebP at quality 90 (thumbnails 85, tile variants 78 to 90). Lossy WebP is
about a tenth of the size of lossless on photographs, which matters because the Redis backend
keeps every blob in memory, and at quality 90 the loss is far below what a 512 px training image
or a 128 px grid tile shows. libwebp is deterministic for a given version, which is all dedupe
needs.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImportRejected
from .pixels import BACKGROUND, _encode, _encode_jpeg, _to_rgb
from .variants import make_variants, variant_base

__all__ = ["ALLOWED_FORMATS", "OUTPUT_MIME", "NormalizedImage", "make_variants", "normalize_image"]

#: Decoded formats accepted, by Pillow format name (``MPO`` is a multi-picture JPEG).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
OUTPUT_MIME = "image/webp"

IMAGE_QUALITY = 90
THUMB_QUALITY = 85

_MAGIC_ALLOWED: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
)
_MAGIC_REFUSED: tuple[tuple[bytes, int, str], ...] = (
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"\x00\x00\x02\x00", 0, "CUR"),
    (b"8BPS", 0, "PSD"),
    (b"icns", 0, "ICNS"),
    (b"qoif", 0, "QOI"),
    (b"DDS ", 0, "DDS"),
    (b"%PDF", 0, "PDF"),
    (b"%!PS", 0, "EPS"),
    (b"\xc5\xd0\xd3\xc6", 0, "EPS"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "JPEG XL"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
)


@dataclass(frozen=True)
class NormalizedImage:
    """A decoded, cleaned and re-encoded image; ``sha256`` of ``data`` is the item id."""

    data: bytes
    thumb: bytes
    width: int
    height: int
    mime: str
    sha256: str
    image: Image.Image
    #: ``image`` shrunk to a little over ``thumb_px`` (:func:`variant_base`): the thumbnail
    #: is made from it, and the tile variants are cut from it (``make_variants(base=...)``)
    base: Image.Image | None = None


def normalize_image(
    data: bytes,
    *,
    max_pixels: int,
    max_side_px: int,
    thumb_px: int,
    max_file_bytes: int,
    thumb_format: str = "webp",
) -> NormalizedImage:
    """Decode untrusted image bytes safely and return the normalized image and thumbnail.

    Parameters
    ----------
    data : bytes
        The raw upload.
    max_pixels : int
        Width times height above which the file is refused, checked from the header before
        any pixel is decoded. ``PIL.Image.MAX_IMAGE_PIXELS`` is left alone (it is process-wide
        and not thread-safe to change), so Pillow's own limit still caps this one.
    max_side_px : int
        Pixels on the longest side of the stored image (smaller images are not enlarged).
    thumb_px : int
        Side of the square, letterboxed grid thumbnail.
    max_file_bytes : int
        Size of ``data`` above which the file is refused.
    thumb_format : str
        ``webp`` or ``jpeg`` (baseline, same quality: a fifth of WebP's encoding time at this
        size; projects whose tiles are deferred use it, as their tiles do).

    Returns
    -------
    NormalizedImage
        RGB pixels, EXIF orientation applied, metadata stripped, WebP-encoded.

    Raises
    ------
    ImportRejected
        With ``reason`` one of ``too-large``, ``not-an-image``, ``format-not-allowed``,
        ``decompression-bomb``, ``truncated``, ``unreadable``.
    """
    if len(data) > max_file_bytes:
        raise ImportRejected(
            "too-large",
            f"The file has {len(data)} bytes, more than the limit of {max_file_bytes}; "
            "shrink it or raise CROWDGATE_MAX_FILE_BYTES.",
        )
    fmt = _sniff(data)
    im = _open(data, fmt, max_pixels)
    if im.format == "JPEG" or im.format == "MPO":
        # Decode at a reduced DCT scale when the image is far larger than what is kept.
        im.draft(im.mode, (max_side_px, max_side_px))
    _load(im, data, fmt)
    _check_pixels(im.size, max_pixels)
    im = _orient(im)
    im = _to_rgb(im)
    im = _bound(im, max_side_px)
    im.info = {}
    encoded = _encode(im, IMAGE_QUALITY)
    # one shrink for the thumbnail and every variant: a Lanczos resize from the full image
    # costs more than the letterbox of this ~1.25x larger base (the thumbnail's pixels move
    # by a level or two from the single resize; tests/test_ingestion.py bounds it)
    base = variant_base(im, thumb_px)
    box = _letterbox(base, thumb_px, like=im.size)
    thumb = (
        _encode_jpeg(box, THUMB_QUALITY) if thumb_format == "jpeg" else _encode(box, THUMB_QUALITY)
    )
    return NormalizedImage(
        data=encoded,
        thumb=thumb,
        width=im.width,
        height=im.height,
        mime=OUTPUT_MIME,
        sha256=hashlib.sha256(encoded).hexdigest(),
        image=im,
        base=base,
    )


def _sniff(data: bytes) -> str:
    head = data[:32]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for magic, offset, name in _MAGIC_ALLOWED:
        if head[offset : offset + len(magic)] == magic:
            return name
    for magic, offset, name in _MAGIC_REFUSED:
        if head[offset : offset + len(magic)] == magic:
            raise ImportRejected(
                "format-not-allowed",
                f"The file is {name}, which is not accepted; convert it to JPEG, PNG, WebP, "
                "GIF or BMP.",
            )
    if head.lstrip()[:5].lower() in (b"<svg ", b"<?xml"):
        raise ImportRejected(
            "format-not-allowed",
            "The file is SVG or XML, which is not accepted; convert it to PNG or JPEG.",
        )
    raise ImportRejected(
        "not-an-image",
        "The file is not a JPEG, PNG, WebP, GIF or BMP image; remove it from the import.",
    )


def _open(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    try:
        im = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning arrives as an exception only where warnings are errors (as in tests);
        # elsewhere Pillow just warns, and the size check below refuses the file.
        raise _bomb(str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImportRejected(
            "unreadable",
            f"The file starts like a {fmt} image but its header cannot be read; re-export it.",
        ) from exc
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise _decode_failure(exc, data, fmt) from exc
    except UserWarning as exc:
        # Pillow warns about corrupt EXIF while opening a JPEG; where warnings are errors that
        # aborts the open, elsewhere the image is used and its metadata dropped anyway.
        raise ImportRejected(
            "unreadable", f"The {fmt} file has corrupt metadata ({exc}); re-export it."
        ) from exc
    if im.format not in ALLOWED_FORMATS and im.format != "MPO":
        raise ImportRejected(
            "format-not-allowed",
            f"The file decodes as {im.format}, which is not accepted; convert it to PNG or JPEG.",
        )
    _check_pixels(im.size, max_pixels)
    return im


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise _bomb(
            f"The image declares {width}x{height} = {width * height} pixels, more than the "
            f"limit of {max_pixels}; downscale it or raise CROWDGATE_MAX_IMAGE_PIXELS."
        )


def _bomb(message: str) -> ImportRejected:
    if not message.startswith("The image"):
        message = f"The image is too large to decode safely ({message}); downscale it."
    return ImportRejected("decompression-bomb", message)


def _load(im: Image.Image, data: bytes, fmt: str) -> None:
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(str(exc)) from exc
    except (OSError, SyntaxError, EOFError, ValueError, IndexError, struct.error) as exc:
        raise _decode_failure(exc, data, fmt) from exc


def _decode_failure(exc: Exception, data: bytes, fmt: str) -> ImportRejected:
    if "truncated" in str(exc) or _declares_more_than(data, fmt):
        return ImportRejected(
            "truncated",
            f"The {fmt} file ends before its image data does (is the upload complete?); "
            "upload the whole file.",
        )
    return ImportRejected(
        "unreadable", f"The {fmt} file is corrupt and cannot be decoded ({exc}); re-export it."
    )


def _declares_more_than(data: bytes, fmt: str) -> bool:
    # libwebp reports a short file only as "could not create decoder", but RIFF says how long
    # the file should be.
    if fmt == "WEBP" and len(data) >= 8:
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    return False


def _orient(im: Image.Image) -> Image.Image:
    try:
        oriented = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, struct.error, UserWarning):
        # A corrupt EXIF block cannot say which way is up; keep the pixels as stored. (Pillow
        # reports some corruption as a UserWarning, an exception where warnings are errors.)
        return im
    return oriented if oriented is not None else im


def _bound(im: Image.Image, max_side_px: int) -> Image.Image:
    longest = max(im.size)
    if longest <= max_side_px:
        return im.copy()
    scale = max_side_px / longest
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _letterbox(im: Image.Image, side: int, like: tuple[int, int] | None = None) -> Image.Image:
    """Return ``im`` fitted into a white ``side`` px square (as ``ImageOps.pad``), keeping the
    aspect of size ``like`` (the full image's, when ``im`` is its smaller base: the base's
    rounded size would shift the picture by a pixel)."""
    # Letterbox rather than crop: a grid question is about the whole picture, and a crop can
    # cut the very object the visitor is asked to find out of a gold tile.
    width, height = like or im.size
    if width > height:
        shape = (side, round(height / width * side))
    elif width < height:
        shape = (round(width / height * side), side)
    else:
        shape = (side, side)
    tile = Image.new("RGB", (side, side), BACKGROUND)
    if min(shape) > 0:
        content = im.resize(shape, Image.Resampling.LANCZOS)
        tile.paste(content, (round((side - shape[0]) * 0.5), round((side - shape[1]) * 0.5)))
    return tile
