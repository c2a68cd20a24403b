"""Stores: one interface (:class:`Store`), backends chosen by URI scheme."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import Settings
from ..errors import CrowdgateError
from .base import IMAGE, THUMB, GridDraw, Store, variant_kind

__all__ = ["IMAGE", "THUMB", "GridDraw", "Store", "open_store", "variant_kind"]

SCHEMES = ("sqlite", "redis", "rediss", "redis+cluster")


def open_store(uri: str, **options: object) -> Store:
    """Open the backend named by ``uri``'s scheme (``sqlite:///path``, ``redis://...``)."""
    scheme = urlsplit(uri).scheme
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(uri, **options)  # type: ignore[arg-type]
    if scheme in ("redis", "rediss", "redis+cluster"):
        from .redis import RedisStore

        return RedisStore(uri, **options)  # type: ignore[arg-type]
    raise CrowdgateError(
        f"Store URI {uri!r} has an unknown scheme {scheme!r}; use one of "
        f"{', '.join(s + '://' for s in SCHEMES)}.",
        code="config-invalid",
        status=500,
    )


def open_configured_store(settings: Settings) -> Store:
    """Open the store ``settings`` name, with the backend options the settings carry."""
    options: dict[str, object] = {
        "blobs": settings.blob_store,
        "blob_cache_bytes": settings.blob_cache_mb << 20,
    }
    if settings.store_uri.startswith("sqlite:"):
        options["synchronous"] = settings.sqlite_synchronous
    else:
        # a SQLite store's default folder is beside its file; Redis has no file to be beside
        options["blobs_default"] = (settings.data_dir / "blobs").resolve().as_uri()
    return open_store(settings.store_uri, **options)
