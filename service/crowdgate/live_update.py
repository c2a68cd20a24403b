"""The live update after a passed answer: queue scores with the votes, then settles.

Split out of :func:`crowdgate.consensus.apply_live` (which runs both steps) so the answer path
can write the scores of the items that cannot settle in its vote write (one SQLite
transaction instead of two), and rules stay in :mod:`crowdgate.consensus`.
"""

from __future__ import annotations

import numpy as np

from .consensus import (
    COMMITTEE_VOTE,
    DROPPED_RANK,
    LIVE,
    REOPENED,
    Settled,
    committee_vote,
    confirm,
    decide,
    kept_evidence,
    live_posterior,
    live_ranks,
    live_weights,
    logit,
    settle,
    votes_can_outweigh,
)
from .models import UNLABELED, Evidence, Item, Project
from .store import Store


def is_reopened(item: Item) -> bool:
    """Return True for an item the full run reopened: only a later full run settles it."""
    return (item.consensus_by or "").startswith(REOPENED)


class LiveUpdate:
    """The live update after one passed answer, in two steps.

    :meth:`rank` needs only the answer's evidence: it returns the queue scores of every item
    that cannot settle now (most of them), so the store can write them with the votes, in the
    same transaction (SQLite). :meth:`settle` then decides the others, the items whose summed
    log-odds pass the rule with the largest committee vote there could be on the top class:
    only those read their record and votes, for their real committee vote and the agreement
    checks of :func:`confirm`; when some of those votes come from voters the last full run
    found to be no evidence, the item is decided on the others' votes alone. Items the full
    run reopened are left to the full run. An item whose committee reads another class too
    surely for votes to outweigh it (:func:`votes_can_outweigh`) drops to the bottom of the
    crowd's label's queue. The scores and settles are those of one pass over all items.
    """

    def __init__(self, store: Store, project: Project):
        self.project = project
        self.r, self.skip = live_weights(store, project)
        self.candidates: list[Evidence] = []

    def _may_settle(self, ev: Evidence, bound: float) -> bool:
        min_votes = int(self.project.setting("min_votes"))
        if ev.votes < min_votes or ev.networks < min_votes:
            return False  # what decide() refuses whatever the posterior: none computed
        crowd = live_posterior(self.project, ev.loglik, self.r)
        best = np.zeros(len(self.project.labels))
        best[int(np.argmax(crowd))] = bound
        posterior = live_posterior(self.project, ev.loglik, self.r, best)
        return decide(self.project, posterior, ev.votes, ev.networks) is not None

    def rank(self, evidence: list[Evidence]) -> dict[str, dict[str, float]]:
        """Return the queue scores of the items that cannot settle now; keep the others."""
        bound = COMMITTEE_VOTE * logit(self.r)
        self.candidates = [ev for ev in evidence if self._may_settle(ev, bound)]
        kept = {ev.item for ev in self.candidates}
        return live_ranks(self.project, [e for e in evidence if e.item not in kept], self.r)

    def settle(self, store: Store, now: float | None = None) -> list[Settled]:
        """Settle the kept items that meet the rule, and rank those that do not."""
        project, r, skip = self.project, self.r, self.skip
        out: list[Settled] = []
        blocked: list[tuple[str, str]] = []
        rest: list[Evidence] = []
        for ev in self.candidates:
            item = store.get_item(project.id, ev.item)
            if item is None or item.state != UNLABELED or is_reopened(item):
                rest.append(ev)
                continue
            prior = committee_vote(project, item, r)
            posterior = live_posterior(project, ev.loglik, r, prior)
            if decide(project, posterior, ev.votes, ev.networks) is None:
                rest.append(ev)
                continue
            votes = store.list_votes(project.id, ev.item)
            networks = ev.networks
            if skip and any(v.voter in skip for v in votes):
                loglik, n_voters, networks = kept_evidence(votes, skip)
                posterior = live_posterior(project, loglik, r, prior)
                if decide(project, posterior, n_voters, networks) is None:
                    rest.append(ev)
                    continue
            top = confirm(project, item, posterior, votes, networks, skip)
            crowd_top = project.labels[int(np.argmax(posterior))]
            if (
                top is None
                and item.committee_label in project.labels
                and item.committee_label != crowd_top
                and not votes_can_outweigh(project, item.committee_confidence)
            ):
                # the committee is too sure of another class for any votes to settle this
                # one: more votes on it would be spent on a label that cannot settle
                blocked.append((ev.item, crowd_top))
            if top is None:
                rest.append(ev)
            else:
                label, confidence = project.labels[top], float(posterior[top])
                out.append(settle(store, project, ev.item, label, confidence, LIVE, now))
        ranks = live_ranks(project, rest, r)
        for item_id, label in blocked:
            ranks.setdefault(label, {})[item_id] = DROPPED_RANK
        if ranks:
            store.rank_queue(project.id, ranks)
        return out
