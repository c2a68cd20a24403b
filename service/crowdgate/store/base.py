"""The store contract every backend implements (SQLite embedded, Redis production)."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from ..models import (
    GOLD,
    ITEM_STATES,
    ApiKey,
    Challenge,
    Evidence,
    Item,
    Project,
    Site,
    TokenRecord,
    Vote,
)
from . import decoys as _decoys

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


class Store(abc.ABC):
    """Persistence for projects, items, sites, keys, challenges, tokens and votes.

    Every method that can race (item insert, challenge take, token redeem, vote record) is one
    atomic operation in the backend, never a read followed by a write. Driver failures surface
    as :class:`crowdgate.errors.StoreError`.
    """

    scheme: str = ""

    # -- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def check(self) -> None:
        """Raise :class:`StoreError` unless the backend answers."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections held by this process."""

    # -- projects --------------------------------------------------------------------------
    @abc.abstractmethod
    def create_project(self, project: Project) -> None:
        """Insert ``project``; raise :class:`Conflict` if its id exists."""

    @abc.abstractmethod
    def save_project(self, project: Project) -> None:
        """Overwrite an existing project's name, labels, prompt and settings."""

    @abc.abstractmethod
    def get_project(self, project_id: str) -> Project | None:
        """Return the project or ``None``."""

    @abc.abstractmethod
    def list_projects(self) -> list[Project]:
        """Return all projects ordered by id."""

    # -- items -----------------------------------------------------------------------------
    @abc.abstractmethod
    def put_item(self, item: Item, blobs: dict[str, bytes], features: np.ndarray | None) -> bool:
        """Insert an item with its blobs and feature vector in one step.

        Returns ``False`` (and writes nothing) when an item with the same id already exists in
        the project, which is how duplicates are merged.
        """

    @abc.abstractmethod
    def get_item(self, project_id: str, item_id: str) -> Item | None:
        """Return one item or ``None``."""

    @abc.abstractmethod
    def get_blob(self, project_id: str, item_id: str, kind: str) -> bytes | None:
        """Return one stored blob (``image``, ``thumb``, ``v0``...) or ``None``."""

    def get_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        """Return the blobs of ``(item_id, kind)`` pairs in order (``None`` where missing).

        Backends fetch them in one round trip: a grid's tiles are read on every challenge.
        """
        return [self.get_blob(project_id, item, kind) for item, kind in wanted]

    @abc.abstractmethod
    def list_items(
        self, project_id: str, *, state: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[Item]:
        """Return items in insertion order, optionally only those in ``state``."""

    @abc.abstractmethod
    def page_items(
        self, project_id: str, *, state: str | None = None, after: int = 0, limit: int = 100
    ) -> ItemPage:
        """Return up to ``limit`` items inserted after the cursor ``after`` (0: from the start).

        Pages by key, so a page deep into a million items costs what the first one does.
        """

    def put_items(self, entries: Iterable[ItemEntry], *, batch: int = 500) -> int:
        """Add new items (as :meth:`put_item`), ``batch`` per write; return how many were new."""
        added, rows = 0, iter(entries)
        while chunk := list(islice(rows, batch)):
            added += sum(self.put_batch(chunk))
        return added

    def put_batch(self, entries: list[ItemEntry]) -> list[bool]:
        """Add new items as :meth:`put_item` does, in one write where the backend can (their
        packs written together first); return for each entry whether it was new."""
        return [self.put_item(item, blobs, features) for item, blobs, features in entries]

    @abc.abstractmethod
    def iter_items(self, project_id: str, *, batch: int = 1000) -> Iterator[Item]:
        """Yield every item of a project in insertion order, ``batch`` at a time."""

    def count_items(self, project_id: str) -> dict[str, int]:
        """Return item counts by state (every state present, zero if none)."""
        stats = self.get_stats(project_id)
        return {s: stats.get(f"state:{s}", 0) for s in ITEM_STATES}

    def gold_labels(self, project_id: str) -> dict[str, int]:
        """Return the number of gold items per known label (kept as counters, not counted)."""
        stats = self.get_stats(project_id)
        return {k[5:]: v for k, v in stats.items() if k.startswith("gold:") and v > 0}

    @abc.abstractmethod
    def sample_gold(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        """Return, per label, up to ``wants[label]`` distinct random gold item ids of it.

        One round trip for all labels: this is on the challenge hot path.
        """

    @abc.abstractmethod
    def sample_decoys(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        """Return, per label, up to ``wants[label]`` distinct random gold ids with that decoy."""

    def gold_sets(self, project_id: str) -> dict[str, tuple[int, int]]:
        """Return per label (its gold items, gold items with it as their decoy)."""
        return _decoys.gold_sets(self.get_stats(project_id))

    def _give_decoy(self, item: Item) -> None:
        """Give a gold ``item`` that lacks one its secret decoy label (at import, promotion)."""
        if item.state != GOLD or not item.known_label:
            return  # not gold: no project read on the settle path
        project = self.get_project(item.project)
        labels = project.labels if project else []
        if _decoys.needs_decoy(item, labels):
            stats = self.get_stats(item.project)
            item.decoy = _decoys.choose_decoy(item.known_label, labels, stats)

    def _decoy_context(self, project_id: str) -> tuple[list[str], dict[str, int]]:
        """Return a project's labels (none if it is unknown) and counters, to choose decoys."""
        project = self.get_project(project_id)
        return (list(project.labels) if project else []), self.get_stats(project_id)

    @abc.abstractmethod
    def sample_open(self, project_id: str, n: int) -> list[str]:
        """Return up to ``n`` random unlabeled item ids, at a cost independent of pool size.

        In a project whose tiles are made when first needed (:meth:`tiles_deferred`), only
        items whose tiles are made are drawn: an item shown as its plain thumbnail, where
        gold is shown perturbed, would tell a bot which tiles are not gold.
        """

    def tiles_deferred(self, project_id: str) -> bool:
        """Return whether the project makes an open item's grid tiles when it is first
        queued rather than at import: set by the first import into an empty project since
        (``counters.TILES_KEY``, via :meth:`incr_stats`); earlier projects make them all."""
        return False

    def untiled(self, project_id: str, item_ids: list[str]) -> list[str]:
        """Return the given items whose grid tiles (``v0``...) are not made yet."""
        return []

    def add_tiles(self, project_id: str, item_id: str, tiles: dict[str, bytes]) -> bool:
        """Give an item without tiles its ``v0``... blobs (an open one then may be drawn at
        random); return False if it is gone or has them already."""
        return False

    def add_tiles_batch(self, project_id: str, tiles: dict[str, dict[str, bytes]]) -> int:
        """:meth:`add_tiles` for several items at once; return how many got their tiles."""
        return sum(self.add_tiles(project_id, i, t) for i, t in tiles.items())

    @abc.abstractmethod
    def get_features(self, project_id: str, item_ids: list[str]) -> dict[str, np.ndarray]:
        """Return stored float32 feature vectors of the given items (missing ones omitted)."""

    @abc.abstractmethod
    def update_item(self, project_id: str, item_id: str, **fields: object) -> None:
        """Set fields of an item (state, label, confidence, committee label, ...)."""

    # -- sites and keys --------------------------------------------------------------------
    @abc.abstractmethod
    def create_site(self, site: Site) -> None:
        """Insert a site; raise :class:`Conflict` if its sitekey exists."""

    @abc.abstractmethod
    def get_site(self, sitekey: str) -> Site | None:
        """Return a site by its public sitekey."""

    @abc.abstractmethod
    def get_site_by_secret(self, secret_hash: str) -> Site | None:
        """Return the site whose secret hashes to ``secret_hash``."""

    @abc.abstractmethod
    def list_sites(self) -> list[Site]:
        """Return all sites ordered by creation."""

    @abc.abstractmethod
    def save_site(self, site: Site) -> None:
        """Overwrite an existing site's name, hostnames, compat mode and pow bits (not its
        secret, which only :meth:`set_site_secret` changes); a missing site is left missing."""

    @abc.abstractmethod
    def set_site_secret(self, sitekey: str, secret_hash: str) -> None:
        """Replace a site's secret hash (the old secret stops working at once)."""

    @abc.abstractmethod
    def create_apikey(self, key: ApiKey) -> None:
        """Insert an admin API key record."""

    @abc.abstractmethod
    def get_apikey_by_hash(self, key_hash: str) -> ApiKey | None:
        """Return the key record for a hashed bearer token, revoked or not."""

    @abc.abstractmethod
    def list_apikeys(self) -> list[ApiKey]:
        """Return all key records ordered by creation."""

    @abc.abstractmethod
    def revoke_apikey(self, key_id: str) -> bool:
        """Revoke a key by id; return ``False`` if there is no such key."""

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
    ) -> list[Evidence]:
        """Atomically store a passed challenge's votes and token, and count the pass.

        A vote whose (item, voter) pair already voted is dropped, and so is a vote on an item
        that is no longer unlabeled or already has ``vote_cap`` votes, or ``network_cap`` votes
        from the vote's client network (default: no cap per network). Each kept vote adds its
        ``weight`` to the item's live log-odds of the asked label and its network to the item's
        networks. Returns the evidence of each item that got a vote, in vote order.
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

    # -- committee ---------------------------------------------------------------------------
    @abc.abstractmethod
    def set_queue(self, project_id: str, label: str, ranked: list[tuple[str, float]]) -> None:
        """Replace the queue of open items to ask about ``label``, highest score first."""

    @abc.abstractmethod
    def rank_queue(self, project_id: str, scores: dict[str, dict[str, float]]) -> None:
        """Set ``{label: {item: score}}`` in the labels' queues, adding missing items.

        The live consensus moves items the crowd has started on a label to the top of that
        label's queue, and items it no longer asks about to the bottom, between retrains.
        """

    @abc.abstractmethod
    def pick_queue(
        self,
        project_id: str,
        label: str,
        n: int,
        top_k: int,
        vote_cap: int,
    ) -> list[str]:
        """Return up to ``n`` random items among the ``top_k`` best of a label's queue.

        Items that are no longer open or have ``vote_cap`` votes are skipped (and may be
        dropped from the queue). Cost depends on ``top_k``, never on the pool size.
        """

    @abc.abstractmethod
    def set_committee_labels(
        self, project_id: str, version: int, rows: list[tuple[str, str, float]]
    ) -> None:
        """Set each ``(item, label, confidence)`` machine label from model ``version``."""

    @abc.abstractmethod
    def put_model(self, project_id: str, record: dict) -> int:
        """Record a trained model version (its metrics); return its version number (1, 2...)."""

    @abc.abstractmethod
    def list_models(self, project_id: str) -> list[dict]:
        """Return every model record of a project, oldest first, each with ``version``."""

    @abc.abstractmethod
    def acquire_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew a named lock for ``ttl_s`` seconds; False if another owner holds it."""

    @abc.abstractmethod
    def release_lock(self, name: str, owner: str) -> None:
        """Release a lock if ``owner`` holds it."""

    @abc.abstractmethod
    def incr_stats(self, project_id: str, **counts: int) -> None:
        """Add to named per-project counters (challenges issued, passed, failed...)."""

    @abc.abstractmethod
    def get_stats(self, project_id: str) -> dict[str, int]:
        """Return the per-project counters."""


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
