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
import math
import struct
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from PIL import Image, ImageChops, ImageCms, ImageOps, UnidentifiedImageError

from ..errors import ImportRejected

__all__ = ["ALLOWED_FORMATS", "OUTPUT_MIME", "NormalizedImage", "make_variants", "normalize_image"]

#: Decoded formats accepted, by Pillow format name (``MPO`` is a multi-picture JPEG).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
OUTPUT_MIME = "image/webp"

IMAGE_QUALITY = 90
THUMB_QUALITY = 85
#: libwebp effort (0 to 6): 2 encodes about twice as fast as the default 4 at a similar size.
_WEBP_METHOD = 2
_VARIANT_METHOD = 2
#: long side of the picture variants are cut from, in tile sides (1/0.88 is the least)
_BASE_SCALE = 1.25
#: standard normal quantiles at the midpoints of 256 equal-probability bins
_NORMAL_QUANTILES = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)])
#: Letterbox and transparency background: white, as on a typical form page.
BACKGROUND = (255, 255, 255)

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
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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
    data: bytes, *, max_pixels: int, max_side_px: int, thumb_px: int, max_file_bytes: int
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
    thumb = _encode(_letterbox(base, thumb_px, like=im.size), THUMB_QUALITY)
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


def _to_rgb(im: Image.Image) -> Image.Image:
    """Return ``im`` as 8-bit sRGB: profile applied, alpha flattened on white, 16-bit scaled."""
    icc = im.info.get("icc_profile")
    if im.mode in _SIXTEEN_BIT_MODES:
        # Pillow's convert clips 16-bit values at 255; scale the range instead.
        pixels = np.asarray(im, dtype=np.uint32) >> 8
        im = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        im = Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8), "L")
    if im.mode == "CMYK" and icc:
        converted = _apply_profile(im, icc, "CMYK")
        if converted is not None:
            return converted
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        flat.alpha_composite(rgba)
        im = flat.convert("RGB")
    elif im.mode != "RGB":
        im = im.convert("RGB")
    if icc:
        converted = _apply_profile(im, icc, "RGB")
        if converted is not None:
            return converted
    return im


def _apply_profile(im: Image.Image, icc: bytes, space: str) -> Image.Image | None:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if source.profile.xcolor_space.strip() != space:
            return None
        return ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken profile is dropped rather than refusing an otherwise good image.
        return None


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


def _encode_jpeg(im: Image.Image, quality: int) -> bytes:
    # baseline JPEG: a tenth of WebP's encoding time at this size (measured), and the served
    # bytes get their per-serving random segment as WebP's do (challenge/tiles.py)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _encode(im: Image.Image, quality: int, method: int = _WEBP_METHOD) -> bytes:
    out = io.BytesIO()
    im.save(out, "WEBP", quality=quality, method=method)
    return out.getvalue()
