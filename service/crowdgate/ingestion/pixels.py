"""Pixels in, bytes out: 8-bit sRGB conversion and the encoders every stored image goes through.

Shared by :mod:`.images` (the normalized image and its thumbnail) and :mod:`.variants` (grid
tiles), so both convert and encode exactly alike.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

#: Letterbox and transparency background: white, as on a typical form page.
BACKGROUND = (255, 255, 255)
#: libwebp effort (0 to 6): 2 encodes about twice as fast as the default 4 at a similar size.
_WEBP_METHOD = 2
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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
