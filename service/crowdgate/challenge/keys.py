"""Sitekeys, secrets, API keys and tokens: random, and stored only as hashes where secret."""

from __future__ import annotations

import hashlib
import secrets
import uuid

#: Published test keys (hCaptcha's convention): challenges always pass, answers never count as
#: votes, and the fixed test response below always verifies with the test secret.
TEST_SITEKEY = "10000000-ffff-ffff-ffff-000000000001"
TEST_SECRET = "0x0000000000000000000000000000000000000000"
TEST_RESPONSE = "10000000-aaaa-bbbb-cccc-000000000001"

#: Bytes of randomness in a response token (256 bits; the spec asks for at least 128).
TOKEN_BYTES = 32


def new_sitekey() -> str:
    """Return a fresh public sitekey (a random UUID, the shape reCAPTCHA users expect)."""
    return str(uuid.uuid4())


def new_secret() -> str:
    """Return a fresh site secret: ``0x`` and 40 random hex digits, as hCaptcha secrets look."""
    return "0x" + secrets.token_hex(20)


def new_apikey() -> tuple[str, str]:
    """Return ``(key_id, bearer_key)``; the key embeds its id so logs can name it safely."""
    key_id = secrets.token_hex(4)
    return key_id, f"cgk_{key_id}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest stored in place of a high-entropy secret or key.

    Secrets are 160+ random bits, so a fast hash is safe and lets siteverify look them up
    directly; slow password hashes exist for low-entropy passwords.
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_ref(project_id: str) -> str:
    """Return a challenge id or token: ``<project>.<random>``, routable to its store shard."""
    return f"{project_id}.{secrets.token_urlsafe(TOKEN_BYTES)}"
