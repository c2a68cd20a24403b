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
#: The committee's reading counts at most this share of one vote: evidence, never a voter.
COMMITTEE_VOTE = 0.5
#: Pseudo-votes of the project's ``live_reliability`` in the population estimate (its prior).
RELIABILITY_PRIOR_VOTES = 20.0
#: Bounds of the population reliability: a crowd is never trusted as perfect, nor as worse
#: than a coin (an adversarial majority is beyond what any vote weighting can undo).
RELIABILITY_BOUNDS = (0.55, 0.99)
#: Seconds a process reuses the population reliability it read from the last model record.
POPULATION_TTL_S = 10.0
#: Voter model of the full run's :class:`~crowdgate.aggregation.captcha.GridVoteModel`.
LIVE_VOTER_MODEL = "one-coin"
#: Distinct classes that each got ``MIN_AGREEING`` yes voters: the crowd splits on the item.
SPLIT_CLASSES = 2
#: Queue score of an item the crowd has started on a label (the trainer's scores are below):
#: the live update moves it there, minus the yes votes it still needs, so grids finish it.
STARTED_RANK = 1000.0
#: Queue score of an item the live update stops asking about a label (refused, or split).
DROPPED_RANK = -1.0


def _logit(r: float) -> float:
    return math.log(r / (1.0 - r))


def vote_weight(project: Project) -> float:
    """Return the log-odds one live vote adds to the stored sums (``logit(live_reliability)``)."""
    r = min(max(float(project.setting("live_reliability")), 0.5), 0.999)
    return _logit(r)


_population: dict[tuple[int, str, float], tuple[float, float]] = {}


def population_reliability(store: Store, project: Project) -> float:
    """Return the population reliability the last full run estimated, else the project prior.

    Read from the latest model record (``metrics.consensus.live_reliability``) and reused for
    ``POPULATION_TTL_S`` seconds per process.
    """
    now = time.monotonic()
    key = (id(store), project.id, project.created_at)
    hit = _population.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    r = float(project.setting("live_reliability"))
    models = store.list_models(project.id)
    if models:
        found = models[-1].get("metrics", {}).get("consensus", {}).get("live_reliability")
        if isinstance(found, (int, float)):
            r = float(found)
    lo, hi = RELIABILITY_BOUNDS
    r = min(max(r, lo), hi)
    _population[key] = (now + POPULATION_TTL_S, r)
    return r


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
    scale = 1.0 if reliability is None else _logit(reliability) / unit
    logits = np.array([loglik.get(lab, 0.0) for lab in project.labels], dtype=float) * scale
    if prior is not None:
        logits = logits + prior
    logits -= logits.max()
    probs = np.exp(logits)
    return probs / probs.sum()


def committee_vote(project: Project, item: Item | None, reliability: float) -> np.ndarray:
    """Return the log-odds the committee's reading adds per class: at most half a vote.

    The committee's calibrated confidence ``c`` in its label is worth ``log(c (k-1) / (1-c))``
    against a uniform prior; it is capped at ``COMMITTEE_VOTE`` of one vote of ``reliability``
    so it can tip an item the crowd has nearly settled, never settle one.
    """
    out = np.zeros(len(project.labels))
    if item is None or item.committee_label not in project.labels:
        return out
    conf, k = item.committee_confidence, len(project.labels)
    if conf is None or conf <= 1.0 / k:
        return out
    conf = min(float(conf), 1.0 - 1e-9)
    evidence = math.log(conf * (k - 1) / (1.0 - conf))
    out[project.labels.index(item.committee_label)] = min(
        evidence, COMMITTEE_VOTE * _logit(reliability)
    )
    return out


def split_classes(votes: list[Vote]) -> int:
    """Return how many classes ``MIN_AGREEING`` distinct voters each said yes to."""
    yes: dict[str, set[str]] = {}
    for v in votes:
        if v.answer:
            yes.setdefault(v.label, set()).add(v.voter)
    return sum(len(voters) >= MIN_AGREEING for voters in yes.values())


def is_split(votes: list[Vote]) -> bool:
    """Return True when the crowd keeps splitting on an item: stop asking about it."""
    return split_classes(votes) >= SPLIT_CLASSES


#: Most further yes votes :func:`votes_to_settle` looks ahead; beyond it an item is "far".
MAX_LOOKAHEAD = 6


