"""Plain records shared by the stores, the core and the web layer (no I/O here)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import BadRequest

#: Item states. ``unlabeled`` items are asked about; ``settled`` have consensus; ``gold`` are known.
UNLABELED, SETTLED, GOLD = "unlabeled", "settled", "gold"
ITEM_STATES = (UNLABELED, SETTLED, GOLD)

#: Project ids double as Redis Cluster hash tags and as routing prefixes of challenge ids and
#: tokens, so they are short and restricted to characters that need no escaping anywhere.
PROJECT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

#: The project id used by the published test sitekey (never a real project).
TEST_PROJECT = "_test"

DEFAULT_PROJECT_SETTINGS: dict[str, Any] = {
    "grid_size": 12,
    #: six gold: a coin-flip clicker passes 1 grid in 64 (issue 12 asks at most 1 in 30)
    "gold_per_grid": 6,
    "pass_rule": "all",
    "min_votes": 3,
    "threshold": 0.95,
    "vote_cap": 15,
    "network_cap": 2,
    #: the worker promotes settled items the crowd alone is this sure of (goldpool.py)
    "promote_to_gold": True,
    "promote_threshold": 0.995,
    #: expected servings after which a gold item stops grading (0: never). Off by default:
    #: when bots are the crowd, retiring swaps gold they have not learned for gold their own
    #: votes promoted (bench/RESULTS.md, "Attacks (gold pool)")
    "retire_after_serves": 0,
    "committee_size": 5,
    "selector": "committee",
    #: what ranks fresh items in the committee's queues: "disagreement" (query by committee)
    #: or "random" (label-aware random: random open items, asked under the committee's label)
    "query": "disagreement",
    "live_reliability": 0.85,
    #: leave out voters whose answers do not depend on the picture (echo bots, coins), judged on
    #: open items against the other voters (crowdgate.reliability.voter_discounts); off by
    #: default: on the simulated crowds it bought no accuracy and cost some (bench/RESULTS.md)
    "skip_uninformative": False,
}


def check_project_id(project_id: str) -> str:
    """Return ``project_id`` if it is a valid id, else raise :class:`BadRequest`."""
    if not isinstance(project_id, str) or not PROJECT_ID_RE.fullmatch(project_id):
        raise BadRequest(
            f"Project id {project_id!r} is invalid: use 1 to 40 lowercase letters, digits, "
            "'-' or '_', starting with a letter or digit.",
            code="invalid-project-id",
        )
    return project_id


@dataclass
class Project:
    id: str
    name: str
    labels: list[str]
    prompt: str = "Select all images with {label}"
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PROJECT_SETTINGS))
    created_at: float = 0.0

    def setting(self, key: str) -> Any:
        """Return a project setting, falling back to the documented default."""
        return self.settings.get(key, DEFAULT_PROJECT_SETTINGS[key])

    def prompt_for(self, label: str) -> str:
        """Return the question shown above a grid asking about ``label``."""
        return self.prompt.replace("{label}", label)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Project:
        return cls(**data)


@dataclass
class Item:
    project: str
    id: str  # SHA-256 hex of the normalized image bytes
    filename: str
    state: str = UNLABELED
    known_label: str | None = None
    split: str | None = None
    width: int = 0
    height: int = 0
    mime: str = "image/webp"
    variants: int = 0
    votes: int = 0
    label: str | None = None  # consensus label once settled, or the gold truth
    #: a gold item's secret second label, asked about as often as its own (never sent)
    decoy: str | None = None
    #: the gold pool's serving clock when the item became gold (None: imported gold, 0);
    #: its expected servings since are the clock now minus this (goldpool.py)
    gold_exposure: float | None = None
    confidence: float | None = None
    committee_label: str | None = None
    committee_confidence: float | None = None
    model_version: int | None = None
    settled_at: float | None = None
    #: what produced the consensus: "live" (per-vote update) or "em-<n>" (the n-th full run)
    consensus_by: str | None = None
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        # every field is a str, number or None, so asdict's recursive deep copy (the most of
        # an item's JSON encoding, written for every imported item) copies nothing
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Site:
    sitekey: str
    name: str
    secret_hash: str
    hostnames: list[str]
    project: str
    compat: str = ""  # "", "recaptcha" or "hcaptcha"
    created_at: float = 0.0
    #: leading zero bits of proof of work asked before a challenge is issued (0: none)
    pow_bits: int = 0
    #: offer the accessible path (a proof-of-work pass without images) to visitors
    alternative: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public_dict(self) -> dict[str, Any]:
        """Return the site without its secret hash, for API answers."""
        data = asdict(self)
        data.pop("secret_hash")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Site:
        return cls(**data)


@dataclass
class ApiKey:
    id: str
    name: str
    key_hash: str
    created_at: float = 0.0
    revoked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("key_hash")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiKey:
        return cls(**data)


@dataclass
class Slot:
    item: str
    gold: bool
    truth: bool | None = None  # for gold slots: is the item a positive for the asked label
    variant: int = -1  # which perturbed variant of a gold item is served; -1 for the thumbnail


@dataclass
class Challenge:
    id: str
    sitekey: str
    project: str
    label: str
    hostname: str
    voter: str
    network: str
    slots: list[Slot]
    issued_at: float
    expires_at: float
    test: bool = False

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies every field and costs ~0.2 ms per challenge
        data = dict(self.__dict__)
        data["slots"] = [dict(s.__dict__) for s in self.slots]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Challenge:
        data = dict(data)
        data["slots"] = [Slot(**s) for s in data["slots"]]
        return cls(**data)


@dataclass
class Evidence:
    """An item's live evidence after a vote: summed log-odds per class, votes and networks."""

    item: str
    loglik: dict[str, float]
    votes: int
    networks: int


@dataclass
class TokenRecord:
    token: str
    sitekey: str
    hostname: str
    project: str
    challenge_ts: float
    expires_at: float
    test: bool = False
    #: the answered challenge and its gold items: kept server-side with the token, for the
    #: site's own explanation pages (the demo); siteverify never returns them
    challenge: str = ""
    gold: list[str] = field(default_factory=list)
    #: how the token was won: "grid" (images answered) or "alternative" (the accessible path)
    path: str = "grid"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # scalars and one list of strings; asdict's deep copy is slow

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenRecord:
        return cls(**data)


@dataclass
class Vote:
    project: str
    item: str
    label: str
    answer: bool  # True: the visitor selected the image as showing ``label``
    voter: str
    network: str
    challenge: str
    gold_score: float  # fraction of the challenge's gold slots the voter got right
    ts: float
    #: log-odds this vote added to the asked class in the live posterior (audit trail)
    weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # every field is a scalar; asdict's deep copy is slow

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vote:
        return cls(**data)
