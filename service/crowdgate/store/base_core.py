"""The store contract's lifecycle, projects, locks and counters (what every other part uses)."""

from __future__ import annotations

import abc

from ..models import Project


class StoreCore(abc.ABC):
    """Lifecycle, projects, named locks and per-project counters of a :class:`Store`."""

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

    # -- locks and counters ------------------------------------------------------------------
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
