"""The demo data set: scikit-learn's handwritten digits as a project, a site and test keys."""

from __future__ import annotations

import csv
import json
import os
import secrets
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image

from . import manage
from .config import Settings
from .ingestion import import_path
from .store import Store

PROJECT = "digits"
GOLD_FRACTION = 0.10
#: pixels per side of a demo image (digits are 8x8; upscaled so a grid tile is legible)
SIDE_PX = 96
DEMO_HOSTS = ["localhost", "127.0.0.1"]


@dataclass
class DemoInfo:
    project: str
    sitekey: str
    secret: str
    items: int


def digit_images(folder: Path, seed: int = 0) -> Path:
    """Write every digit as a PNG plus a manifest labelling about 10% of them (the gold)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    gold = rng.random(len(digits.target)) < GOLD_FRACTION
    manifest = folder / "manifest.csv"
    truth = folder / "truth.csv"
    with manifest.open("w", newline="") as mf, truth.open("w", newline="") as tf:
        mw, tw = csv.writer(mf), csv.writer(tf)
        mw.writerow(["file", "label"])
        tw.writerow(["file", "label"])
        for n, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
            name = f"digit-{n:04d}.png"
            # 0..16 ink intensity -> dark ink on a light background, as people write
            grey = (255 - pixels / 16.0 * 255).clip(0, 255).astype(np.uint8)
            Image.fromarray(grey, "L").resize((SIDE_PX, SIDE_PX), Image.Resampling.BICUBIC).save(
                folder / name
            )
            mw.writerow([name, str(target) if gold[n] else ""])
            tw.writerow([name, str(target)])
    return manifest


def ensure_demo(store: Store, settings: Settings) -> DemoInfo:
    """Create the demo project, images and site once; later calls return what exists."""
    info_path = settings.data_dir / "demo.json"
    if info_path.exists() and store.get_project(PROJECT) is not None:
        saved = json.loads(info_path.read_text())
        return DemoInfo(**{f.name: saved[f.name] for f in fields(DemoInfo)})
    if store.get_project(PROJECT) is None:
        manage.create_project(
            store,
            PROJECT,
            name="Handwritten digits",
            labels=[str(d) for d in range(10)],
            prompt="Select all images of the digit {label}",
        )
    project = store.get_project(PROJECT)
    assert project is not None
    manifest = digit_images(settings.data_dir / "demo-images")
    report = import_path(store, project, manifest, settings)
    site, secret = manage.create_site(
        store, name="Demo site", hostnames=DEMO_HOSTS, project=PROJECT
    )
    info = DemoInfo(
        project=PROJECT, sitekey=site.sitekey, secret=secret, items=report.added + report.duplicates
    )
    _write_private(info_path, info.__dict__)
    return info


def _write_private(path: Path, document: dict) -> None:
    """Write ``document`` as JSON readable by this user only (it holds secrets)."""
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(document, indent=2))
    os.replace(path.with_suffix(".tmp"), path)


@dataclass
class DemoRun:
    """What one start of ``crowdgate demo`` gives the newcomer: a sign-in link, a simulator."""

    url: str
    signin_link: str
    simulator_key: str


def start_run(store: Store, settings: Settings, info: DemoInfo, url: str) -> DemoRun:
    """Make this run's one-time dashboard link and simulator key; record them in demo.json.

    The sign-in link's admin key of the previous run is revoked (only the demo used it), so
    restarts do not pile up keys. The simulator key is new each run; the server keeps only
    its hash, and demo.json (this user only, beside the site secret) lets
    ``crowdgate simulate --demo`` find it.
    """
    from .signin import signin_link

    info_path = settings.data_dir / "demo.json"
    saved = json.loads(info_path.read_text())
    previous = saved.get("signin_key")
    if previous and any(k.id == previous and not k.revoked for k in store.list_apikeys()):
        manage.revoke_apikey(store, previous)
    record, link = signin_link(store, settings.secret_key, url)
    run = DemoRun(url=url, signin_link=link, simulator_key=secrets.token_urlsafe(32))
    saved.update(url=url, signin_key=record.id, simulator_key=run.simulator_key)
    _write_private(info_path, saved)
    return run


@dataclass
class SimulatorTarget:
    """Where ``crowdgate simulate --demo`` sends its crowd."""

    url: str
    sitekey: str
    headers: dict[str, str]


def simulator_target(data_dir: Path) -> SimulatorTarget:
    """Return the running demo's URL, sitekey and simulator header, from demo.json."""
    from .errors import NotFound
    from .trusted_simulator import HEADER

    path = data_dir / "demo.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if "simulator_key" not in saved:
        raise NotFound(
            f"No running demo recorded in {path}; start one with `make demo` (or "
            "`crowdgate demo`) first, with the same data directory.",
            code="no-demo",
        )
    return SimulatorTarget(saved["url"], saved["sitekey"], {HEADER: saved["simulator_key"]})


def start_demo_site(
    store: Store, settings: Settings, info: DemoInfo, host: str, port: int, crowdgate_url: str
) -> str:
    """Serve the demo sign-up site in a background thread; return its URL.

    The page is served as ``localhost`` when crowdgate is reached as ``127.0.0.1`` (and the other
    way round), so the browser sees two origins, as it would with a real site.
    """
    from .web.demo_site import DemoSite, create_demo_site, serve_in_thread

    site = DemoSite(
        crowdgate_url=crowdgate_url, sitekey=info.sitekey, secret=info.secret, project=info.project
    )
    serve_in_thread(create_demo_site(site, store, settings.secret_key), host, port)
    shown = "127.0.0.1" if "localhost" in crowdgate_url else "localhost"
    if host not in ("0.0.0.0", "::", "", "127.0.0.1", "localhost"):
        shown = host
    return f"http://{shown}:{port}/"
