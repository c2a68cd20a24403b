"""A zip writer for streams whose memory does not grow with the number of members.

:class:`zipfile.ZipFile` keeps a ``ZipInfo`` per member until it writes the central directory
(about half a kilobyte each: 50 MB for 100,000 images). This writer spools the central
directory records to a temporary file instead, and writes Zip64 records when the member count
or an offset outgrows the classic format (APPNOTE.TXT 4.3.14 to 4.3.16).
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO, Protocol

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")
ZIP64_END = struct.Struct("<4sQ2H2L4Q")
ZIP64_LOCATOR = struct.Struct("<4sLQL")
END = struct.Struct("<4s4H2LH")
#: MS-DOS date of 1980-01-01 00:00: fixed, so the same data always gives the same bytes.
DOS_DATE, DOS_TIME = (0 << 9) | (1 << 5) | 1, 0
UTF8_NAMES = 0x800
STORED, DEFLATED = 0, 8
U16, U32 = 0xFFFF, 0xFFFFFFFF
VERSION = 45  # 4.5: Zip64
UNIX_FILE = 0o100644 << 16
COPY_BYTES = 256 * 1024


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class StreamingZip:
    """Write members to ``out`` one after another; :meth:`close` finishes the archive.

    :meth:`add_file` and :meth:`close` are generators that pause after each block written, so
    the caller can hand the output on before more piles up; exhaust them.
    """

    def __init__(self, out: Writable, central: IO[bytes]):
        self._out = out
        self._offset = 0
        self._count = 0
        self._central = central

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)

    def _header(self, name: bytes, method: int, crc: int, csize: int, usize: int) -> None:
        offset = self._offset
        self._write(
            LOCAL.pack(
                b"PK\x03\x04",
                VERSION,
                UTF8_NAMES,
                method,
                DOS_TIME,
                DOS_DATE,
                crc,
                csize,
                usize,
                len(name),
                0,
            )
            + name
        )
        # Members are small (a file is capped far below 4 GiB); only offsets need Zip64.
        extra = struct.pack("<2HQ", 1, 8, offset) if offset >= U32 else b""
        self._central.write(
            CENTRAL.pack(
                b"PK\x01\x02",
                (3 << 8) | VERSION,
                VERSION,
                UTF8_NAMES,
                method,
                DOS_TIME,
                DOS_DATE,
                crc,
                csize,
                usize,
                len(name),
                len(extra),
                0,
                0,
                0,
                UNIX_FILE,
                min(offset, U32),
            )
            + name
            + extra
        )
        self._count += 1

    def add(self, name: str, data: bytes, *, compress: bool = False) -> None:
        """Add one member from bytes (deflated if ``compress``)."""
        body = data
        if compress:
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = packer.compress(data) + packer.flush()
        raw = name.encode()
        self._header(raw, DEFLATED if compress else STORED, zlib.crc32(data), len(body), len(data))
        self._write(body)

    def add_file(self, name: str, source: IO[bytes]) -> Iterator[None]:
        """Add one deflated member read from ``source`` (a file at its start), in blocks."""
        crc, usize = 0, 0
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        with tempfile.TemporaryFile(prefix="crowdgate-zipbody-") as body:
            while block := source.read(COPY_BYTES):
                crc, usize = zlib.crc32(block, crc), usize + len(block)
                body.write(packer.compress(block))
            body.write(packer.flush())
            csize = body.tell()
            body.seek(0)
            self._header(name.encode(), DEFLATED, crc, csize, usize)
            while block := body.read(COPY_BYTES):
                self._write(block)
                yield

    def close(self) -> Iterator[None]:
        """Write the central directory, spooled so far in ``central``, and the end records."""
        start = self._offset
        self._central.seek(0)
        while block := self._central.read(COPY_BYTES):
            self._write(block)
            yield
        size = self._offset - start
        if self._count >= U16 or start >= U32 or size >= U32:
            end64 = self._offset
            self._write(
                ZIP64_END.pack(
                    b"PK\x06\x06",
                    ZIP64_END.size - 12,
                    VERSION,
                    VERSION,
                    0,
                    0,
                    self._count,
                    self._count,
                    size,
                    start,
                )
            )
            self._write(ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, end64, 1))
        count = min(self._count, U16)
        self._write(END.pack(b"PK\x05\x06", 0, 0, count, count, min(size, U32), min(start, U32), 0))
