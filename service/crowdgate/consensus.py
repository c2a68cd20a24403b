"""Consensus: the live per-vote update on the answer path, and the full re-run in the worker.

Live: each kept vote adds ``±logit(r0)`` to its item's log-odds of the asked label (a yes raises
the asked class, a no lowers it), with ``r0`` the project's ``live_reliability``. The settle
decision reads those sums in units of one vote and weighs each vote by the *population's*
reliability: the last full run's estimate from the answers (:func:`estimate_reliability`, with
``r0`` as its prior), or ``r0`` before any run. A voter with no history, the usual captcha
visitor, is thus scored as the average voter, never as a fixed knob; voters with a record are
weighed one by one by the full run. The committee's calibrated reading adds at most half a
vote to its label (reCAPTCHA v1 counted an OCR reading as half a vote), and at least
``MIN_AGREEING`` distinct voters must have said yes, so the committee never settles an item
alone. Full: the worker refits :class:`~crowdgate.aggregation.captcha.GridVoteModel` on every
vote, one coin per voter, with the same capped committee reading as each item's prior (the
committee chose the question, so without it a lone yes reads as weak and EM drifts the crowd's
reliability towards a coin). Either settles an item when its top posterior reaches the
threshold with ``min_votes`` distinct voters and as many distinct networks, and a confident
committee that reads the item otherwise is outweighed (docs/aggregation.md, "Settle rule").
The full run also reopens settled items whose label it no longer supports and some vote
contradicts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .committee_vote import (  # noqa: F401  (re-exported)
    COMMITTEE_CHECK,
    COMMITTEE_VOTE,
    committee_check,
    committee_evidence,
    committee_vote,
    outweigh_limit,
    votes_can_outweigh,
)
from .models import GOLD, SETTLED, UNLABELED, Evidence, Item, Project, Vote
from .redundancy import (  # noqa: F401  (re-exported: the trainer and tests use consensus.X)
    DROPPED_RANK,
    MAX_LOOKAHEAD,
    SPLIT_CLASSES,
    STARTED_RANK,
    expected_cost,
    is_split,
    live_ranks,
    retire_cost,
    split_classes,
    votes_to_settle,
    votes_to_settle_one,
)
from .reliability import (  # noqa: F401  (re-exported)
    MIN_AGREEING,
    RELIABILITY_BOUNDS,
    RELIABILITY_PRIOR_VOTES,
    agreeing_voters,
    dropped,
    estimate_reliability,
    logit,
    vote_weight,
    voter_discounts,
)
from .store import Store

LIVE = "live"
#: ``consensus_by`` prefix of an item the full run reopened; only a later full run settles it,
#: since the live sums that settled it before still say the same.
REOPENED = "reopened-"
#: A settled label whose full-run posterior falls below this (with no confident alternative)
#: goes back to the open pool for more votes.
REOPEN_BELOW = 0.5
#: Seconds a process reuses the population reliability it read from the last model record.
POPULATION_TTL_S = 10.0
#: Voter model of the full run's :class:`~crowdgate.aggregation.captcha.GridVoteModel`.
LIVE_VOTER_MODEL = "one-coin"


_population: dict[tuple[int, str, float], tuple[float, float, frozenset[str]]] = {}


def live_weights(store: Store, project: Project) -> tuple[float, frozenset[str]]:
    """Return what the last full run learned of the crowd: its reliability, and the voters
    whose answers are no evidence (``metrics.consensus.live_reliability`` and
    ``dropped_voters`` of the latest model record; before any run, the project prior and
    none), reused for ``POPULATION_TTL_S`` seconds per process."""
    now = time.monotonic()
    key = (id(store), project.id, project.created_at)
    hit = _population.get(key)
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    r = float(project.setting("live_reliability"))
    skip: frozenset[str] = frozenset()
    models = store.list_models(project.id)
    if models:
        found = models[-1].get("metrics", {}).get("consensus", {})
        if isinstance(found.get("live_reliability"), (int, float)):
            r = float(found["live_reliability"])
        if isinstance(found.get("dropped_voters"), list):
            skip = frozenset(str(v) for v in found["dropped_voters"])
    lo, hi = RELIABILITY_BOUNDS
    r = min(max(r, lo), hi)
    _population[key] = (now + POPULATION_TTL_S, r, skip)
    return r, skip


def population_reliability(store: Store, project: Project) -> float:
    """Return the population reliability the last full run estimated, else the project prior."""
    return live_weights(store, project)[0]


def kept_evidence(votes: list[Vote], skip: frozenset[str]) -> tuple[dict[str, float], int, int]:
    """Return an item's live sums, voters and networks over the votes of voters not in ``skip``."""
    loglik: dict[str, float] = {}
    kept = [v for v in votes if v.voter not in skip]
    for v in kept:
        loglik[v.label] = loglik.get(v.label, 0.0) + v.weight
    return loglik, len({v.voter for v in kept}), len({v.network for v in kept})


