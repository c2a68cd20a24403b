"""A bot must not tell gold tiles from unlabeled ones by the bytes it is served."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

from crowdgate import manage
from crowdgate.challenge import ChallengeService, Client
from crowdgate.challenge.tiles import slot_tile
from crowdgate.config import Settings
from digits_project import make_digits_project


def test_served_tile_bytes_do_not_reveal_which_slots_are_gold(store, tmp_path):
    make_digits_project(store, tmp_path / "img", n=300, gold_fraction=0.3)
    site, _ = manage.create_site(store, name="s", hostnames=["shop.example"], project="digits")
    service = ChallengeService(store, Settings(data_dir=tmp_path, secret_key="k"))
    client = Client(address="10.0.0.1", user_agent="bot", origin_host="shop.example")
    gold, size, brightest = [], [], []
    for _ in range(40):
        challenge = service.issue(site.sitekey, None, client)
        for i, slot in enumerate(challenge.slots):
            data = slot_tile(store, challenge, i, service.rng)
            gold.append(slot.gold)
            size.append(len(data))
            brightest.append(int(np.asarray(Image.open(io.BytesIO(data)).convert("L")).max()))
    assert 0 < sum(gold) < len(gold)
    for name, signal in (("byte size", size), ("brightest pixel", brightest)):
        auc = roc_auc_score(gold, signal)
        assert 0.35 < auc < 0.65, f"{name} separates gold from unlabeled tiles (AUC {auc:.2f})"
