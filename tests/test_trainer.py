"""The trainer and consensus: retrain, queues, committee labels, live and full settling."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from crowdgate import consensus, goldpool, trainer
from crowdgate.challenge import ChallengeService, Client
from crowdgate.cli import main
from crowdgate.committee import Committee, score_pool
from crowdgate.config import Settings
from crowdgate.models import GOLD, SETTLED, UNLABELED
from digits_project import make_digits_project
from seed import seed_project


@pytest.fixture
def digits(store, tmp_path):
    truth = make_digits_project(store, tmp_path / "img")
    return store.get_project("digits"), truth


def test_retrain_records_a_model_and_labels_every_open_item(store, digits):
    project, _ = digits
    record = trainer.retrain(store, project, random_state=0)
    assert record["version"] == 1 and record["metrics"]["mode"] == "committee"
    assert record["metrics"]["cv_accuracy"] > 0.6
    assert [m["version"] for m in store.list_models("digits")] == [1]
    open_items = store.list_items("digits", state=UNLABELED, limit=1000)
    assert open_items and all(i.committee_label in project.labels for i in open_items)
    assert all(i.model_version == 1 and 0 < i.committee_confidence <= 1 for i in open_items)


def test_capped_passes_fit_on_a_sample_and_label_the_open_pool_in_turning_slices(store, digits):
    project, _ = digits
    counts = store.count_items("digits")
    caps = trainer.Caps(train=40, score=60)
    first = trainer.retrain(store, project, random_state=0, caps=caps)["metrics"]
    # the counts are the project's (``due`` compares n_labeled), the work is the caps'
    assert first["n_labeled"] == counts["gold"] + counts["settled"] > 40
    assert first["n_open"] == counts["unlabeled"] > 120
    assert first["n_trained"] == 40 and first["n_scored"] == 60
    labelled = {i.id for i in store.iter_items("digits") if i.model_version == 1}
    assert len(labelled) == 60
    trainer.retrain(store, project, random_state=0, caps=caps)
    second = {i.id for i in store.iter_items("digits") if i.model_version == 2}
    assert len(second) == 60 and not labelled & second
    assert Settings.from_env({"CROWDGATE_TRAIN_CAP": "0"}, secret_key="k").train_cap == 0


def test_queues_hold_open_items_whose_top_candidates_include_the_label(store, digits):
    project, _ = digits
    trainer.retrain(store, project, random_state=0)
    picked = store.pick_queue("digits", "3", 6, top_k=40, vote_cap=100)
    pool = trainer.load_pool(store, project)
    committee = Committee(random_state=0).fit(pool.X_labeled, pool.y_labeled)
    candidates = score_pool(committee, pool.X_open, random_state=0).candidates
    top2 = dict(zip(pool.open_ids, candidates.tolist(), strict=True))
    assert picked and all("3" in top2[i] for i in picked)


def test_retrain_is_reproducible_with_a_seed(store, digits):
    project, _ = digits
    trainer.retrain(store, project, random_state=7)
    first = store.pick_queue("digits", "1", 200, top_k=200, vote_cap=100)
    trainer.retrain(store, project, random_state=7)
    second = store.pick_queue("digits", "1", 200, top_k=200, vote_cap=100)
    assert sorted(first) == sorted(second)


def test_cold_start_fills_every_queue_with_diverse_picks(store, tmp_path):
    make_digits_project(store, tmp_path / "img", n=60, gold_fraction=0.05)
    record = trainer.retrain(store, store.get_project("digits"), random_state=0)
    assert record["metrics"]["mode"] == "cold-start"
    assert len(store.pick_queue("digits", "7", 5, top_k=40, vote_cap=100)) == 5


def test_due_after_new_labels_and_lock_keeps_one_trainer(store, digits):
    project, _ = digits
    assert trainer.due(store, project, every_labels=5, every_s=3600)
    assert store.acquire_lock("trainer:digits", "someone-else", 60)
    assert trainer.run_once(store, 5, 3600) == []
    store.release_lock("trainer:digits", "someone-else")
    assert trainer.run_once(store, 5, 3600) == [1]
    assert not trainer.due(store, project, every_labels=5, every_s=3600)


def test_two_trainers_of_one_project_never_overlap(store, digits):
    with trainer.hold_lock(store, "digits") as renew:
        with pytest.raises(trainer.LockHeld), trainer.hold_lock(store, "digits"):
            pass
        renew()
    with trainer.hold_lock(store, "digits") as renew:
        store.release_lock("trainer:digits", "nobody")
        renew()


def test_a_retrain_whose_lock_expired_and_was_taken_stops(store, digits, monkeypatch):
    import time

    project, _ = digits
    monkeypatch.setattr(trainer, "LOCK_TTL_S", 0.05)
    with trainer.hold_lock(store, "digits") as renew:
        time.sleep(0.1)
        assert store.acquire_lock("trainer:digits", "second-trainer", 60)
        with pytest.raises(trainer.LockHeld):
            trainer.retrain(store, project, renew=renew)
    assert store.list_models("digits") == []


def _pass_votes(
    service: ChallengeService,
    store,
    sitekey: str,
    n_voters: int,
    item: str,
    answer_for,
    asked: str | None = None,
) -> None:
    """Have ``n_voters`` distinct visitors pass challenges until each voted on ``item``.

    With ``asked``, only grids asking for that label count, so every voter can say yes to it.
    """
    for v in range(n_voters):
        client = Client(address=f"10.{v}.0.1", user_agent=f"ua-{v}", origin_host="shop.example")
        for _ in range(200):
            challenge = service.issue(sitekey, None, client)
            slots = challenge.slots
            if not any(s.item == item for s in slots) or asked not in (None, challenge.label):
                service.store.take_challenge(challenge.id, service.clock())
                continue
            picks = [
                i
                for i, s in enumerate(slots)
                if (s.gold and s.truth) or (not s.gold and answer_for(s.item, challenge.label))
            ]
            assert service.answer(challenge.id, picks, client).success
            break


def test_live_consensus_settles_an_item_after_agreeing_distinct_voters(store, tmp_path):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    service = ChallengeService(store, Settings(data_dir=tmp_path, secret_key="k", cache_ttl_s=0))
    _pass_votes(
        service, store, seeded.sitekey, 8, item, lambda _i, label: label == "circle", "circle"
    )
    got = store.get_item(seeded.project, item)
    assert got.state == SETTLED and got.label == "circle"
    assert got.confidence >= 0.95 and got.consensus_by == consensus.LIVE
    assert len(store.list_votes(seeded.project, item)) >= 3


def test_one_network_alone_cannot_settle_an_item(store, tmp_path):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    service = ChallengeService(store, Settings(data_dir=tmp_path, secret_key="k", cache_ttl_s=0))
    for v in range(8):
        client = Client(address=f"10.0.0.{v + 1}", user_agent=f"ua-{v}")
        challenge = service.issue(seeded.sitekey, "shop.example", client)
        picks = [
            i
            for i, s in enumerate(challenge.slots)
            if (s.gold and s.truth) or (not s.gold and challenge.label == "circle")
        ]
        service.answer(challenge.id, picks, client)
    assert store.get_item(seeded.project, item).state == UNLABELED


def test_live_votes_settle_and_the_worker_promotes_when_the_project_allows_it(store, tmp_path):
    seeded = seed_project(store, open_items=1)
    project = store.get_project(seeded.project)
    project.settings.update(promote_to_gold=True, promote_threshold=0.95)
    store.save_project(project)
    service = ChallengeService(store, Settings(data_dir=tmp_path, secret_key="k", cache_ttl_s=0))
    _pass_votes(
        service,
        store,
        seeded.sitekey,
        8,
        seeded.open[0],
        lambda _i, label: label == "square",
        "square",
    )
    # the answer path only settles: the committee-weighted live posterior never makes gold
    assert store.get_item(seeded.project, seeded.open[0]).state == SETTLED
    assert goldpool.maintain(store, project)["promoted"] == 0  # no committee reading: vetoed
    store.set_committee_labels(seeded.project, 1, [(seeded.open[0], "square", 0.95)])
    goldpool.maintain(store, project)
    got = store.get_item(seeded.project, seeded.open[0])
    assert got.state == GOLD and got.known_label == "square"
    assert store.gold_labels(seeded.project)["square"] == 5


def test_full_rerun_keeps_the_live_label_when_votes_agree(store, tmp_path):
    seeded = seed_project(store, open_items=1)
    service = ChallengeService(store, Settings(data_dir=tmp_path, secret_key="k", cache_ttl_s=0))
    _pass_votes(
        service,
        store,
        seeded.sitekey,
        8,
        seeded.open[0],
        lambda _i, label: label == "triangle",
        "triangle",
    )
    result = consensus.rerun(store, store.get_project(seeded.project), run=1)
    assert result["relabeled"] == 0 and result["votes"] > 0
    assert store.get_item(seeded.project, seeded.open[0]).label == "triangle"


def test_live_posterior_is_uniform_without_votes_and_moves_with_them():
    from crowdgate.models import Project

    project = Project(id="p", name="p", labels=["a", "b", "c"])
    assert np.allclose(consensus.live_posterior(project, {}), 1 / 3)
    w = consensus.vote_weight(project)
    post = consensus.live_posterior(project, {"a": 3 * w})
    assert post.argmax() == 0 and post[0] > 0.95
    assert consensus.decide(project, post, votes=3, networks=3) == 0
    assert consensus.decide(project, post, votes=3, networks=1) is None


def test_retrain_command_prints_the_model_as_json(tmp_path):
    from crowdgate.store import open_store

    uri = f"sqlite:///{tmp_path / 'cg.db'}"
    store = open_store(uri)
    make_digits_project(store, tmp_path / "img", n=120)
    runner = CliRunner()
    env = {"CROWDGATE_STORE": uri, "CROWDGATE_SECRET_KEY": "k"}
    result = runner.invoke(main, ["retrain", "digits", "--json", "--seed", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert '"version": 1' in result.output
    missing = runner.invoke(main, ["retrain", "nope"], env=env)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    # in-process: niceness 0, or the worker would lower the test runner's own priority
    once = runner.invoke(main, ["worker", "--once"], env={**env, "CROWDGATE_WORKER_NICE": "0"})
    assert once.exit_code == 0 and "retrained 0 project(s)" in once.output


def _niceness(pid: int) -> int:
    # field 19 of /proc/PID/stat, counted after the command name's closing parenthesis
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_lowers_its_own_cpu_priority_and_refuses_an_out_of_range_niceness(tmp_path):
    import subprocess
    import sys

    env = {
        **os.environ,
        "CROWDGATE_STORE": f"sqlite:///{tmp_path / 'cg.db'}",
        "CROWDGATE_SECRET_KEY": "k",
        "CROWDGATE_WORKER_NICE": "7",
        "CROWDGATE_WORKER_POLL_S": "0.2",
    }
    args = [sys.executable, "-m", "crowdgate", "worker"]
    with subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert "trainer running" in proc.stderr.readline()  # printed after the drop
            assert _niceness(proc.pid) == min(19, os.nice(0) + 7)
        finally:
            proc.terminate()
            proc.wait(30)
    bad = subprocess.run(
        [*args, "--once"],
        env={**env, "CROWDGATE_WORKER_NICE": "40"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert "CROWDGATE_WORKER_NICE=40 must be between 0 and 19" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_label_queue_finishes_started_items_first_and_skips_split_and_refused():
    from crowdgate.committee import PoolScores
    from crowdgate.models import Project

    project = Project(id="p", name="p", labels=["a", "b", "c"])
    n = 12
    rng = np.random.RandomState(0)
    pool = trainer.Pool([], np.zeros((0, 4)), np.zeros(0), np.zeros(0, bool), [], rng.rand(n, 4))
    top = np.array(list("aabbccaabbca"), dtype=object)
    second = np.array(list("bbaaaabcccab"), dtype=object)
    scored = PoolScores(
        scores=np.linspace(1.0, 0.0, n).astype(np.float32),
        candidates=np.stack([top, second], axis=1),
        confidence=np.full(n, 0.6, np.float32),
        classes=np.array(project.labels, dtype=object),
        measure="vote_entropy",
    )
    started = np.zeros((n, 3), bool)
    started[[4, 9], 0] = True  # the crowd said yes to "a" on items 4 and 9
    cost = np.full((n, 3), 3.0)
    cost[4, 0], cost[9, 0] = 2.0, 1.0
    refused = np.zeros((n, 3), bool)
    refused[0, 0] = True
    split = np.zeros(n, bool)
    split[1] = True
    progress = trainer.Progress(split=split, started=started, refused=refused, cost=cost)
    order = trainer.label_queue(project, pool, scored, progress, "a", seed=0).tolist()
    assert order[:2] == [9, 4]
    fresh = set(order[2:])
    assert not fresh & {0, 1, 4, 9}
    # fresh items are asked about their committee's top reading only, never the runner-up
    assert fresh == {i for i in range(n) if top[i] == "a"} - {0, 1, 4, 9}
    assert not fresh & {i for i in range(n) if second[i] == "a"}


def test_label_queue_retires_started_items_dearer_than_a_fresh_one():
    from crowdgate import consensus
    from crowdgate.committee import PoolScores
    from crowdgate.models import Project

    project = Project(id="p", name="p", labels=["a", "b", "c"])
    n = 8
    pool = trainer.Pool(
        [],
        np.zeros((0, 4)),
        np.zeros(0),
        np.zeros(0, bool),
        [],
        np.random.RandomState(0).rand(n, 4),
    )
    scored = PoolScores(
        scores=np.linspace(1.0, 0.0, n).astype(np.float32),
        candidates=np.stack([np.array(["a"] * n, object), np.array(["b"] * n, object)], axis=1),
        confidence=np.full(n, 0.6, np.float32),
        classes=np.array(project.labels, dtype=object),
        measure="vote_entropy",
    )
    started = np.zeros((n, 3), bool)
    started[[2, 5], 0] = True
    cost = np.full((n, 3), 3.0)
    cap = consensus.retire_cost(int(project.setting("min_votes")))
    cost[2, 0], cost[5, 0] = cap - 0.5, cap + 0.5  # item 5: dearer than a fresh item
    progress = trainer.Progress(
        split=np.zeros(n, bool), started=started, refused=np.zeros((n, 3), bool), cost=cost
    )
    order = trainer.label_queue(project, pool, scored, progress, "a", 0).tolist()
    assert order[0] == 2 and 5 not in order
    assert set(order) == set(range(n)) - {5}
