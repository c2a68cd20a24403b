"""The store contract: every backend (SQLite file, real redis-server) behaves the same."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from crowdgate.errors import Conflict
from crowdgate.models import (
    GOLD,
    SETTLED,
    ApiKey,
    Challenge,
    Item,
    Project,
    Site,
    Slot,
    TokenRecord,
    Vote,
)
from crowdgate.store import Store
from crowdgate.store.base import (
    EXPIRED,
    REDEEMED,
    SPENT,
    UNKNOWN,
    Redemption,
    token_digest,
)
from crowdgate.store.sqlite import SqliteStore
from seed import numbered_item

NOW = 1_800_000_000.0


def make_project(store: Store, pid: str = "digits") -> Project:
    project = Project(id=pid, name="Digits", labels=["0", "1", "2"], created_at=NOW)
    store.create_project(project)
    return project


def add_item(store: Store, n: int, *, label: str | None = None, pid: str = "digits") -> Item:
    item = numbered_item(n, label, created_at=NOW, pid=pid)
    store.put_item(
        item, {"image": b"I%d" % n, "thumb": b"T%d" % n}, np.arange(4, dtype=np.float32) + n
    )
    return item


def make_vote(item: Item, voter: str, answer: bool = True) -> Vote:
    return Vote(
        project=item.project,
        item=item.id,
        label="1",
        answer=answer,
        voter=voter,
        network="net",
        challenge="digits.c",
        gold_score=1.0,
        ts=NOW,
    )


def make_token(token: str = "digits.tok", ttl: float = 120) -> TokenRecord:
    return TokenRecord(
        token=token,
        sitekey="sk",
        hostname="example.com",
        project="digits",
        challenge_ts=NOW,
        expires_at=NOW + ttl,
    )


def test_check_answers_on_a_live_store(store: Store) -> None:
    store.check()


def test_project_round_trips_and_duplicate_id_conflicts(store: Store) -> None:
    project = make_project(store)
    assert store.get_project("digits") == project
    with pytest.raises(Conflict):
        make_project(store)
    project.labels.append("3")
    store.save_project(project)
    assert store.get_project("digits").labels == ["0", "1", "2", "3"]
    assert [p.id for p in store.list_projects()] == ["digits"]
    assert store.get_project("missing") is None


def test_put_item_merges_duplicates_and_keeps_blobs_and_features(store: Store) -> None:
    make_project(store)
    item = add_item(store, 1)
    again = Item(project="digits", id=item.id, filename="other.png")
    assert store.put_item(again, {"image": b"x"}, None) is False
    got = store.get_item("digits", item.id)
    assert got.filename == "img1.png"
    assert store.get_blob("digits", item.id, "image") == b"I1"
    assert store.get_blob("digits", item.id, "thumb") == b"T1"
    assert store.get_blob("digits", item.id, "v0") is None
    feats = store.get_features("digits", [item.id, "f" * 64])
    assert list(feats) == [item.id]
    np.testing.assert_array_equal(feats[item.id], np.arange(4, dtype=np.float32) + 1)
    assert store.count_items("digits") == {"unlabeled": 1, "settled": 0, "gold": 0}


def test_get_items_reads_many_items_at_once_and_omits_missing_ones(store: Store) -> None:
    make_project(store)
    make_project(store, "other")
    items = [add_item(store, n, label="1" if n % 3 == 0 else None) for n in range(1203)]
    add_item(store, 5000, pid="other")
    store.set_committee_labels("digits", 4, [(items[7].id, "2", 0.75)])
    store.update_item("digits", items[8].id, state=SETTLED, label="0", confidence=0.9)
    wanted = [i.id for i in reversed(items)] + ["f" * 64, items[3].id]
    got = store.get_items("digits", wanted)
    # more ids than one batch of either backend, each read as get_item reads it
    assert set(got) == {i.id for i in items}
    for item in (items[0], items[7], items[8], items[1202]):
        assert got[item.id] == store.get_item("digits", item.id)
    assert got[items[7].id].committee_label == "2"
    assert got[items[8].id].state == SETTLED
    # another project's item is not this one's
    other = numbered_item(5000, None, created_at=NOW, pid="other").id
    assert store.get_items("digits", [other]) == {}
    assert list(store.get_items("other", [other])) == [other]
    assert store.get_items("digits", []) == {}


def test_get_blobs_returns_each_pair_in_order_with_none_where_missing(store: Store) -> None:
    make_project(store)
    one, two = add_item(store, 1), add_item(store, 2)
    wanted = [(two.id, "thumb"), (one.id, "v0"), (one.id, "image"), ("f" * 64, "thumb")]
    assert store.get_blobs("digits", wanted) == [b"T2", None, b"I1", None]
    assert store.get_blobs("digits", wanted[:1] * 3) == [b"T2"] * 3
    assert store.get_blobs("digits", []) == []


def test_items_list_in_insertion_order_and_filter_by_state(store: Store) -> None:
    make_project(store)
    items = [add_item(store, n, label="1" if n % 2 else None) for n in range(7)]
    assert [i.id for i in store.list_items("digits")] == [i.id for i in items]
    assert [i.id for i in store.list_items("digits", offset=2, limit=3)] == [
        i.id for i in items[2:5]
    ]
    assert [i.id for i in store.list_items("digits", state=GOLD)] == [
        i.id for i in items if i.state == GOLD
    ]
    assert [i.id for i in store.iter_items("digits", batch=2)] == [i.id for i in items]
    assert store.count_items("digits") == {"unlabeled": 4, "settled": 0, "gold": 3}
    assert store.gold_labels("digits") == {"1": 3}


def test_sampling_returns_distinct_members_of_the_right_pool(store: Store) -> None:
    make_project(store)
    gold1 = {add_item(store, n, label="1").id for n in range(5)}
    gold2 = {add_item(store, n, label="2").id for n in range(5, 8)}
    open_ids = {add_item(store, n).id for n in range(8, 20)}
    drawn = store.sample_gold("digits", {"1": 3, "2": 10, "0": 3})
    picked = drawn["1"]
    assert len(picked) == len(set(picked)) >= 1 and set(picked) <= gold1
    assert set(drawn["2"]) <= gold2 and len(drawn["2"]) >= 1
    assert drawn["0"] == []
    sample = store.sample_open("digits", 6)
    assert len(sample) == len(set(sample)) >= 3 and set(sample) <= open_ids
    seen = set()
    for _ in range(30):
        seen.update(store.sample_open("digits", 6))
    assert len(seen) > 6, "sampling must not always return the same items"


def test_update_item_moves_state_and_keeps_counters_true(store: Store) -> None:
    make_project(store)
    item = add_item(store, 1)
    store.update_item("digits", item.id, state=SETTLED, label="2", confidence=0.97)
    got = store.get_item("digits", item.id)
    assert (got.state, got.label, got.confidence) == (SETTLED, "2", 0.97)
    assert store.count_items("digits") == {"unlabeled": 0, "settled": 1, "gold": 0}
    assert store.sample_open("digits", 3) == []
    store.update_item("digits", item.id, state=GOLD, known_label="2")
    assert store.gold_labels("digits") == {"2": 1}
    assert store.sample_gold("digits", {"2": 3}) == {"2": [item.id]}
    assert [i.id for i in store.list_items("digits", state=GOLD)] == [item.id]


def test_sites_find_by_sitekey_and_secret_hash_and_rotate(store: Store) -> None:
    site = Site(
        sitekey="sk1",
        name="Shop",
        secret_hash="h1",
        hostnames=["shop.example"],
        project="digits",
        created_at=NOW,
    )
    store.create_site(site)
    with pytest.raises(Conflict):
        store.create_site(site)
    assert store.get_site("sk1") == site
    assert store.get_site_by_secret("h1") == site
    store.set_site_secret("sk1", "h2")
    assert store.get_site_by_secret("h1") is None
    assert store.get_site_by_secret("h2").sitekey == "sk1"
    assert [s.sitekey for s in store.list_sites()] == ["sk1"]


def test_saving_a_site_changes_its_settings_but_never_its_secret(store: Store) -> None:
    site = Site(
        sitekey="sk1", name="Shop", secret_hash="h1", hostnames=["a.example"], project="digits"
    )
    store.create_site(site)
    store.set_site_secret("sk1", "h2")
    stale = Site(**{**site.to_dict(), "pow_bits": 12, "name": "Shop 2"})
    store.save_site(stale)
    got = store.get_site("sk1")
    assert (got.pow_bits, got.name, got.secret_hash) == (12, "Shop 2", "h2")
    assert store.get_site_by_secret("h2").pow_bits == 12
    assert store.get_site_by_secret("h1") is None
    store.save_site(Site(**{**site.to_dict(), "sitekey": "missing"}))
    assert store.get_site("missing") is None


def test_apikeys_are_found_by_hash_and_revoked_by_id(store: Store) -> None:
    key = ApiKey(id="k1", name="ci", key_hash="hh", created_at=NOW)
    store.create_apikey(key)
    assert store.get_apikey_by_hash("hh") == key
    assert store.revoke_apikey("k1") is True
    assert store.get_apikey_by_hash("hh").revoked is True
    assert store.revoke_apikey("nope") is False
    assert [k.id for k in store.list_apikeys()] == ["k1"]


def make_challenge(cid: str = "digits.abc", ttl: float = 600) -> Challenge:
    return Challenge(
        id=cid,
        sitekey="sk",
        project="digits",
        label="1",
        hostname="h",
        voter="v",
        network="n",
        slots=[Slot(item="a" * 64, gold=True, truth=True)],
        issued_at=NOW,
        expires_at=NOW + ttl,
    )


def test_challenge_is_taken_once(store: Store) -> None:
    challenge = make_challenge()
    store.put_challenge(challenge)
    assert store.get_challenge(challenge.id, NOW) == challenge
    assert store.take_challenge(challenge.id, NOW + 1) == challenge
    assert store.take_challenge(challenge.id, NOW + 1) is None
    assert store.get_challenge(challenge.id, NOW + 1) is None
    assert store.take_challenge("nonsense", NOW) is None


def test_expired_challenge_cannot_be_taken(store: Store) -> None:
    store.put_challenge(make_challenge(ttl=10))
    assert store.get_challenge("digits.abc", NOW + 11) is None
    assert store.take_challenge("digits.abc", NOW + 11) is None


def test_record_pass_keeps_one_vote_per_voter_and_respects_cap_and_state(store: Store) -> None:
    make_project(store)
    a, b, c = (add_item(store, n) for n in range(3))
    store.update_item("digits", c.id, state=SETTLED, label="1")
    kept = store.record_pass(
        "digits",
        [make_vote(a, "v1"), make_vote(b, "v1"), make_vote(c, "v1")],
        make_token("digits.t1"),
        vote_cap=2,
    )
    assert [e.item for e in kept] == [a.id, b.id]
    kept = store.record_pass(
        "digits", [make_vote(a, "v1"), make_vote(a, "v2")], make_token("digits.t2"), vote_cap=2
    )
    assert [e.item for e in kept] == [a.id] and kept[0].votes == 2
    kept = store.record_pass("digits", [make_vote(a, "v3")], make_token("digits.t3"), vote_cap=2)
    assert kept == []
    assert store.get_item("digits", a.id).votes == 2
    assert [v.voter for v in store.list_votes("digits", a.id)] == ["v1", "v2"]
    assert len(store.list_votes("digits")) == 3
    assert store.get_stats("digits")["votes"] == 3
    assert store.get_stats("digits")["challenges_passed"] == 3


def test_votes_accumulate_live_evidence_per_label_and_network(store: Store) -> None:
    make_project(store)
    item = add_item(store, 1)
    votes = [
        Vote(
            project="digits",
            item=item.id,
            label="1",
            answer=True,
            voter="v1",
            network="n1",
            challenge="digits.c1",
            gold_score=1.0,
            ts=NOW,
            weight=1.5,
        ),
        Vote(
            project="digits",
            item=item.id,
            label="2",
            answer=False,
            voter="v2",
            network="n1",
            challenge="digits.c2",
            gold_score=1.0,
            ts=NOW,
            weight=-1.5,
        ),
        Vote(
            project="digits",
            item=item.id,
            label="1",
            answer=True,
            voter="v3",
            network="n2",
            challenge="digits.c3",
            gold_score=1.0,
            ts=NOW,
            weight=1.5,
        ),
    ]
    last = None
    for n, vote in enumerate(votes):
        last = store.record_pass("digits", [vote], make_token(f"digits.e{n}"), vote_cap=10)
    assert last[0].loglik == pytest.approx({"1": 3.0, "2": -1.5})
    assert (last[0].votes, last[0].networks) == (3, 2)
    again = store.get_evidence("digits", item.id)
    assert again.loglik == pytest.approx({"1": 3.0, "2": -1.5}) and again.networks == 2
    assert store.get_evidence("digits", "0" * 64).votes == 0


def test_queue_picks_among_the_best_open_items_and_skips_closed_ones(store: Store) -> None:
    make_project(store)
    items = [add_item(store, n) for n in range(10)]
    ranked = [(item.id, 10.0 - n) for n, item in enumerate(items)]
    store.set_queue("digits", "1", ranked)
    picked = store.pick_queue("digits", "1", 3, top_k=4, vote_cap=5)
    assert len(picked) == 3 and set(picked) <= {i.id for i in items[:4]}
    store.update_item("digits", items[0].id, state=SETTLED, label="1")
    for _ in range(10):
        assert items[0].id not in store.pick_queue("digits", "1", 4, top_k=4, vote_cap=5)
    assert store.pick_queue("digits", "2", 3, top_k=4, vote_cap=5) == []
    store.set_queue("digits", "1", [(items[9].id, 1.0)])
    assert store.pick_queue("digits", "1", 3, top_k=4, vote_cap=5) == [items[9].id]


def test_rank_queue_moves_and_adds_items_without_replacing_the_queue(store: Store) -> None:
    make_project(store)
    items = [add_item(store, n) for n in range(6)]
    store.set_queue("digits", "1", [(item.id, 10.0 - n) for n, item in enumerate(items[:4])])
    store.rank_queue("digits", {"1": {items[3].id: 100.0, items[0].id: -1.0}, "2": {}})
    assert store.pick_queue("digits", "1", 1, top_k=1, vote_cap=5) == [items[3].id]
    assert set(store.pick_queue("digits", "1", 4, top_k=4, vote_cap=5)) == {i.id for i in items[:4]}
    store.rank_queue("digits", {"2": {items[5].id: 1.0}})
    assert store.pick_queue("digits", "2", 3, top_k=4, vote_cap=5) == [items[5].id]
    assert items[5].id not in store.pick_queue("digits", "1", 6, top_k=6, vote_cap=5)


def test_record_pass_sets_the_scores_its_ranker_gives_from_the_evidence(store: Store) -> None:
    make_project(store)
    items = [add_item(store, n) for n in range(4)]
    store.set_queue("digits", "1", [(item.id, 10.0 - n) for n, item in enumerate(items)])
    seen = []

    def rank(evidence):
        seen.append([(e.item, e.votes) for e in evidence])
        return {"1": {items[3].id: 100.0}, "2": {items[0].id: 5.0}}

    votes = [make_vote(items[3], "v1"), make_vote(items[2], "v1")]
    got = store.record_pass("digits", votes, make_token("digits.r1"), vote_cap=5, rank=rank)
    assert seen == [[(items[3].id, 1), (items[2].id, 1)]] == [[(e.item, e.votes) for e in got]]
    assert store.pick_queue("digits", "1", 1, top_k=1, vote_cap=5) == [items[3].id]
    assert store.pick_queue("digits", "2", 3, top_k=4, vote_cap=5) == [items[0].id]
    # no vote kept (the same voter again): nothing to rank, and the ranker is not asked
    store.record_pass("digits", votes[:1], make_token("digits.r2"), vote_cap=5, rank=rank)
    assert len(seen) == 1


def test_committee_labels_and_model_versions_are_recorded(store: Store) -> None:
    make_project(store)
    a, b = add_item(store, 1), add_item(store, 2)
    assert store.list_models("digits") == []
    version = store.put_model("digits", {"metrics": {"cv_accuracy": 0.9}})
    assert version == 1
    assert store.put_model("digits", {"metrics": {"cv_accuracy": 0.95}}) == 2
    assert [m["version"] for m in store.list_models("digits")] == [1, 2]
    store.set_committee_labels("digits", 2, [(a.id, "1", 0.75), (b.id, "0", 0.5)])
    got = store.get_item("digits", a.id)
    assert (got.committee_label, got.committee_confidence, got.model_version) == ("1", 0.75, 2)
    assert [i.committee_label for i in store.list_items("digits")] == ["1", "0"]


def test_lock_has_one_owner_until_released_or_expired(store: Store) -> None:
    assert store.acquire_lock("trainer:digits", "a", 30) is True
    assert store.acquire_lock("trainer:digits", "b", 30) is False
    assert store.acquire_lock("trainer:digits", "a", 30) is True
    store.release_lock("trainer:digits", "b")
    assert store.acquire_lock("trainer:digits", "b", 30) is False
    store.release_lock("trainer:digits", "a")
    assert store.acquire_lock("trainer:digits", "b", 0.05) is True
    import time

    time.sleep(0.1)
    assert store.acquire_lock("trainer:digits", "a", 30) is True


def test_token_redeems_once(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.once"), vote_cap=3)
    record = store.redeem_token("digits.once", NOW + 1, "sk")
    assert record is not None and record.hostname == "example.com" and record.sitekey == "sk"
    assert store.redeem_token("digits.once", NOW + 1, "sk") is None
    assert store.redeem_token("digits.never", NOW + 1, "sk") is None
    assert store.redeem_token("garbage", NOW + 1, "sk") is None


def test_token_of_another_site_is_neither_returned_nor_consumed(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.mine"), vote_cap=3)
    assert store.redeem_token("digits.mine", NOW + 1, "other-site") is None
    assert store.redeem_token("digits.mine", NOW + 1, "sk") is not None


def test_expired_token_is_refused(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.late", ttl=120), vote_cap=3)
    assert store.redeem_token("digits.late", NOW + 121, "sk") is None


def test_issued_challenges_are_counted_except_test_ones(store: Store) -> None:
    store.put_challenge(make_challenge("digits.one"))
    test = make_challenge("_test.two")
    test.test = True
    test.project = "_test"
    store.put_challenge(test)
    assert store.get_stats("digits") == {"challenges_issued": 1}
    assert store.get_stats("_test") == {}


def test_stats_add_up(store: Store) -> None:
    store.incr_stats("digits", issued=2, passed=1)
    store.incr_stats("digits", issued=1)
    assert store.get_stats("digits") == {"issued": 3, "passed": 1}


def test_token_redeems_by_its_sites_current_secret_only(store: Store) -> None:
    make_project(store)
    store.create_site(
        Site(
            sitekey="sk",
            name="Shop",
            secret_hash="h1",
            hostnames=["a.b"],
            project="digits",
            created_at=NOW,
        )
    )
    store.record_pass("digits", [], make_token("digits.s1"), vote_cap=3)
    assert store.redeem_token("digits.s1", NOW + 1, secret_hash="wrong") is None
    assert store.redeem_token("digits.s1", NOW + 1, secret_hash="h1").sitekey == "sk"
    store.record_pass("digits", [], make_token("digits.s2"), vote_cap=3)
    store.set_site_secret("sk", "h2")
    assert store.redeem_token("digits.s2", NOW + 1, secret_hash="h1") is None
    assert store.redeem_token("digits.s2", NOW + 1, secret_hash="h2") is not None


def test_one_network_gives_an_item_at_most_network_cap_votes(store: Store) -> None:
    make_project(store)
    item = add_item(store, 1)

    def vote(voter: str, network: str) -> Vote:
        return Vote(
            project="digits",
            item=item.id,
            label="1",
            answer=True,
            voter=voter,
            network=network,
            challenge="digits.c",
            gold_score=1.0,
            ts=NOW,
            weight=1.0,
        )

    kept = [
        store.record_pass(
            "digits",
            [vote(f"v{n}", "same-net")],
            make_token(f"digits.n{n}"),
            vote_cap=15,
            network_cap=2,
        )
        for n in range(4)
    ]
    assert [len(k) for k in kept] == [1, 1, 0, 0]
    other = store.record_pass(
        "digits", [vote("v9", "other-net")], make_token("digits.o"), vote_cap=15, network_cap=2
    )
    assert (other[0].votes, other[0].networks) == (3, 2)


def test_sampling_a_small_pool_returns_all_of_it(store: Store) -> None:
    make_project(store)
    items = {add_item(store, n).id for n in range(6)}
    for _ in range(20):
        assert set(store.sample_open("digits", 6)) == items


def test_sampling_draws_every_pool_member_equally_often_despite_gaps(store: Store) -> None:
    # Gold of label "1" sits between long runs of other items, and some of it leaves the
    # pool: a sampler that seeks a random insertion number and takes the next row would
    # favour the items right after a gap (issue 12). Each of the 12 left is drawn with
    # probability 3/12 per call; over 1,200 calls a fair sampler gives each about 300.
    make_project(store)
    gold: list[str] = []
    n = 0
    for run in (1, 9, 1, 30, 2, 1, 60, 1, 1, 1, 4, 1, 1, 1):
        for _ in range(run):
            add_item(store, n)
            n += 1
        gold.append(add_item(store, n, label="1").id)
        n += 1
    for gone in gold[:2]:
        store.update_item("digits", gone, state=SETTLED, label="1", known_label=None)
    store.update_item("digits", gold[5], state=SETTLED, label="1", known_label=None)
    store.update_item("digits", gold[5], state=GOLD, known_label="1")
    left = gold[2:]
    counts = dict.fromkeys(left, 0)
    for _ in range(1200):
        drawn = store.sample_gold("digits", {"1": 3})["1"]
        assert len(drawn) == len(set(drawn)) == 3
        for item in drawn:
            counts[item] += 1
    assert set(counts) == set(left)
    # 300 expected each; binomial sd ~15, so 230..370 is a ~4.6 sd band per item
    assert all(230 <= c <= 370 for c in counts.values()), counts
    opened = [store.sample_open("digits", 1)[0] for _ in range(600)]
    assert len(set(opened)) > 100, "the open pool must be sampled across all of its items"


def test_peek_shows_a_live_token_without_spending_it(store: Store) -> None:
    make_project(store)
    record = make_token("digits.peek")
    record.challenge, record.gold = "digits.c", ["a" * 64, "b" * 64]
    store.record_pass("digits", [], record, vote_cap=3)
    seen = store.peek_token("digits.peek", NOW + 1)
    assert seen is not None and seen.gold == ["a" * 64, "b" * 64] and seen.challenge == "digits.c"
    assert store.peek_token("digits.peek", NOW + 121) is None
    assert store.peek_token("nonsense", NOW) is None
    assert store.redeem_token("digits.peek", NOW + 1, "sk") is not None
    assert store.peek_token("digits.peek", NOW + 1) is None


def test_a_proof_is_spent_once_per_kind_and_digest(store: Store) -> None:
    assert store.spend_once("pow", "d1", NOW, 60) is True
    assert store.spend_once("pow", "d1", NOW + 1, 60) is False
    assert store.spend_once("pow", "d2", NOW, 60) is True
    assert store.spend_once("other", "d1", NOW, 60) is True


def test_a_spent_proof_can_be_spent_again_after_its_ttl(store: Store) -> None:
    assert store.spend_once("pow", "d1", NOW, 0.05) is True
    import time

    time.sleep(0.1)
    assert store.spend_once("pow", "d1", NOW + 0.1, 60) is True
    assert store.spend_once("pow", "d1", NOW + 0.2, 60) is False


def test_racing_spenders_of_one_proof_see_one_success(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda _: store.spend_once("pow", "race", NOW, 60), range(16)))
    assert wins.count(True) == 1


def test_redeem_tells_never_issued_from_spent_and_expired(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.used", ttl=120), vote_cap=3)
    store.record_pass("digits", [], make_token("digits.old", ttl=120), vote_cap=3)
    assert store.redeem("digits.never", NOW + 1, "sk").outcome == UNKNOWN
    assert store.redeem("no-project-part", NOW + 1, "sk").outcome == UNKNOWN
    first = store.redeem("digits.used", NOW + 1, "sk")
    assert first.outcome == REDEEMED and first.record.hostname == "example.com"
    assert store.redeem("digits.used", NOW + 2, "sk") == Redemption(SPENT)
    # a spent token stays spent, also after it would have expired
    assert store.redeem("digits.used", NOW + 200, "sk") == Redemption(SPENT)
    assert store.redeem("digits.old", NOW + 121, "sk") == Redemption(EXPIRED)
    assert store.redeem("digits.old", NOW + 122, "sk") == Redemption(SPENT)


def test_a_token_of_another_site_is_unknown_to_it_and_stays_live(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.theirs"), vote_cap=3)
    assert store.redeem("digits.theirs", NOW + 1, "other-site") == Redemption(UNKNOWN)
    assert store.redeem("digits.theirs", NOW + 1, "sk").outcome == REDEEMED


def test_the_tombstone_holds_the_digest_only(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.tomb"), vote_cap=3)
    assert store.redeem("digits.tomb", NOW + 1, "sk").outcome == REDEEMED
    assert store.peek_token("digits.tomb", NOW + 1) is None
    if isinstance(store, SqliteStore):
        rows = store._q("SELECT kind, digest FROM spent", ())
        assert [tuple(r) for r in rows] == [("token", token_digest("digits.tomb"))]
        assert store._q("SELECT count(*) FROM tokens", ())[0][0] == 0
    else:
        digest = token_digest("digits.tomb")
        assert store.r.exists("cg:{p:digits}:tok:" + digest) == 0
        gone = "cg:{p:digits}:gone:" + digest
        assert store.r.get(gone) == b"1" and 0 < store.r.pttl(gone) <= 240_000


def test_100_concurrent_redeems_of_one_token_give_one_record(store: Store) -> None:
    make_project(store)
    store.record_pass("digits", [], make_token("digits.race"), vote_cap=3)
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(
            pool.map(lambda _: store.redeem("digits.race", NOW + 1, "sk").outcome, range(100))
        )
    assert outcomes.count(REDEEMED) == 1 and outcomes.count(SPENT) == 99


def test_gold_gets_a_secret_decoy_and_sits_in_that_labels_decoy_pool(store: Store) -> None:
    # Gold arrives one label after another, the hardest order for pairing decoys (their
    # balance is pinned with a seeded draw in tests/test_grid_decoys.py).
    project = Project(id="digits", name="D", labels=["0", "1", "2", "3"], created_at=NOW)
    store.create_project(project)
    n = 0
    for label, count in (("0", 12), ("1", 8), ("2", 12), ("3", 8)):
        for _ in range(count):
            add_item(store, n, label=label)
            n += 1
    gold = store.list_items("digits", state=GOLD, limit=100)
    assert all(i.decoy in project.labels and i.decoy != i.known_label for i in gold)
    pairs: dict[tuple[str, str], int] = {}
    for item in gold:
        key = (str(item.known_label), str(item.decoy))
        pairs[key] = pairs.get(key, 0) + 1
    labels = project.labels
    # a guess from the pair counts alone (the likelier class of an item's two labels) is
    # right for at most 0.70 of the gold over 5,000 simulated imports of this order
    guess = sum(max(pairs.get((a, b), 0), pairs.get((b, a), 0)) for a in labels for b in labels)
    assert guess / 2 / len(gold) <= 0.75
    sets = store.gold_sets("digits")
    assert {lab: n for lab, (n, _) in sets.items()} == {"0": 12, "1": 8, "2": 12, "3": 8}
    assert {lab: m for lab, (_, m) in sets.items()} == {
        lab: sum(i.decoy == lab for i in gold) for lab in labels
    }
    for label in labels:
        drawn = store.sample_decoys("digits", {label: 50})[label]
        assert sorted(drawn) == sorted(i.id for i in gold if i.decoy == label)


def test_an_items_decoy_pool_follows_it_out_of_gold_and_back(store: Store) -> None:
    make_project(store)
    item = add_item(store, 1, label="1")
    decoy = store.get_item("digits", item.id).decoy  # type: ignore[union-attr]
    assert decoy in ("0", "2")
    assert store.sample_decoys("digits", {decoy: 5}) == {decoy: [item.id]}
    assert store.gold_sets("digits") == {"1": (1, 0), decoy: (0, 1)}
    store.update_item("digits", item.id, state=SETTLED, known_label=None)
    assert store.sample_decoys("digits", {decoy: 5}) == {decoy: []}
    assert store.gold_sets("digits") == {}
    store.update_item("digits", item.id, state=GOLD, known_label="1")
    assert store.get_item("digits", item.id).decoy == decoy  # type: ignore[union-attr]
    assert store.sample_decoys("digits", {decoy: 5}) == {decoy: [item.id]}
    # a promoted item (settled, then gold) gets a decoy too, and a new label's gold its own
    other = add_item(store, 2)
    store.update_item("digits", other.id, state=GOLD, known_label="2", label="2")
    got = store.get_item("digits", other.id)
    assert got is not None and got.decoy in ("0", "1")
    drawn = store.draw_grid("digits", "1", 0, {"1": 3}, decoys={got.decoy: 3, "2": 3})
    assert drawn.gold == {"1": [item.id]}
    assert other.id in drawn.decoy[got.decoy]
    assert drawn.decoy["2"] == ([item.id] if decoy == "2" else [])


def test_gold_imported_before_decoys_gets_one_once(store: Store) -> None:
    from crowdgate.challenge.grid import gold_sets_of

    # Items put while their project is unknown to the store get no decoy, as gold made by
    # an earlier version has none; the first grid's read gives them one.
    for n in range(6):
        add_item(store, n, label=str(n % 3))
    assert all(i.decoy is None for i in store.list_items("digits", state=GOLD))
    assert store.gold_sets("digits") == {"0": (2, 0), "1": (2, 0), "2": (2, 0)}
    make_project(store)
    sets = gold_sets_of(store, "digits")
    assert sum(m for _, m in sets.values()) == 6 and store.gold_sets("digits") == sets
    assert all(i.decoy not in (None, i.known_label) for i in store.list_items("digits"))
