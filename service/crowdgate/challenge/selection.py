"""The seam through which a grid's unlabeled slots are chosen.

The committee replaces :class:`RandomSelector` with a query-by-committee selector; the
challenge service only depends on the :class:`Selector` protocol.
"""

from __future__ import annotations

from typing import Protocol

from ..models import Project
from ..store import Store


class Selector(Protocol):
    """Chooses the unlabeled items a grid asks about."""

    def pick(self, store: Store, project: Project, label: str, n: int) -> list[str]:
        """Return up to ``n`` distinct unlabeled item ids to show in a grid asking ``label``."""
        ...


class RandomSelector:
    """Uniformly random open items: the baseline every smarter selector is measured against."""

    def pick(self, store: Store, project: Project, label: str, n: int) -> list[str]:
        """Return up to ``n`` random unlabeled item ids (constant cost in the pool size)."""
        return store.sample_open(project.id, n)


#: How many of a queue's best items a grid's open slots are drawn from (randomness among them).
QUEUE_TOP_K = 40


class QueueSelector:
    """Query by committee at constant cost: draw from the top of the label's ranked queue.

    The trainer fills one queue per label after each retrain (the most disputed open items
    for which that label is among the committee's top candidates). Until the first model,
    or when a queue runs short, the rest of the grid is filled at random.
    """

    def pick(self, store: Store, project: Project, label: str, n: int) -> list[str]:
        """Return up to ``n`` open items, committee-chosen first, random for the remainder."""
        if n <= 0:
            return []
        chosen: list[str] = []
        if project.setting("selector") == "committee":
            chosen = store.pick_queue(
                project.id, label, n, QUEUE_TOP_K, int(project.setting("vote_cap"))
            )
        if len(chosen) < n:
            extra = [i for i in store.sample_open(project.id, n) if i not in chosen]
            chosen += extra[: n - len(chosen)]
        return chosen
