"""Builders of real image files and archives for the ingestion tests (no binary fixtures)."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

LIMITS = {
    "max_pixels": 40_000_000,
    "max_side_px": 512,
    "thumb_px": 128,
    "max_file_bytes": 2 * 1024 * 1024,
}


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    """Return ``im`` saved in ``fmt`` with Pillow."""
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def photo(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    """Return a deterministic RGB picture with structure (gradients, a blob) and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    blob = 255 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (0.15 * width) ** 2))
    pixels = np.stack(
        [255 * x / max(width - 1, 1), blob, 255 * y / max(height - 1, 1)], axis=-1
    ) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """Return one PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """Return a valid 1-bit PNG of ``width`` x ``height`` black pixels (a few KB to hundreds)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int) -> bytes:
    """Return a PNG whose header declares ``width`` x ``height`` but whose data is one row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 16))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body)


def write_zip(
    path: Path, members: list[tuple[str, bytes]], *, symlinks: dict[str, str] | None = None
) -> Path:
    """Write a deflated zip with ``members`` and optional symlink entries (name -> target)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def patch_entry(
    path: Path, name: str | bytes, *, declared_size: int | None = None, flag_bits: int | None = None
) -> None:
    """Rewrite entry ``name``'s size or flags in both its central and local headers."""
    raw = bytearray(path.read_bytes())
    encoded = name if isinstance(name, bytes) else name.encode()
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(encoded)] != encoded:
        central = raw.index(b"PK\x01\x02", central + 4)
    local = struct.unpack_from("<I", raw, central + 42)[0]
    if declared_size is not None:
        struct.pack_into("<I", raw, central + 24, declared_size)
        struct.pack_into("<I", raw, local + 22, declared_size)
    if flag_bits is not None:
        struct.pack_into("<H", raw, central + 8, flag_bits)
        struct.pack_into("<H", raw, local + 6, flag_bits)
    path.write_bytes(bytes(raw))
