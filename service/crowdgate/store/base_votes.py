"""The store contract for challenges, response tokens and votes."""

from __future__ import annotations

import abc
from collections.abc import Callable

from ..models import Challenge, Evidence, TokenRecord, Vote
from .base_core import StoreCore
from .records import Redemption

#: queue scores ``{label: {item: score}}`` from a passed answer's evidence (see record_pass)
Ranker = Callable[[list[Evidence]], dict[str, dict[str, float]]]


class VoteStore(StoreCore):
    """Issued challenges, response tokens and single-use proofs, and recorded votes."""

    # -- challenges, tokens, votes ---------------------------------------------------------
    @abc.abstractmethod
    def put_challenge(self, challenge: Challenge) -> None:
        """Store an issued challenge until ``expires_at``; count it unless it is a test one."""

    @abc.abstractmethod
    def get_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        """Return an unexpired, unanswered challenge without consuming it."""

    @abc.abstractmethod
    def take_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        """Atomically remove and return an unexpired challenge; ``None`` if gone or expired."""

    @abc.abstractmethod
    def record_pass(
        self,
        project_id: str,
        votes: list[Vote],
        token: TokenRecord,
        vote_cap: int,
        network_cap: int | None = None,
        rank: Ranker | None = None,
    ) -> list[Evidence]:
        """Atomically store a passed challenge's votes and token, and count the pass.

        A vote whose (item, voter) pair already voted is dropped, and so is a vote on an item
        that is no longer unlabeled or already has ``vote_cap`` votes, or ``network_cap`` votes
        from the vote's client network (default: no cap per network). Each kept vote adds its
        ``weight`` to the item's live log-odds of the asked label and its network to the item's
        networks. Returns the evidence of each item that got a vote, in vote order.

        ``rank``, when some item got a vote, is called with that evidence and the queue scores
        it returns are set as :meth:`rank_queue` sets them, in the same write where the store
        allows it (one SQLite transaction), else right after it.
        """

    @abc.abstractmethod
    def redeem(
        self, token: str, now: float, sitekey: str | None = None, secret_hash: str | None = None
    ) -> Redemption:
        """Atomically consume a token of one site, leaving a tombstone; say what was found.

        The site is named by ``sitekey``, by ``secret_hash`` (the hash of its current secret,
        so siteverify needs no separate site lookup), or by both, which must then agree. The
        first caller of a live token gets ``REDEEMED`` with its record; a token that was
        consumed, or expired, is ``SPENT`` or ``EXPIRED`` until :func:`token_keep_until`; a
        token never issued, forgotten since, or of another site (neither returned nor
        consumed) is ``UNKNOWN``. The tombstone holds only the token's digest.
        """

    def redeem_token(
        self, token: str, now: float, sitekey: str | None = None, secret_hash: str | None = None
    ) -> TokenRecord | None:
        """Consume a token as :meth:`redeem` does; return its record, or ``None``."""
        return self.redeem(token, now, sitekey, secret_hash).record

    @abc.abstractmethod
    def peek_token(self, token: str, now: float) -> TokenRecord | None:
        """Return a live token's record without consuming it (for a site's own pages)."""

    @abc.abstractmethod
    def spend_once(self, kind: str, digest: str, now: float, ttl_s: float) -> bool:
        """Atomically mark ``digest`` of ``kind`` spent for ``ttl_s`` seconds from ``now``.

        Returns True only for the first caller; later calls within ``ttl_s`` return False.
        Used for single-use proofs (a solved puzzle), so ``digest`` is a hash, never a secret.
        """

    @abc.abstractmethod
    def list_votes(self, project_id: str, item_id: str | None = None) -> list[Vote]:
        """Return the votes of a project (or of one item) in the order they were recorded."""

    @abc.abstractmethod
    def get_evidence(self, project_id: str, item_id: str) -> Evidence:
        """Return an item's live evidence (empty if it has no votes)."""