def votes_to_settle(
    logits: np.ndarray,
    weight: float,
    threshold: float,
    yes_voters: np.ndarray,
    voters: np.ndarray,
    *,
    min_votes: int,
    min_agreeing: int,
) -> np.ndarray:
    """Return, per item and class, the further votes that would settle the item on that class.

    Parameters
    ----------
    logits : array of shape (n_items, n_classes)
        Each item's current log-odds per class (crowd votes plus the committee's evidence).
    weight : float
        Log-odds one new yes vote adds to its class.
    threshold : float
        Posterior the settled class must reach.
    yes_voters : int array of shape (n_items, n_classes)
        Distinct voters who already said yes to each class.
    voters : int array of shape (n_items,)
        Distinct voters of each item.
    min_votes, min_agreeing : int
        The settle rule's distinct voters, and distinct yes voters of the settled class.

    Returns
    -------
    ndarray of float, shape (n_items, n_classes)
        Yes votes needed from new voters (at least enough to reach ``min_votes`` voters and
        ``min_agreeing`` yes voters); ``inf`` beyond ``MAX_LOOKAHEAD``.
    """
    logits = np.asarray(logits, dtype=float)
    n, k = logits.shape
    need = np.full((n, k), np.inf)
    for m in range(MAX_LOOKAHEAD, -1, -1):
        for c in range(k):
            moved = logits.copy()
            moved[:, c] += m * weight
            moved -= moved.max(axis=1, keepdims=True)
            post = np.exp(moved[:, c]) / np.exp(moved).sum(axis=1)
            ok = (
                (post >= threshold)
                & (np.asarray(yes_voters)[:, c] + m >= min_agreeing)
                & (np.asarray(voters) + m >= min_votes)
            )
            need[ok, c] = m
    return need


