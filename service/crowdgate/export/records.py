"""Which items an export holds, with what label, source and split (streams; no I/O of its own)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import BadRequest
from ..models import GOLD, SETTLED, UNLABELED, Item
from ..store import Store

#: Where an exported label comes from: the known truth, the crowd's consensus or the committee.
SOURCE_GOLD, SOURCE_CROWD, SOURCE_COMMITTEE = "gold", "crowd", "committee"
TRAIN, VALIDATION = "train", "validation"
#: Items read from the store per round trip while exporting.
BATCH = 1000


@dataclass(frozen=True)
class ExportOptions:
    """What to export.

    ``min_confidence``: drop crowd and committee labels below it (gold counts as 1.0).
    ``include_committee``: also export open items that only have a machine label.
    ``validation_fraction``: share of items put in the ``validation`` split, from 0 to 0.9; 0
    keeps the split each item was imported with (or none). ``seed``: which items those are.
    """

    min_confidence: float = 0.0
    include_committee: bool = False
    validation_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise BadRequest(
                f"Minimum confidence {self.min_confidence!r} is out of range; give 0 to 1.",
                code="invalid-export-option",
            )
        if not 0.0 <= self.validation_fraction <= 0.9:
            raise BadRequest(
                f"Validation fraction {self.validation_fraction!r} is out of range; give 0 to 0.9.",
                code="invalid-export-option",
            )

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> ExportOptions:
        """Build options from query-string or form values (``min_confidence``, ``committee``,
        ``validation``, ``seed``); raise :class:`BadRequest` naming a value that does not parse.
        """
        committee = (args.get("committee") or "0").lower()
        if committee not in COMMITTEE_FLAGS:
            raise BadRequest(
                f"committee={args.get('committee')!r} is not a yes or no; give committee=1 to "
                "include machine labels, or committee=0.",
                code="invalid-export-option",
            )
        try:
            return cls(
                min_confidence=float(args.get("min_confidence") or 0),
                include_committee=COMMITTEE_FLAGS[committee],
                validation_fraction=float(args.get("validation") or 0),
                seed=int(args.get("seed") or 0),
            )
        except ValueError as exc:
            raise BadRequest(
                f"Export options must be numbers ({exc}); use e.g. min_confidence=0.9, "
                "validation=0.2, seed=7.",
                code="invalid-export-option",
            ) from exc


#: the values ``committee`` may take in a query or form (a checkbox sends "on")
COMMITTEE_FLAGS = {"0": False, "1": True, "false": False, "true": True, "off": False, "on": True}


@dataclass(frozen=True)
class ExportRecord:
    """One exported item: its label, where the label came from and its split."""

    item_id: str
    file_name: str
    label: str
    confidence: float
    votes: int
    source: str
    model_version: int | None
    split: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Column order of every tabular export.
FIELDS = tuple(ExportRecord.__dataclass_fields__)


def split_of(item_id: str, options: ExportOptions, imported: str | None) -> str | None:
    """Return the split of an item: a seeded hash decides, so it never depends on order."""
    if options.validation_fraction <= 0:
        return imported
    digest = hashlib.blake2b(f"{options.seed}:{item_id}".encode(), digest_size=8).digest()
    draw = int.from_bytes(digest, "big") / 2**64
    return VALIDATION if draw < options.validation_fraction else TRAIN


def record_of(item: Item, options: ExportOptions) -> ExportRecord | None:
    """Return the export record of ``item``, or ``None`` if the options leave it out."""
    if item.state == GOLD and (item.label or item.known_label):
        label, confidence, source = item.label or item.known_label, 1.0, SOURCE_GOLD
        version = None
    elif item.state == SETTLED and item.label:
        label, confidence, source = item.label, item.confidence or 0.0, SOURCE_CROWD
        version = None
    elif item.state == UNLABELED and options.include_committee and item.committee_label:
        label, confidence = item.committee_label, item.committee_confidence or 0.0
        source, version = SOURCE_COMMITTEE, item.model_version
    else:
        return None
    if confidence < options.min_confidence:
        return None
    return ExportRecord(
        item_id=item.id,
        file_name=item.filename,
        label=str(label),
        confidence=float(confidence),
        votes=item.votes,
        source=source,
        model_version=version,
        split=split_of(item.id, options, item.split),
    )


def iter_records(
    store: Store,
    project_id: str,
    options: ExportOptions,
    tick: Callable[[], object] | None = None,
) -> Iterator[ExportRecord]:
    """Yield the records of a project in insertion order; call ``tick`` once per item read."""
    for item in store.iter_items(project_id, batch=BATCH):
        if tick is not None:
            tick()
        record = record_of(item, options)
        if record is not None:
            yield record
