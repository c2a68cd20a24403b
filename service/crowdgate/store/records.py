"""Records and constants the store contract passes around (no store behaviour here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..models import Item, TokenRecord

#: Blob kinds kept per item: the normalized image, the grid thumbnail, gold variants ``v0``...
IMAGE, THUMB = "image", "thumb"


def variant_kind(index: int) -> str:
    """Return the blob kind of the ``index``-th perturbed gold variant."""
    return f"v{index}"


@dataclass
class GridDraw:
    """Everything one grid is made of, as read by :meth:`Store.draw_grid`."""

    #: still-open items from the top of the asked label's queue
    queue: list[str]
    #: random unlabeled items
    open: list[str]
    #: random gold item ids per label
    gold: dict[str, list[str]]
    #: random ids of gold whose secret decoy is the label, per label
    decoy: dict[str, list[str]] = field(default_factory=dict)


#: One new item as :meth:`Store.put_items` takes it: the item, its blobs by kind, its features.
ItemEntry = tuple[Item, dict[str, bytes], "np.ndarray | None"]


@dataclass
class ItemPage:
    """One page of items in insertion order, as read by :meth:`Store.page_items`."""

    items: list[Item]
    #: the cursor to pass as ``after`` for the next page, or ``None`` when this page was the last
    next: int | None
    #: each item's own cursor (pass one as ``after`` to resume just past that item)
    keys: list[int]


#: What :meth:`Store.redeem` found: a live token (now spent), a token already spent, a token
#: that expired unredeemed, or no token of that site at all.
REDEEMED, SPENT, EXPIRED, UNKNOWN = "redeemed", "spent", "expired", "unknown"


@dataclass(frozen=True)
class Redemption:
    """The outcome of one redemption, and the token's record when it was ``REDEEMED``."""

    outcome: str
    record: TokenRecord | None = None


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a response token is stored (never the token)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_keep_until(record: TokenRecord) -> float:
    """Return when a token's digest is forgotten: one more lifetime after it expires.

    Until then a replayed or late token is told apart from one never issued (siteverify's
    ``timeout-or-duplicate`` against ``invalid-input-response``); the Redis redeem script
    mirrors this rule.
    """
    return record.expires_at + max(0.0, record.expires_at - record.challenge_ts)
