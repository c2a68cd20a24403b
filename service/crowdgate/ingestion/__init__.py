"""Safe image ingestion: hostile-file defences, normalization, sources and the importer.

Public names: :func:`normalize_image`, :class:`NormalizedImage`, :func:`make_variants`,
:func:`iter_source` (and :func:`iter_folder`, :func:`iter_zip`, :func:`iter_manifest`,
:func:`count_source`), :class:`Entry`, :class:`Rejection`, :class:`ZipLimits`,
:func:`import_path` and :class:`ImportReport`. Nothing here imports Flask.
"""

from .images import ALLOWED_FORMATS, OUTPUT_MIME, NormalizedImage, make_variants, normalize_image
from .importer import ImportReport, import_path
from .sources import (
    Entry,
    Rejection,
    ZipLimits,
    count_source,
    iter_folder,
    iter_manifest,
    iter_source,
    iter_zip,
)

__all__ = [
    "ALLOWED_FORMATS",
    "OUTPUT_MIME",
    "Entry",
    "ImportReport",
    "NormalizedImage",
    "Rejection",
    "ZipLimits",
    "count_source",
    "import_path",
    "iter_folder",
    "iter_manifest",
    "iter_source",
    "iter_zip",
    "make_variants",
    "normalize_image",
]
