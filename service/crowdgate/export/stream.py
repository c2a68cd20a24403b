"""A write-only sink that hands bytes on in chunks, so exports stream at flat memory."""

from __future__ import annotations

from collections.abc import Iterator

#: Bytes gathered before a chunk is handed on (bigger chunks mean fewer writes and syscalls).
CHUNK_BYTES = 256 * 1024


class ChunkSink:
    """A file-like object that only supports ``write``; :meth:`drain` yields what it holds.

    Writers must never seek back, which is what lets the output be an HTTP response.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._parts.append(bytes(data))
        self._size += len(data)
        return len(data)

    @property
    def size(self) -> int:
        """Return the number of bytes held."""
        return self._size

    def drain(self, at_least: int = 0) -> Iterator[bytes]:
        """Yield everything held as one chunk if it is ``at_least`` bytes, then forget it."""
        if self._size and self._size >= at_least:
            chunk = b"".join(self._parts)
            self._parts, self._size = [], 0
            yield chunk