def live_posterior(
    project: Project,
    loglik: dict[str, float],
    reliability: float | None = None,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """Return the class posterior of an item from its summed log-odds.

    ``loglik`` is in the stored unit (:func:`vote_weight`); each vote is reweighed to
    ``logit(reliability)`` (default: the project prior). ``prior`` adds log-odds per class
    (the committee's half vote, :func:`committee_vote`); default uniform.
    """
    unit = vote_weight(project)
    scale = 1.0 if reliability is None else logit(reliability) / unit
    logits = np.array([loglik.get(lab, 0.0) for lab in project.labels], dtype=float) * scale
    if prior is not None:
        logits = logits + prior
    logits -= logits.max()
    probs = np.exp(logits)
    return probs / probs.sum()


def confirm(
    project: Project,
    item: Item,
    posterior: np.ndarray,
    votes: list[Vote],
    networks: int,
    skip: frozenset[str] = frozenset(),
) -> int | None:
    """Return the class an item may settle on, or None: :func:`decide` plus agreement checks.

    Voters in ``skip`` (their answers are no evidence, :func:`voter_discounts`) count neither
    as voters nor as agreeing ones."""
    voters = len({v.voter for v in votes if v.voter not in skip})
    top = decide(project, posterior, voters, networks)
    if top is None or agreeing_voters(votes, project.labels[top], skip) < MIN_AGREEING:
        return None
    checked = committee_check(project, item, posterior)
    return top if decide(project, checked, voters, networks) == top else None


@dataclass
class Settled:
    item: str
    label: str
    confidence: float


def decide(project: Project, posterior: np.ndarray, votes: int, networks: int) -> int | None:
    """Return the index of the settled class, or None while the item stays open."""
    min_votes = int(project.setting("min_votes"))
    top = int(np.argmax(posterior))
    if (
        posterior[top] >= float(project.setting("threshold"))
        and votes >= min_votes
        and (networks >= min_votes)
    ):
        return top
    return None


def settle(
    store: Store,
    project: Project,
    item_id: str,
    label: str,
    confidence: float,
    by: str,
    now: float | None = None,
) -> Settled:
    """Mark an item settled (the worker's gold pool promotes sure ones later: goldpool.py)."""
    fields: dict[str, object] = {
        "state": SETTLED,
        "label": label,
        "confidence": confidence,
        "consensus_by": by,
        "settled_at": now if now is not None else time.time(),
    }
    store.update_item(project.id, item_id, **fields)
    return Settled(item_id, label, confidence)


def apply_live(
    store: Store, project: Project, evidence: list[Evidence], now: float | None = None
) -> list[Settled]:
    """Settle the items whose live evidence now meets the rule; return what settled.

    The two steps of :class:`~crowdgate.live_update.LiveUpdate`, one after the other (the
    answer path runs the first inside its vote write).
    """
    from .live_update import LiveUpdate  # it builds on this module's rules

    if not evidence:
        return []
    step = LiveUpdate(store, project)
    ranks = step.rank(evidence)
    if ranks:
        store.rank_queue(project.id, ranks)
    return step.settle(store, now)


def dissents(votes: list[Vote], label: str) -> bool:
    """Return True when some vote on an item contradicts ``label`` (a no to it, a yes to another).

    The full run reopens a settled item only then: a model whose estimates moved (a young
    project's reliabilities, say) is no reason to doubt votes that all agree.
    """
    return any((v.label == label) != bool(v.answer) for v in votes)


def rerun(
    store: Store,
    project: Project,
    run: int,
    now: float | None = None,
    votes: list[Vote] | None = None,
) -> dict:
    """Refit the full grid-vote model on every vote and settle or relabel items accordingly.

    Returns counts: ``votes``, ``settled`` (newly), ``relabeled`` (settled items whose label
    the full model changed with confidence), ``reopened`` (settled items whose label the full
    model no longer supports, back in the open pool with ``consensus_by`` recording why) and
    ``population_reliability`` (the full model's, gold records included) and
    ``live_reliability`` (:func:`estimate_reliability`, what live votes are weighed by next),
    ``voters`` and ``dropped_voters`` (the voters :func:`voter_discounts` found to be no
    evidence: their votes are out of the fit and of the settle rule, live too).
    ``votes`` are the project's votes when the caller has read them already.
    """
    from .aggregation.captcha import GridVoteModel

    votes = store.list_votes(project.id) if votes is None else votes
    if not votes:
        return {"votes": 0, "settled": 0, "relabeled": 0, "reopened": 0}
    prior_r = float(project.setting("live_reliability"))
    # Voters whose answers do not depend on the picture (an echo of the asked label, a coin)
    # are judged on open items against the other voters, never on gold, and left out of the
    # fit, of the crowd's reliability and of the settle rule (docs/aggregation.md).
    # The population reliability stays the whole crowd's: a voter with no record yet, whom it
    # weighs, is a draw from every voter, the uninformative ones not yet found included.
    # (Measured: weighing new voters by the kept voters' reliability alone, 0.963 instead of
    # 0.942, settled 1.4 points less accurately on the label-efficiency crowd.)
    live_r = estimate_reliability(votes, project.labels, prior_r)
    skip: frozenset[str] = frozenset()
    if project.setting("skip_uninformative"):
        skip = frozenset(dropped(voter_discounts(votes, project.labels, live_r)))
    all_voters = len({v.voter for v in votes})
    votes = [v for v in votes if v.voter not in skip]
    if not votes:
        return {"votes": 0, "settled": 0, "relabeled": 0, "reopened": 0}
    by_item: dict[str, list[Vote]] = {}
    nets: dict[str, set[str]] = {}
    for v in votes:
        by_item.setdefault(v.item, []).append(v)
        nets.setdefault(v.item, set()).add(v.network)
    # one batched read (a round trip per voted item was minutes at a million votes)
    items: dict[str, Item | None] = dict(store.get_items(project.id, by_item))
    # One coin per voter: the committee picks each item's question, so "no" answers (what a
    # specificity is learned from) are rare and two coins are not identified; the evidence then
    # prefers a crowd of yes-sayers (docs/aggregation.md, "Live consensus").
    model = GridVoteModel(
        gold_per_grid=int(project.setting("gold_per_grid")), voter_model=LIVE_VOTER_MODEL
    ).fit(
        [v.item for v in votes],
        [v.label for v in votes],
        [v.answer for v in votes],
        [v.voter for v in votes],
        classes=project.labels,
        gold_score=[v.gold_score for v in votes],
        challenges=[v.challenge for v in votes],
        item_evidence=committee_evidence(project, items, live_r),
    )
    classes = [str(c) for c in model.classes_]
    order = [classes.index(lab) for lab in project.labels]
    settled = relabeled = reopened = 0
    by = f"em-{run}"
    for row, item_id in enumerate(model.items_):
        item_id = str(item_id)
        posterior = model.probas_[row][order]
        item = items.get(item_id)
        if item is None or item.state == GOLD:
            continue
        top = confirm(project, item, posterior, by_item[item_id], len(nets[item_id]), skip)
        if item.state == UNLABELED and top is not None:
            settle(store, project, item_id, project.labels[top], float(posterior[top]), by, now)
            settled += 1
        elif item.state == SETTLED and item.label in project.labels:
            if top is not None and project.labels[top] != item.label:
                store.update_item(
                    project.id,
                    item_id,
                    label=project.labels[top],
                    confidence=float(posterior[top]),
                    consensus_by=by,
                )
                relabeled += 1
            elif (
                top is None
                and posterior[project.labels.index(item.label)] < REOPEN_BELOW
                and dissents(by_item[item_id], item.label)
            ):
                store.update_item(
                    project.id,
                    item_id,
                    state=UNLABELED,
                    label=None,
                    confidence=None,
                    settled_at=None,
                    consensus_by=REOPENED + by,
                )
                reopened += 1
    return {
        "votes": len(votes),
        "settled": settled,
        "relabeled": relabeled,
        "reopened": reopened,
        "population_reliability": float(model.population_reliability_),
        "live_reliability": round(live_r, 4),
        "voters": all_voters,
        # voter keys are the service's keyed daily hashes (never addresses); live reads them
        "dropped_voters": sorted(skip),
    }
