"""The store contract for the committee: label queues, machine labels, models."""

from __future__ import annotations

import abc

from .base_core import StoreCore


class CommitteeStore(StoreCore):
    """Per-label queues of open items, machine labels and trained model records."""

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
