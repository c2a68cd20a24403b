"""Checkpoints that let an interrupted import pick up where it stopped.

Sources yield files in a deterministic order and the importer writes items in that order, so
"the first N files are in the store" is the whole state. A checkpoint names the project and
the source, N, and the name of file N (so a source that changed since is not skipped into
blindly). It is written atomically every few seconds and removed when the import completes.
A crash between a write and the next checkpoint only redoes those files, which the store then
reports as duplicates of themselves: items are keyed by the hash of their pixels, so nothing is
ever merged twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Checkpoint", "checkpoint_path"]

#: Seconds between checkpoint writes (a crash redoes at most this much work).
EVERY_S = 2.0


def checkpoint_path(folder: Path, project_id: str, source: str | os.PathLike[str]) -> Path:
    """Return where the checkpoint of importing ``source`` into ``project_id`` lives."""
    resolved = str(Path(source).resolve())
    digest = hashlib.sha256(f"{project_id}\0{resolved}".encode()).hexdigest()[:16]
    return Path(folder) / f"import-{project_id}-{digest}.json"


@dataclass
class Checkpoint:
    """How far one import of one source into one project has got."""

    path: Path
    project: str
    source: str
    done: int = 0
    last: str | None = None
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    _written_at: float = 0.0

    @classmethod
    def open(cls, path: Path, project: str, source: str | os.PathLike[str]) -> Checkpoint:
        """Load the checkpoint at ``path`` if it is for this project and source, else a new one."""
        resolved = str(Path(source).resolve())
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = None
        if (
            isinstance(saved, dict)
            and saved.get("project") == project
            and saved.get("source") == resolved
            and isinstance(saved.get("done"), int)
        ):
            keep = {k: saved[k] for k in ("done", "last", "added", "duplicates", "rejected")}
            return cls(path, project, resolved, **keep)
        return cls(path, project, resolved)

    def advance(self, name: str, outcome: str) -> None:
        """Count one more file done (``added``, ``duplicates`` or ``rejected``)."""
        self.done += 1
        self.last = name
        setattr(self, outcome, getattr(self, outcome) + 1)
        if time.monotonic() - self._written_at >= EVERY_S:
            self.save()

    def save(self) -> None:
        """Write the checkpoint atomically (a crash leaves the old one or the new one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        document["path"] = str(self.path)
        partial = self.path.with_suffix(".part")
        partial.write_text(json.dumps(document))
        os.replace(partial, self.path)
        self._written_at = time.monotonic()

    def finish(self) -> None:
        """Remove the checkpoint: the import is complete."""
        self.path.unlink(missing_ok=True)