def estimate_reliability(
    votes: list[Vote], labels: list[str], prior: float, prior_votes: float = RELIABILITY_PRIOR_VOTES
) -> float:
    """Return the population's one-coin reliability from how often two voters agree.

    Every voter shares one reliability ``r`` (a yes to the true class or a no to another is
    right with probability ``r``), so two distinct voters asked the same item under the same
    label agree with probability ``r**2 + (1 - r)**2``, whatever the truth: the share of
    agreeing pairs gives ``r = (1 + sqrt(2 a - 1)) / 2``. ``prior`` enters as ``prior_votes``
    pseudo-pairs at its own agreement, so a young project stays near it. A closed form, so it
    cannot fall into the degenerate fixed point an EM over one-coin binary asks has. Truth and
    gold records are never used (gold passes are selected, so they flatter).
    """
    asked: dict[tuple[str, str], dict[str, bool]] = {}
    for v in votes:
        if v.label in labels:
            asked.setdefault((v.item, v.label), {})[v.voter] = bool(v.answer)
    agree = pairs = 0.0
    for answers in asked.values():
        yes = sum(answers.values())
        no = len(answers) - yes
        n = yes + no
        if n < 2:
            continue
        # every unordered pair of the cell, weighed so that one cell counts as n - 1 pairs
        weight = (n - 1) / (n * (n - 1) / 2)
        agree += weight * (yes * (yes - 1) / 2 + no * (no - 1) / 2)
        pairs += n - 1
    lo, hi = RELIABILITY_BOUNDS
    r0 = min(max(prior, lo), hi)
    a0 = r0**2 + (1.0 - r0) ** 2
    a = (agree + prior_votes * a0) / (pairs + prior_votes)
    r = (1.0 + math.sqrt(max(2.0 * a - 1.0, 0.0))) / 2.0
    return float(min(max(r, lo), hi))


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

    The summed log-odds decide first, with the largest committee vote there could be on the
    top class (no extra reads); only an item that may pass reads its record and votes, for
    its real committee vote and the agreement checks of :func:`confirm`. Items the full run
    reopened are left to the full run.
    """
    out = []
    if not evidence:
        return out
    r = population_reliability(store, project)
    bound = COMMITTEE_VOTE * _logit(r)
    for ev in evidence:
        crowd = live_posterior(project, ev.loglik, r)
        best = np.zeros(len(project.labels))
        best[int(np.argmax(crowd))] = bound
        if (
            decide(project, live_posterior(project, ev.loglik, r, best), ev.votes, ev.networks)
            is None
        ):
            continue
        item = store.get_item(project.id, ev.item)
        if item is None or item.state != UNLABELED:
            continue
        if (item.consensus_by or "").startswith(REOPENED):
            continue
        posterior = live_posterior(project, ev.loglik, r, committee_vote(project, item, r))
        if decide(project, posterior, ev.votes, ev.networks) is None:
            continue
        votes = store.list_votes(project.id, ev.item)
        top = confirm(project, item, posterior, votes, ev.networks)
        if top is not None:
            out.append(
                settle(
                    store, project, ev.item, project.labels[top], float(posterior[top]), LIVE, now
                )
            )
    done = {s.item for s in out}
    store.rank_queue(
        project.id, live_ranks(project, [e for e in evidence if e.item not in done], r)
    )
    return out


def live_ranks(
    project: Project, evidence: list[Evidence], reliability: float
) -> dict[str, dict[str, float]]:
    """Return the queue scores the live update gives open items: ``{label: {item: score}}``.

    Adaptive redundancy between retrains. An item whose crowd-favoured class has more yes
    than no votes goes to the top of that class's queue, ahead by the fewer yes votes it
    still needs (:func:`votes_to_settle`); a class the crowd said no to on balance, and both
    classes of an item the crowd splits on, drop to the bottom of their queues.
    """
    unit = vote_weight(project)
    w = _logit(reliability)
    out: dict[str, dict[str, float]] = {}
    threshold = float(project.setting("threshold"))
    min_votes = int(project.setting("min_votes"))
    for ev in evidence:
        net = {lab: ll / unit for lab, ll in ev.loglik.items() if lab in project.labels}
        favoured = [lab for lab, n in net.items() if n >= MIN_AGREEING - 0.5]
        for lab, n in net.items():
            if n <= -0.5 or (len(favoured) >= SPLIT_CLASSES and lab in favoured):
                out.setdefault(lab, {})[ev.item] = DROPPED_RANK
        if len(favoured) >= SPLIT_CLASSES:
            continue
        top = max(net, key=lambda lab: net[lab], default=None)
        if top is None or net[top] < 0.5:
            continue
        j = project.labels.index(top)
        logits = np.array([[net.get(lab, 0.0) * w for lab in project.labels]])
        yes = np.zeros((1, len(project.labels)))
        yes[0, j] = round(net[top])
        need = votes_to_settle(
            logits,
            w,
            threshold,
            yes,
            np.array([ev.votes]),
            min_votes=min_votes,
            min_agreeing=MIN_AGREEING,
        )[0, j]
        rank = STARTED_RANK - (need if np.isfinite(need) else MAX_LOOKAHEAD + 1)
        out.setdefault(top, {})[ev.item] = rank
    return out


def committee_evidence(
    project: Project, items: dict[str, Item | None], reliability: float
) -> dict[str, dict[str, float]]:
    """Return ``{item: {label: log-odds}}``: the committee's capped reading for the full run."""
    out: dict[str, dict[str, float]] = {}
    for item_id, item in items.items():
        prior = committee_vote(project, item, reliability)
        if prior.any():
            pairs = zip(project.labels, prior, strict=True)
            out[item_id] = {lab: float(x) for lab, x in pairs if x}
    return out


def dissents(votes: list[Vote], label: str) -> bool:
    """Return True when some vote on an item contradicts ``label`` (a no to it, a yes to another).

    The full run reopens a settled item only then: a model whose estimates moved (a young
    project's reliabilities, say) is no reason to doubt votes that all agree.
    """
    return any((v.label == label) != bool(v.answer) for v in votes)


def rerun(store: Store, project: Project, run: int, now: float | None = None) -> dict:
    """Refit the full grid-vote model on every vote and settle or relabel items accordingly.

    Returns counts: ``votes``, ``settled`` (newly), ``relabeled`` (settled items whose label
    the full model changed with confidence), ``reopened`` (settled items whose label the full
    model no longer supports, back in the open pool with ``consensus_by`` recording why) and
    ``population_reliability`` (the full model's, gold records included) and
    ``live_reliability`` (:func:`estimate_reliability`, what live votes are weighed by next).
    """
    from .aggregation.captcha import GridVoteModel

    votes = store.list_votes(project.id)
    if not votes:
        return {"votes": 0, "settled": 0, "relabeled": 0, "reopened": 0}
    live_r = estimate_reliability(votes, project.labels, float(project.setting("live_reliability")))
    by_item: dict[str, list[Vote]] = {}
    nets: dict[str, set[str]] = {}
    for v in votes:
        by_item.setdefault(v.item, []).append(v)
        nets.setdefault(v.item, set()).add(v.network)
    items = {i: store.get_item(project.id, i) for i in by_item}
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
    }
