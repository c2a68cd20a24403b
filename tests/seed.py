"""Seed a store with a real project: Pillow-made images, gold and open items, a site."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from crowdgate import manage
from crowdgate.models import GOLD, UNLABELED, Item
from crowdgate.store import Store

LABELS = ["circle", "square", "triangle"]


def shape_png(label: str, n: int) -> bytes:
    """Return a PNG of a ``label`` shape, varied by ``n`` so every image is distinct."""
    img = Image.new("RGB", (64, 64), (255 - n % 200, 240, 230 + n % 25))
    draw = ImageDraw.Draw(img)
    box = (8 + n % 7, 8, 56, 56 - n % 5)
    if label == "circle":
        draw.ellipse(box, fill="black")
    elif label == "square":
        draw.rectangle(box, fill="black")
    else:
        draw.polygon([(32, 6 + n % 5), (6, 58), (58, 58)], fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Seeded:
    project: str
    sitekey: str
    secret: str
    gold: dict[str, str]  # item id -> label
    open: list[str]


def seed_project(
    store: Store,
    *,
    pid: str = "shapes",
    gold_per_label: int = 4,
    open_items: int = 30,
    hostnames: list[str] | None = None,
    pow_bits: int = 0,
) -> Seeded:
    """Create a project with gold per label, unlabeled items and a site; return their keys."""
    manage.create_project(store, pid, labels=LABELS, prompt="Select all images with a {label}")
    gold: dict[str, str] = {}
    opened: list[str] = []
    n = 0
    for label in LABELS:
        for _ in range(gold_per_label):
            gold[_put(store, pid, shape_png(label, n), GOLD, label)] = label
            n += 1
    for k in range(open_items):
        opened.append(_put(store, pid, shape_png(LABELS[k % 3], n), UNLABELED, None))
        n += 1
    site, secret = manage.create_site(
        store,
        name="Shop",
        hostnames=hostnames or ["shop.example"],
        project=pid,
        pow_bits=pow_bits,
    )
    return Seeded(pid, site.sitekey, secret, gold, opened)


def _put(store: Store, pid: str, png: bytes, state: str, label: str | None) -> str:
    item_id = hashlib.sha256(png).hexdigest()
    blobs = {"image": png, "thumb": png}
    blobs.update({f"v{i}": png + bytes([i]) for i in range(4)})
    store.put_item(
        Item(
            project=pid,
            id=item_id,
            filename=f"{item_id[:8]}.png",
            state=state,
            known_label=label,
            label=label,
            variants=4,
        ),
        blobs,
        None,
    )
    return item_id


def numbered_item(n: int, label: str | None, *, created_at: float, pid: str = "digits") -> Item:
    """Return item number ``n`` of ``pid``: gold of ``label``, or unlabeled without one."""
    return Item(
        project=pid,
        id=f"{n:064x}",
        filename=f"img{n}.png",
        state=GOLD if label else UNLABELED,
        known_label=label,
        label=label,
        created_at=created_at,
    )
