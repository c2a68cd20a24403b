"""The store's per-project counters: kept exact by every write, on every backend, and backfilled.

These cases also run on a real Redis Cluster (tests/test_cluster.py collects them).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from crowdgate.models import GOLD, SETTLED, UNLABELED, Project, Vote
from crowdgate.store import Store, counters, decoys, open_store
from crowdgate.store.sqlite import SqliteStore
from seed import numbered_item
from test_store_contract import NOW, make_project, make_token

DAY = 86_400.0


def entry(n: int, label: str | None = None, pid: str = "digits"):
    item = numbered_item(n, label, created_at=NOW, pid=pid)
    return item, {"image": b"I%d" % n, "thumb": b"T%d" % n}, np.zeros(4, np.float32) + n


def vote(item_id: str, voter: str, ts: float, label: str = "1") -> Vote:
    return Vote(
        project="digits",
        item=item_id,
        label=label,
        answer=True,
        voter=voter,
        network="net-" + voter,
        challenge="digits.c",
        gold_score=1.0,
        ts=ts,
    )


def passed(store: Store, voter: str, item_ids: list[str], ts: float) -> None:
    token = make_token(f"digits.{voter}-{ts}")
    store.record_pass("digits", [vote(i, voter, ts) for i in item_ids], token, vote_cap=5)


def scanned(store: Store, pid: str = "digits") -> dict[str, int]:
    """Return the derived counters as a full scan of the project counts them."""
    times = [v.ts for v in store.list_votes(pid)]
    return {k: v for k, v in counters.backfill(store.iter_items(pid), times).items() if v}


def derived(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if k.startswith(counters.DERIVED) and v}


def ids(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(n)]


def test_counters_match_a_full_scan_through_imports_votes_settles_and_reopens(
    store: Store,
) -> None:
    make_project(store)
    assert store.put_items([entry(i) for i in range(8)] + [entry(8, "0"), entry(9, "1")]) == 10
    items = ids(8)
    passed(store, "a", items[:5], NOW)
    passed(store, "b", items[:3], NOW + DAY)
    store.update_item("digits", items[0], state=SETTLED, label="1", confidence=0.95, settled_at=NOW)
    store.update_item(
        "digits", items[1], state=SETTLED, label="2", confidence=0.61, settled_at=NOW + DAY
    )
    store.update_item("digits", items[6], state=SETTLED, label="2", confidence=1.0, settled_at=NOW)
    # relabel, then reopen: the settled counters follow the item, not its history
    store.update_item("digits", items[1], label="0", confidence=0.7)
    store.update_item(
        "digits", items[6], state=UNLABELED, label=None, confidence=None, settled_at=None
    )
    stats = store.get_stats("digits")
    assert derived(stats) == scanned(store)
    day0, day1 = counters.day_of(NOW), counters.day_of(NOW + DAY)
    assert derived(stats) == {
        "state:unlabeled": 6,
        "state:settled": 2,
        "state:gold": 2,
        "gold:0": 1,
        "gold:1": 1,
        # items 2, 3 and 4 have votes and are open; 6 reopened with none
        "open_voted": 3,
        "class:1": 1,
        "class:0": 1,
        f"settled_day:{day0}": 1,
        f"settled_day:{day1}": 1,
        "confidence:9": 1,
        "confidence:7": 1,
        f"votes_day:{day0}": 5,
        f"votes_day:{day1}": 3,
    }


def test_racing_votes_and_settles_leave_the_counters_exact(store: Store) -> None:
    make_project(store)
    store.put_items(entry(i) for i in range(40))
    items = ids(40)

    def vote_on(k: int) -> None:
        passed(store, f"v{k}", items[k % 10 :: 3][:6], NOW + (k % 3) * DAY)

    def settle(k: int) -> None:
        store.update_item(
            "digits", items[k], state=SETTLED, label=str(k % 3), confidence=0.9, settled_at=NOW
        )

    jobs = [(vote_on, k) for k in range(30)] + [(settle, k) for k in range(0, 40, 2)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: job[0](job[1]), jobs))
    assert derived(store.get_stats("digits")) == scanned(store)


def _forget_counters(store: Store) -> int:
    """Make ``store`` look like a data dir from before the counters (and the marker) existed.

    Returns how many counters were removed.
    """
    names = (counters.VERSION_KEY, *counters.DERIVED[2:])
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:
            gone = db.execute(
                "DELETE FROM stats WHERE " + " OR ".join("substr(name, 1, ?) = ?" for _ in names),
                [x for name in names for x in (len(name), name)],
            ).rowcount
        db.close()
        return gone
    client = store.r  # type: ignore[attr-defined]
    key = "cg:{p:digits}:stats"
    stale = [k for k in client.hkeys(key) if k.decode().startswith(names)]
    return client.hdel(key, *stale)


def _reopen(store: Store) -> Store:
    if isinstance(store, SqliteStore):
        return open_store(f"sqlite:///{store.path}")
    return open_store(store.uri)  # type: ignore[attr-defined]


def test_a_project_from_before_the_counters_is_counted_once_on_open(store: Store) -> None:
    make_project(store)
    store.put_items([entry(i) for i in range(6)] + [entry(6, "2")])
    passed(store, "a", ids(4), NOW)
    store.update_item("digits", ids(1)[0], state=SETTLED, label="1", confidence=0.8, settled_at=NOW)
    store.incr_stats("digits", challenges_issued=7)
    before = store.get_stats("digits")
    assert _forget_counters(store) >= 6
    old = _reopen(store)
    try:
        assert old.get_stats("digits") == before
        # counted once: a vote after the backfill adds to it, and a second open changes nothing
        passed(old, "b", ids(6)[4:], NOW)
        after = old.get_stats("digits")
        assert after["open_voted"] == before["open_voted"] + 2
        assert _reopen(old).get_stats("digits") == after
    finally:
        old.close()


def test_page_items_walks_every_item_once_by_key_while_items_change_state(
    store: Store,
) -> None:
    make_project(store)
    store.put_items(entry(i) for i in range(23))
    order = [i.id for i in store.list_items("digits", limit=100)]
    seen, after = [], 0
    page = store.page_items("digits", after=after, limit=7)
    while True:
        seen += [i.id for i in page.items]
        if len(seen) == 7:
            # an item of the first page leaves the unlabeled set: no later item is skipped
            store.update_item("digits", seen[0], state=SETTLED, label="1", confidence=0.9)
        if page.next is None:
            break
        page = store.page_items("digits", after=page.next, limit=7)
    assert seen == order
    open_ids, after_key = [], 0
    while True:
        page = store.page_items("digits", state=UNLABELED, after=after_key, limit=5)
        open_ids += [i.id for i in page.items]
        if page.next is None:
            break
        after_key = page.next
    assert open_ids == order[1:]
    assert store.page_items("digits", state=GOLD).items == []


def test_put_items_merges_duplicates_as_put_item_does(store: Store) -> None:
    make_project(store)
    assert store.put_items([entry(1), entry(2, "1")], batch=1) == 2
    assert store.put_items([entry(2, "1"), entry(3)]) == 1
    assert store.count_items("digits") == {"unlabeled": 2, "settled": 0, "gold": 1}
    assert store.get_blob("digits", ids(4)[3], "thumb") == b"T3"
    assert store.gold_labels("digits") == {"1": 1}


def test_put_batch_says_which_entries_were_new(store: Store) -> None:
    # the importer reports added and duplicate files from these flags, in source order
    make_project(store)
    assert store.put_batch([entry(1), entry(2, "1")]) == [True, True]
    assert store.put_batch([entry(2, "1"), entry(3), entry(3), entry(1)]) == [
        False,
        True,
        False,
        False,
    ]
    assert store.put_batch([]) == []
    assert store.count_items("digits") == {"unlabeled": 2, "settled": 0, "gold": 1}
    assert store.get_blob("digits", ids(4)[3], "thumb") == b"T3"


def test_put_batch_of_two_projects_longer_than_a_write_chunk_keeps_each_exact(
    store: Store,
) -> None:
    # a batch is written per project in chunks (Redis: 250 items a script call); every item
    # lands once, in its own project, and the pools it joins stay dense for sampling
    make_project(store)
    make_project(store, "other")
    batch = [
        entry(n, "1" if n % 4 == 0 else None, pid=("digits", "other")[n % 2]) for n in range(700)
    ]
    batch += [entry(3, pid="other"), entry(4, "1")]  # already earlier in the batch
    flags = store.put_batch(batch)
    assert flags == [True] * 700 + [False, False]
    for pid in ("digits", "other"):
        mine = [item for item, _, _ in batch[:700] if item.project == pid]
        gold = sorted(i.id for i in mine if i.state == GOLD)
        opened = sorted(i.id for i in mine if i.state == UNLABELED)
        assert store.count_items(pid) == {
            "unlabeled": len(opened),
            "settled": 0,
            "gold": len(gold),
        }
        assert sorted(store.sample_gold(pid, {"1": 1000})["1"]) == gold
        assert sorted(store.sample_open(pid, 1000)) == opened
        assert [i.id for i in store.iter_items(pid)] == [i.id for i in mine]
        assert store.get_features(pid, [mine[-1].id])[mine[-1].id][0] == int(
            mine[-1].filename[3:-4]
        )


def test_put_items_gives_gold_decoys_paired_as_one_put_at_a_time_would(store: Store) -> None:
    labels = [str(i) for i in range(5)]
    store.create_project(Project(id="digits", name="D", labels=labels, created_at=NOW))
    gold = [entry(n, labels[n % 5]) for n in range(200)]
    assert store.put_items(gold) == 200
    items = store.list_items("digits", state=GOLD, limit=500)
    assert all(i.decoy in labels and i.decoy != i.known_label for i in items)
    pairs = Counter((str(i.known_label), str(i.decoy)) for i in items)
    assert decoys.pairs_of(store.get_stats("digits")) == dict(pairs)
    for label in labels:
        drawn = store.sample_decoys("digits", {label: 300})[label]
        assert sorted(drawn) == sorted(i.id for i in items if i.decoy == label)
    # Chosen on counters that count the batch's earlier gold, each (class, decoy) count stays
    # near its mirror's: at most 12 unmatched over 20,000 simulated imports of this order (2.5
    # on average), 31 on average when a batch's decoys are chosen on the counters before it.
    unmatched = sum(abs(pairs[a, b] - pairs[b, a]) for a, b in itertools.combinations(labels, 2))
    assert unmatched <= 16
    # an import run again adds nothing, and leaves the pools and pair counters as they were
    assert store.put_items(gold[::7]) == 0
    assert decoys.pairs_of(store.get_stats("digits")) == dict(pairs)
    assert sum(len(store.sample_decoys("digits", {lab: 300})[lab]) for lab in labels) == 200
