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
