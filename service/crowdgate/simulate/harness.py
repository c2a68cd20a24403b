"""A digits project on a freshly started service, for benchmarks driven by the simulated crowd.

The project, its import and its site are made with the same core calls as ``crowdgate
project create``, ``crowdgate import MANIFEST`` and ``crowdgate site create`` (the admin API
cannot yet import a manifest with known labels, nor take string settings such as
``selector``); everything after that goes through HTTP: visitors through the public API,
results through the admin API. Truth stays on the harness side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import manage
from ..config import Settings
from ..goldpool import PROMOTED_BY
from ..ingestion import import_path
from ..store import open_store
from . import digits
from .client import Admin
from .local import SECRET, LocalServer

PROJECT = "digits"
HOSTS = ["localhost", "127.0.0.1"]


def crowd_settled(items: list[dict]) -> list[dict]:
    """Return the items the crowd settled: those still settled and those the gold pool promoted.

    A promoted item is gold (state ``gold``, ``consensus_by`` prefixed ``promoted-``) but its
    label is the crowd's, paid for by votes; counting only state ``settled`` dropped it from
    the settled labels and overstated votes per settled label (by about 20 % on the benches).
    """
    return [
        item
        for item in items
        if item.get("label") is not None
        and (
            item.get("state") == "settled"
            or (
                item.get("state") == "gold"
                and str(item.get("consensus_by") or "").startswith(PROMOTED_BY)
            )
        )
    ]


@dataclass
class Split:
    """Which digits the service gets (some as gold), which the visitors learned from, test."""

    served: np.ndarray
    gold: np.ndarray
    reference: np.ndarray
    test: np.ndarray

    @classmethod
    def make(
        cls, seed: int, *, test: float = 0.25, reference: float = 0.15, gold: int = 100
    ) -> Split:
        """Return a seeded split of scikit-learn's digits with ``gold`` gold items served."""
        _, targets = digits.load()
        order = np.random.RandomState(seed).permutation(len(targets))
        n_test, n_ref = round(test * len(order)), round(reference * len(order))
        served = order[n_test + n_ref :]
        return cls(
            served=served,
            gold=served[:gold],
            reference=order[n_test : n_test + n_ref],
            test=order[:n_test],
        )


class DigitsService:
    """A running ``crowdgate serve`` with a digits project and a site for localhost.

    Parameters
    ----------
    workdir : Path
        Fresh directory for the server's data and the rendered images.
    split : Split
        Which digits to import and which to mark as gold.
    settings : dict
        Project settings sent to the admin API (e.g. ``{"selector": "random"}``).
    workers : int
        gunicorn workers.
    """

    def __init__(self, workdir: Path, split: Split, settings: dict, workers: int = 2):
        self.workdir = Path(workdir)
        self.split = split
        self.settings = settings
        self.server = LocalServer(self.workdir / "data", workers=workers)

    def start(self) -> DigitsService:
        """Create the project, import the digits, create the site, then start the server."""
        manifest = digits.write_folder(self.workdir / "images", self.split.served, self.split.gold)
        settings = Settings.from_env(data_dir=self.server.data_dir, secret_key=SECRET)
        store = open_store(settings.store_uri)
        try:
            manage.create_project(
                store,
                PROJECT,
                labels=digits.LABELS,
                prompt="Select all images of the digit {label}",
                settings=None,
            )
            project = store.get_project(PROJECT)
            assert project is not None
            project.settings.update(self.settings)
            store.save_project(project)
            self.import_report = import_path(store, project, manifest, settings)
            site, _ = manage.create_site(store, name="bench", hostnames=HOSTS, project=PROJECT)
            self.sitekey = site.sitekey
        finally:
            store.close()
        self.server.start()
        self.admin = Admin(self.server.url, self.server.api_key, timeout=300)
        self.index = {
            item["id"]: digits.index_of(item["filename"]) for item in self.admin.items(PROJECT)
        }
        return self

    def model(self) -> dict:
        """Return the latest model record (``{}`` before the first)."""
        return self.admin.project(PROJECT)["model"] or {}

    def keep_pace(self, labeled: int, every_labels: int = 20, timeout_s: float = 180.0) -> bool:
        """Wait for the embedded trainer when ``labeled`` (settled + gold) items have grown by
        ``every_labels`` since its last model: it retrains then (``retrain_every_labels``).

        A simulated crowd answers a grid in milliseconds, people in seconds; without this the
        whole budget is spent between two retrains and a bench measures the machine's load,
        not the consensus a deployed service runs. Returns False on timeout.
        """
        last = self.model()
        grown = labeled - int(last.get("metrics", {}).get("n_labeled", 0))
        if not last or grown < every_labels:
            return True
        deadline = time.monotonic() + timeout_s
        while self.model().get("version") == last.get("version"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def votes(self) -> int:
        """Return the votes the service has recorded."""
        return int(self.admin.project(PROJECT)["stats"].get("votes", 0))

    def labels(self, state: str) -> dict[int, str]:
        """Return ``{digit index: label}`` of the items in ``state`` (gold or settled)."""
        return self._indexed(self.admin.items(PROJECT, state=state))

    def crowd_labels(self) -> tuple[dict[int, str], dict[int, str]]:
        """Return ``({digit: label}`` of every gold and settled item, ``{digit: label}`` of the
        crowd's settled labels, promoted ones included: :func:`crowd_settled`)."""
        items = self.admin.items(PROJECT, state="settled") + self.admin.items(PROJECT, state="gold")
        return self._indexed(items), self._indexed(crowd_settled(items))

    def _indexed(self, items: list[dict]) -> dict[int, str]:
        return {
            self.index[item["id"]]: item["label"]
            for item in items
            if item.get("label") is not None and self.index.get(item["id"]) is not None
        }

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()

    def __enter__(self) -> DigitsService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
