"""Consensus: the live per-vote update on the answer path, and the full re-run in the worker.

Live: each kept vote adds ``±logit(r)`` to its item's log-odds of the asked label, with ``r``
the project's ``live_reliability`` (a yes raises the asked class, a no lowers it), over a
uniform prior. Full: the worker refits :class:`~crowdgate.aggregation.captcha.GridVoteModel`
on every vote, which learns each voter's reliability from their gold record. Either settles an
item when its top posterior reaches the threshold with ``min_votes`` distinct voters and as
many distinct networks, at least ``MIN_AGREEING`` of them said yes to that class, and a
confident committee that reads the item otherwise is outweighed (docs/aggregation.md, "Settle
rule"). The full run also reopens settled items whose label it no longer supports.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .models import GOLD, SETTLED, UNLABELED, Evidence, Item, Project, Vote
from .store import Store

LIVE = "live"
#: ``consensus_by`` prefix of an item the full run reopened; only a later full run settles it,
#: since the live sums that settled it before still say the same.
REOPENED = "reopened-"
#: Distinct voters who must have said yes to the settled class: a posterior built from "no"
#: answers to other classes, or one trusted voter's yes, is not agreement.
MIN_AGREEING = 2
#: Committee confidence from which a committee reading another class is used as the prior.
COMMITTEE_CHECK = 0.5
#: A settled label whose full-run posterior falls below this (with no confident alternative)
#: goes back to the open pool for more votes.
REOPEN_BELOW = 0.5


def vote_weight(project: Project) -> float:
    """Return the log-odds one live vote moves its asked class by (``logit(r)``)."""
    r = min(max(float(project.setting("live_reliability")), 0.5), 0.999)
    return math.log(r / (1.0 - r))


def live_posterior(project: Project, loglik: dict[str, float]) -> np.ndarray:
    """Return the class posterior of an item from its summed log-odds (uniform prior)."""
    logits = np.array([loglik.get(lab, 0.0) for lab in project.labels], dtype=float)
    logits -= logits.max()
    probs = np.exp(logits)
    return probs / probs.sum()


def agreeing_voters(votes: list[Vote], label: str) -> int:
    """Return how many distinct voters said yes to ``label`` among ``votes``."""
    return len({v.voter for v in votes if v.answer and v.label == label})


def committee_check(project: Project, item: Item, posterior: np.ndarray) -> np.ndarray:
    """Return ``posterior`` reweighted by the committee when it confidently reads another class.

    The committee's reading becomes the prior (its label at its confidence, the rest shared
    evenly), so crowd votes must outweigh it; otherwise ``posterior`` is returned unchanged.
    """
    label, conf = item.committee_label, item.committee_confidence
    if label not in project.labels or conf is None or conf < COMMITTEE_CHECK:
        return posterior
    top = int(np.argmax(posterior))
    if project.labels[top] == label:
        return posterior
    k = len(project.labels)
    prior = np.full(k, (1.0 - conf) / max(k - 1, 1))
    prior[project.labels.index(label)] = conf
    out = posterior * prior
    return out / out.sum()


def confirm(
    project: Project, item: Item, posterior: np.ndarray, votes: list[Vote], networks: int
) -> int | None:
    """Return the class an item may settle on, or None: :func:`decide` plus agreement checks."""
    voters = len({v.voter for v in votes})
    top = decide(project, posterior, voters, networks)
    if top is None or agreeing_voters(votes, project.labels[top]) < MIN_AGREEING:
        return None
    checked = committee_check(project, item, posterior)
    return top if decide(project, checked, voters, networks) == top else None


@dataclass
class Settled:
    item: str
    label: str
    confidence: float
    promoted: bool


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
    """Mark an item settled (or promote it to gold when the project allows and it is sure)."""
    promote = bool(project.setting("promote_to_gold")) and confidence >= float(
        project.setting("promote_threshold")
    )
    fields: dict[str, object] = {
        "label": label,
        "confidence": confidence,
        "consensus_by": by,
        "settled_at": now if now is not None else time.time(),
    }
    if promote:
        fields.update(state=GOLD, known_label=label)
    else:
        fields["state"] = SETTLED
    store.update_item(project.id, item_id, **fields)
    return Settled(item_id, label, confidence, promote)


def apply_live(
    store: Store, project: Project, evidence: list[Evidence], now: float | None = None
) -> list[Settled]:
    """Settle the items whose live evidence now meets the rule; return what settled.

    The summed log-odds decide first (no extra reads); only an item that passes reads its
    record and votes for the agreement checks of :func:`confirm`. Items the full run reopened
    are left to the full run.
    """
    out = []
    for ev in evidence:
        posterior = live_posterior(project, ev.loglik)
        if decide(project, posterior, ev.votes, ev.networks) is None:
            continue
        item = store.get_item(project.id, ev.item)
        if item is None or item.state != UNLABELED:
            continue
        if (item.consensus_by or "").startswith(REOPENED):
            continue
        votes = store.list_votes(project.id, ev.item)
        top = confirm(project, item, posterior, votes, ev.networks)
        if top is not None:
            out.append(
                settle(
                    store, project, ev.item, project.labels[top], float(posterior[top]), LIVE, now
                )
            )
    return out


def rerun(store: Store, project: Project, run: int, now: float | None = None) -> dict:
    """Refit the full grid-vote model on every vote and settle or relabel items accordingly.

    Returns counts: ``votes``, ``settled`` (newly), ``relabeled`` (settled items whose label
    the full model changed with confidence), ``reopened`` (settled items whose label the full
    model no longer supports, back in the open pool with ``consensus_by`` recording why) and
    ``population_reliability``.
    """
    from .aggregation.captcha import GridVoteModel

    votes = store.list_votes(project.id)
    if not votes:
        return {"votes": 0, "settled": 0, "relabeled": 0, "reopened": 0}
    model = GridVoteModel(gold_per_grid=int(project.setting("gold_per_grid"))).fit(
        [v.item for v in votes],
        [v.label for v in votes],
        [v.answer for v in votes],
        [v.voter for v in votes],
        classes=project.labels,
        gold_score=[v.gold_score for v in votes],
        challenges=[v.challenge for v in votes],
    )
    by_item: dict[str, list[Vote]] = {}
    nets: dict[str, set[str]] = {}
    for v in votes:
        by_item.setdefault(v.item, []).append(v)
        nets.setdefault(v.item, set()).add(v.network)
    classes = [str(c) for c in model.classes_]
    order = [classes.index(lab) for lab in project.labels]
    settled = relabeled = reopened = 0
    by = f"em-{run}"
    for row, item_id in enumerate(model.items_):
        item_id = str(item_id)
        posterior = model.probas_[row][order]
        item = store.get_item(project.id, item_id)
        if item is None or item.state == GOLD:
            continue
        top = confirm(project, item, posterior, by_item[item_id], len(nets[item_id]))
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
            elif top is None and posterior[project.labels.index(item.label)] < REOPEN_BELOW:
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
    }
