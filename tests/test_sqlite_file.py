"""The SQLite store file: opened after a fork, and migrated from files of earlier versions."""

from __future__ import annotations

import os
import sqlite3

from crowdgate import manage
from crowdgate.store import open_store


def test_a_forked_child_and_its_parent_both_write_safely(tmp_path):
    uri = f"sqlite:///{tmp_path / 'crowdgate.db'}"
    store = open_store(uri)
    manage.create_project(store, "before", labels=["a", "b"])
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            for n in range(100):
                manage.create_project(store, f"child{n}", labels=["a", "b"])
            store.close()
            status = 0
        finally:
            os._exit(status)
    for n in range(100):
        manage.create_project(store, f"parent{n}", labels=["a", "b"])
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get_project("before") is not None, "the child's close left the parent working"
    ids = {p.id for p in open_store(uri).list_projects()}
    assert {f"child{n}" for n in range(100)} | {f"parent{n}" for n in range(100)} <= ids
    check = sqlite3.connect(tmp_path / "crowdgate.db")
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
    store.close()


def test_a_file_from_before_the_added_columns_is_migrated_in_place(tmp_path):
    path = tmp_path / "crowdgate.db"
    store = open_store(f"sqlite:///{path}")
    manage.create_project(store, "old", labels=["a", "b"])
    store.close()
    db = sqlite3.connect(path)
    for column in ("cl", "cc", "mv"):
        db.execute(f"ALTER TABLE items DROP COLUMN {column}")
    db.execute("ALTER TABLE item_networks DROP COLUMN votes")
    db.commit()
    db.close()
    reopened = open_store(f"sqlite:///{path}")
    assert reopened.get_project("old") is not None
    db = sqlite3.connect(path)
    items = {row[1] for row in db.execute("PRAGMA table_info(items)")}
    nets = {row[1] for row in db.execute("PRAGMA table_info(item_networks)")}
    db.close()
    assert {"cl", "cc", "mv"} <= items and "votes" in nets
    reopened.close()


def test_a_file_from_before_the_sampling_pools_gets_them_filled_once(tmp_path):
    import numpy as np

    from crowdgate.models import GOLD, UNLABELED, Item

    path = tmp_path / "crowdgate.db"
    store = open_store(f"sqlite:///{path}")
    manage.create_project(store, "old", labels=["a", "b"])
    for n in range(12):
        label = "a" if n % 3 == 0 else None
        item = Item(
            project="old",
            id=f"{n:064x}",
            filename=f"{n}.png",
            state=GOLD if label else UNLABELED,
            known_label=label,
            label=label,
        )
        store.put_item(item, {"thumb": b"T"}, np.zeros(2, np.float32))
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE pools")
    db.commit()
    db.close()
    reopened = open_store(f"sqlite:///{path}")
    gold = {f"{n:064x}" for n in range(0, 12, 3)}
    assert {i for _ in range(40) for i in reopened.sample_gold("old", {"a": 2})["a"]} == gold
    assert len({i for _ in range(60) for i in reopened.sample_open("old", 3)}) == 8
