"""Grid filling: half a grid's open slots finish the queue's best items, the rest stay random."""

from __future__ import annotations

import random

from crowdgate.challenge.selection import QUEUE_HEAD_SHARE, QUEUE_TOP_K, QueueSelector
from test_hot_path import add_item, make_project


def test_half_the_open_slots_take_the_queue_head_in_order_and_the_rest_vary(store):
    project = make_project(store)
    items = [add_item(store, n) for n in range(QUEUE_TOP_K + 10)]
    ranked = [(item.id, float(1000 - n)) for n, item in enumerate(items)]
    store.set_queue("digits", "1", ranked)
    rng = random.Random(5)
    head = int(6 * QUEUE_HEAD_SHARE)
    tails = set()
    for _ in range(30):
        chosen, _ = QueueSelector().draw(store, project, "1", 6, {}, rng)
        assert chosen[:head] == [i.id for i in items[:head]]
        assert len(set(chosen)) == 6
        assert set(chosen[head:]) <= {i.id for i in items[head:QUEUE_TOP_K]}
        tails.update(chosen[head:])
    # the random part still covers the top of the queue
    assert len(tails) > 3 * (6 - head)
