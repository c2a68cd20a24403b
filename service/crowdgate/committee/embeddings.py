"""Load user-supplied embeddings ("bring your own vectors"), keyed by image file name.

Accepted formats, chosen by file suffix:

``.npz``
    Two arrays: ``names`` (shape ``(n,)``, strings) and ``vectors`` (shape ``(n, d)``, numeric),
    as written by ``np.savez(path, names=np.array(names), vectors=vectors)``. Object arrays are
    refused (no pickle is ever loaded).
``.csv``
    A header row, then either the wide form ``file,v0,v1,...,v{d-1}`` (one number per column)
    or the packed form ``file,vector`` whose cell is a JSON list (``"[0.1, 0.2]"``) or numbers
    separated by spaces.
``.jsonl``
    One JSON object per line, ``{"file": "cat1.jpg", "vector": [0.1, 0.2, ...]}``; blank lines
    are skipped.

Every vector is returned as float32. A file is refused whole, with an :class:`EmbeddingsError`
naming the first bad row, when it is empty, names a file twice, mixes dimensions, holds NaN or
infinity, or does not match the dimension the project expects.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import CrowdgateError

__all__ = ["EMBEDDING_SUFFIXES", "EmbeddingsError", "check_embeddings", "load_embeddings"]

#: File suffixes :func:`load_embeddings` understands.
EMBEDDING_SUFFIXES = (".npz", ".csv", ".jsonl")


class EmbeddingsError(CrowdgateError):
    """An embeddings file is unreadable or inconsistent; ``code`` says which check failed."""

    code = "invalid-embeddings"


def _fail(code: str, message: str) -> EmbeddingsError:
    return EmbeddingsError(message, code=code)


def _read_npz(path: Path) -> list[tuple[str, object]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "names" not in archive or "vectors" not in archive:
                raise _fail(
                    "embeddings-format",
                    f"{path.name} must hold two arrays named 'names' and 'vectors'; found "
                    f"{sorted(archive.files)}. Save it with np.savez(path, names=..., "
                    "vectors=...).",
                )
            names, vectors = archive["names"], archive["vectors"]
    except (OSError, ValueError) as exc:
        raise _fail(
            "embeddings-format",
            f"{path.name} is not a readable .npz archive of plain arrays ({exc}); save it with "
            "np.savez and string names, not Python objects.",
        ) from exc
    if names.ndim != 1 or vectors.ndim != 2 or len(names) != len(vectors):
        raise _fail(
            "embeddings-format",
            f"{path.name} has names of shape {names.shape} and vectors of shape {vectors.shape}; "
            "names must be (n,) and vectors (n, d) with the same n.",
        )
    return [(str(name), row) for name, row in zip(names, vectors, strict=True)]


def _parse_packed(cell: str, where: str) -> object:
    text = cell.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(
                "embeddings-format", f"{where}: the vector cell is not a JSON list ({exc})."
            ) from exc
    return text.split()


def _read_csv(path: Path) -> list[tuple[str, object]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = [cell.strip() for cell in rows[0]] if rows else []
    if len(header) < 2 or header[0] != "file":
        raise _fail(
            "embeddings-format",
            f"{path.name} must start with a header 'file,v0,v1,...' or 'file,vector'; "
            f"found {header!r}.",
        )
    packed = header == ["file", "vector"]
    records = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path.name} line {line_no}"
        if packed and len(row) != 2:
            raise _fail("embeddings-format", f"{where} has {len(row)} cells; expected 2.")
        records.append((row[0], _parse_packed(row[1], where) if packed else row[1:]))
    return records


def _read_jsonl(path: Path) -> list[tuple[str, object]]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail("embeddings-format", f"{where} is not valid JSON ({exc}).") from exc
            if not isinstance(record, dict) or "file" not in record or "vector" not in record:
                raise _fail(
                    "embeddings-format",
                    f'{where} must be an object like {{"file": "a.jpg", "vector": [0.1, 0.2]}}.',
                )
            records.append((record["file"], record["vector"]))
    return records


def _to_vector(value: object, where: str) -> np.ndarray:
    try:
        # Values beyond float32's range become infinity here and are refused as non-finite.
        with np.errstate(over="ignore"):
            vector = np.asarray(value, dtype=np.float64).astype(np.float32)
    except (TypeError, ValueError) as exc:
        raise _fail("embeddings-format", f"{where}: the vector is not a list of numbers.") from exc
    if vector.ndim != 1 or vector.size == 0:
        raise _fail("embeddings-format", f"{where}: the vector must be a non-empty flat list.")
    return vector


def check_embeddings(
    embeddings: dict[str, np.ndarray], expected_dim: int | None = None, *, source: str = "input"
) -> int:
    """Check that all vectors share one finite dimension (and ``expected_dim``); return it.

    Raises
    ------
    EmbeddingsError
        With code ``embeddings-empty``, ``embeddings-dimension`` or ``embeddings-non-finite``.
    """
    if not embeddings:
        raise _fail("embeddings-empty", f"{source} holds no embeddings; add at least one row.")
    first = next(iter(embeddings.values()))
    dim = expected_dim if expected_dim is not None else first.shape[0]
    for name, vector in embeddings.items():
        if vector.shape != (dim,):
            reason = (
                f"the project expects {expected_dim}"
                if expected_dim is not None
                else f"earlier rows have {dim}"
            )
            raise _fail(
                "embeddings-dimension",
                f"{source}: the vector for {name!r} has {vector.shape[0]} dimensions but {reason}; "
                "export every vector from the same model.",
            )
        if not np.isfinite(vector).all():
            raise _fail(
                "embeddings-non-finite",
                f"{source}: the vector for {name!r} contains NaN or infinity; re-export it.",
            )
    return int(dim)


def load_embeddings(path: str | Path, expected_dim: int | None = None) -> dict[str, np.ndarray]:
    """Read an embeddings file into ``{file name: float32 vector of shape (d,)}``.

    Parameters
    ----------
    path : str or Path
        A ``.npz``, ``.csv`` or ``.jsonl`` file laid out as the module docstring describes.
    expected_dim : int, optional
        The dimension the project already uses; a file of another dimension is refused.

    Raises
    ------
    EmbeddingsError
        ``embeddings-format`` (unknown suffix or layout), ``embeddings-duplicate``,
        ``embeddings-empty``, ``embeddings-dimension`` or ``embeddings-non-finite``.
    """
    path = Path(path)
    readers = {".npz": _read_npz, ".csv": _read_csv, ".jsonl": _read_jsonl}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise _fail(
            "embeddings-format",
            f"{path.name} has an unsupported suffix; use one of {', '.join(EMBEDDING_SUFFIXES)}.",
        )
    embeddings: dict[str, np.ndarray] = {}
    for index, (name, value) in enumerate(reader(path)):
        where = f"{path.name} row {index + 1} ({name!r})"
        if not isinstance(name, str) or not name.strip():
            raise _fail("embeddings-format", f"{where}: the file name is empty.")
        if name in embeddings:
            raise _fail(
                "embeddings-duplicate",
                f"{where}: {name!r} appears twice; keep one vector per file.",
            )
        embeddings[name] = _to_vector(value, where)
    check_embeddings(embeddings, expected_dim, source=path.name)
    return embeddings
