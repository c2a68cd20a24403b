"""The store contract every backend implements (SQLite embedded, Redis production).

The contract is split by concern: :mod:`.base_core` (lifecycle, projects, locks, counters),
:mod:`.base_items`, :mod:`.base_admin` (sites, keys), :mod:`.base_votes` (challenges, tokens,
votes) and :mod:`.base_committee` (queues, machine labels, models); the records they pass are in
:mod:`.records`. This module composes them into :class:`Store` and re-exports the public names,
so ``from crowdgate.store.base import ...`` keeps working.
"""

from __future__ import annotations

from .base_admin import AdminStore
from .base_committee import CommitteeStore
from .base_core import StoreCore
from .base_items import ItemStore
from .base_votes import VoteStore
from .records import (
    EXPIRED,
    IMAGE,
    REDEEMED,
    SPENT,
    THUMB,
    UNKNOWN,
    GridDraw,
    ItemEntry,
    ItemPage,
    Redemption,
    token_digest,
    token_keep_until,
    variant_kind,
)

__all__ = [
    "EXPIRED",
    "IMAGE",
    "REDEEMED",
    "SPENT",
    "THUMB",
    "UNKNOWN",
    "AdminStore",
    "CommitteeStore",
    "GridDraw",
    "ItemEntry",
    "ItemPage",
    "ItemStore",
    "Redemption",
    "Store",
    "StoreCore",
    "VoteStore",
    "token_digest",
    "token_keep_until",
    "variant_kind",
]


class Store(ItemStore, VoteStore, CommitteeStore, AdminStore, StoreCore):
    """Persistence for projects, items, sites, keys, challenges, tokens and votes.

    Every method that can race (item insert, challenge take, token redeem, vote record) is one
    atomic operation in the backend, never a read followed by a write. Driver failures surface
    as :class:`crowdgate.errors.StoreError`.
    """

    def draw_grid(
        self,
        project_id: str,
        label: str,
        n_open: int,
        gold: dict[str, int],
        top_k: int = 0,
        vote_cap: int = 0,
        decoys: dict[str, int] | None = None,
    ) -> GridDraw:
        """Read what a grid asking ``label`` is made of, in one round trip where possible.

        Returns up to ``top_k`` items from the top of ``label``'s queue that are still open
        (none when ``top_k`` is 0), up to ``n_open`` random unlabeled items (a backend may skip
        them when the queue alone has ``n_open``), up to ``gold[lab]`` random gold ids of
        each label and up to ``decoys[lab]`` random gold ids whose decoy is ``lab``. Queue
        items at ``vote_cap`` votes may be returned; :meth:`record_pass` drops their votes
        and the item from that queue. Cost is independent of pool size.
        """
        queue = self.pick_queue(project_id, label, top_k, top_k, vote_cap) if top_k > 0 else []
        want_open = n_open if len(queue) < n_open else 0
        return GridDraw(
            queue=queue,
            open=self.sample_open(project_id, want_open) if want_open > 0 else [],
            gold=self.sample_gold(project_id, gold),
            decoy=self.sample_decoys(project_id, decoys or {}),
        )
