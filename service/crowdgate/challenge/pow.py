"""Stateless signed proof-of-work puzzles a visitor solves before a challenge is issued.

A puzzle is ``base64url(payload) + "." + base64url(tag)``, where ``tag`` is the first 16 bytes
of HMAC-SHA256 under the service's secret key and the payload packs a version, the required
bits, the expiry (Unix seconds), the first 16 bytes of SHA-256 of the sitekey and 16 random
bytes. A solution is a ``nonce`` of at most 32 characters from ``[0-9a-z]`` such that
SHA-256(``puzzle + ":" + nonce``) starts with at least ``bits`` zero bits, which takes about
``2**bits`` hashes to find and one to check. Nothing is stored when a puzzle is handed out;
single use is enforced by the caller when a solution is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
import struct
from dataclasses import dataclass

from ..errors import Forbidden

#: Largest difficulty a site may ask for (about 16.7 million hashes on average).
MAX_BITS = 24
#: Seconds a puzzle stays solvable after it is handed out.
POW_TTL_S = 120
#: The single-use kind under which spent puzzles are recorded in the store.
SPENT_KIND = "pow"

VERSION = 1
PAYLOAD = struct.Struct(">BBQ16s16s")
TAG_BYTES = 16
MAX_PUZZLE_LEN = 128
NONCE_RE = re.compile(r"^[0-9a-z]{1,32}$")


class PowRequired(Forbidden):
    """A challenge was refused for want of a valid proof of work; carries a fresh puzzle.

    The status is 403: the request is refused as sent, and the same request with a solution
    of the enclosed puzzle succeeds. 401 would promise an HTTP authentication scheme and 429
    a rate, neither of which applies.
    """

    code = "pow-required"

    def __init__(self, message: str, *, code: str, puzzle: str, bits: int, expires_in: int):
        super().__init__(message, code=code)
        self.pow = {"puzzle": puzzle, "bits": bits, "expires_in": expires_in}

    def to_dict(self) -> dict[str, object]:
        """Return the JSON body: code, message and the puzzle to solve."""
        return {**super().to_dict(), "pow": self.pow}


@dataclass(frozen=True)
class Puzzle:
    """The signed fields of a puzzle that passed its signature check."""

    bits: int
    expires_at: int
    site_hash: bytes


class PowRejected(Exception):
    """A solution was refused; ``code`` is ``pow-invalid`` or ``pow-expired``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _site_hash(sitekey: str) -> bytes:
    return hashlib.sha256(sitekey.encode("utf-8")).digest()[:16]


def _tag(secret_key: str, payload: bytes) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), payload, hashlib.sha256).digest()[:TAG_BYTES]


def make_puzzle(
    secret_key: str, sitekey: str, bits: int, now: float, ttl_s: float = POW_TTL_S
) -> str:
    """Return a new signed puzzle for ``sitekey`` needing ``bits`` zero bits, valid ``ttl_s`` s."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be from 1 to {MAX_BITS}, not {bits}.")
    expires_at = math.ceil(now + ttl_s)
    payload = PAYLOAD.pack(VERSION, bits, expires_at, _site_hash(sitekey), os.urandom(16))
    return _b64(payload) + "." + _b64(_tag(secret_key, payload))


def leading_zero_bits(digest: bytes) -> int:
    """Return how many leading bits of ``digest`` are zero."""
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def verify_solution(
    secret_key: str, puzzle: object, nonce: object, sitekey: str, min_bits: int, now: float
) -> Puzzle:
    """Check a solution against ``sitekey`` and ``min_bits`` at time ``now`` (not single use).

    Raises
    ------
    PowRejected
        ``pow-invalid`` for a malformed, forged, foreign, too easy or wrong solution;
        ``pow-expired`` for a genuine puzzle past its expiry.
    """
    if not isinstance(puzzle, str) or not isinstance(nonce, str):
        raise PowRejected("pow-invalid", "'pow' must hold the 'puzzle' and 'nonce' strings.")
    if len(puzzle) > MAX_PUZZLE_LEN or not NONCE_RE.match(nonce):
        raise PowRejected(
            "pow-invalid", "The proof of work is malformed; solve the enclosed puzzle."
        )
    head, dot, tag = puzzle.partition(".")
    try:
        payload, given = _unb64(head), _unb64(tag)
    except (binascii.Error, ValueError):
        payload, given = b"", b""
    if not dot or not hmac.compare_digest(given, _tag(secret_key, payload)):
        raise PowRejected("pow-invalid", "The puzzle was not issued by this server.")
    # base64 decoding skips stray characters; one puzzle must have one spelling to be spent once
    if puzzle != _b64(payload) + "." + _b64(given):
        raise PowRejected("pow-invalid", "The puzzle was altered.")
    if len(payload) != PAYLOAD.size:
        raise PowRejected("pow-invalid", "The puzzle has an unknown format.")
    version, bits, expires_at, site_hash, _ = PAYLOAD.unpack(payload)
    if version != VERSION:
        raise PowRejected("pow-invalid", "The puzzle has an unknown format.")
    if expires_at <= now:
        raise PowRejected("pow-expired", "The puzzle expired before it was solved.")
    if not hmac.compare_digest(site_hash, _site_hash(sitekey)):
        raise PowRejected("pow-invalid", "The puzzle was issued for another sitekey.")
    if bits < min_bits:
        raise PowRejected("pow-invalid", "The puzzle is easier than this site now requires.")
    digest = hashlib.sha256(f"{puzzle}:{nonce}".encode("ascii")).digest()
    if leading_zero_bits(digest) < bits:
        raise PowRejected("pow-invalid", "The nonce does not solve the puzzle.")
    return Puzzle(bits=bits, expires_at=expires_at, site_hash=site_hash)


def solve(puzzle: str, bits: int, limit: int = 1 << 28) -> str:
    """Return the first base-36 nonce that solves ``puzzle`` (for tests and scripted clients)."""
    for i in range(limit):
        nonce = _base36(i)
        if leading_zero_bits(hashlib.sha256(f"{puzzle}:{nonce}".encode()).digest()) >= bits:
            return nonce
    raise ValueError(f"No nonce below {limit} solves the puzzle.")


def spent_digest(puzzle: str) -> str:
    """Return the SHA-256 hex digest under which a spent puzzle is recorded."""
    return hashlib.sha256(puzzle.encode("ascii")).hexdigest()


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
