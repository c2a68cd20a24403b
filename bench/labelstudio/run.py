"""Label Studio itself reads a crowdgate ``labelstudio`` export: tasks, predictions and images.

Installs Label Studio from PyPI into its own environment (``bench/labelstudio/.venv``, made
once, git-ignored; ``CROWDGATE_LABEL_STUDIO_VENV`` moves it), starts it on a free loopback port
with a generated admin user and API token and analytics, update checks and error reporting
off (nothing leaves the host), then:

1. builds a crowdgate project from real JPEG photos (crops of scikit-learn's sample photos):
   gold items from a manifest, crowd-settled items and committee-only items;
2. exports it as ``labelstudio`` tasks (with machine labels) and as an ImageFolder zip, and
   unzips the latter into Label Studio's local-files document root;
3. creates a Label Studio project with crowdgate's labeling configuration and a local-files
   storage on that folder, imports the tasks through the API;
4. reads every task and prediction back through the API and checks labels, scores, model
   versions and image references against the export, and fetches every image through Label
   Studio's local-files URL, checking its bytes against the stored image.

    python bench/labelstudio/run.py            # exit status 0 when Label Studio agrees

``tests/test_labelstudio_live.py`` (slow-marked) runs the same check.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CROWDGATE_LABEL_STUDIO_VENV", HERE / ".venv"))
#: the Label Studio release checked (the export format is pinned against it)
VERSION = "1.23.2"
PROJECT = "photos"
LABELS = ["china", "flower"]


def ensure_label_studio(venv: Path = VENV) -> Path:
    """Return the ``label-studio`` executable, installing it from PyPI into ``venv`` once."""
    exe = venv / "bin" / "label-studio"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={VERSION}"], check=True
    )
    return exe


def free_port() -> int:
    """Return a TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabelStudio:
    """A Label Studio server of our own: started, waited for, spoken to, stopped."""

    def __init__(self, exe: Path, work: Path, document_root: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.user = "admin@crowdgate.invalid"
        self.password = secrets.token_urlsafe(16)
        self.token = secrets.token_hex(20)
        data = work / "ls-data"
        data.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "LABEL_STUDIO_BASE_DATA_DIR": str(data),
            # an API token chosen here, accepted as "Authorization: Token ..."
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            # nothing leaves the host: no usage analytics, no PyPI version check, no Sentry
            "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
            "COLLECT_ANALYTICS": "false",
            "LATEST_VERSION_CHECK": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
            "SECRET_KEY": secrets.token_hex(32),
        }
        self.log = (work / "label-studio.log").open("w")
        self.proc = subprocess.Popen(
            [
                str(exe),
                "start",
                "--no-browser",
                "--port",
                str(self.port),
                "--host",
                self.url,
                "--internal-host",
                "127.0.0.1",
                "--data-dir",
                str(data),
                "--username",
                self.user,
                "--password",
                self.password,
                "--user-token",
                self.token,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, timeout: float = 1800.0) -> float:
        """Wait until the server answers ``/health`` (first start migrates its database)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Label Studio exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as resp:
                    if json.loads(resp.read()).get("status") == "UP":
                        return time.monotonic() - start
            except (OSError, ValueError):
                pass
            time.sleep(2)
        raise TimeoutError("Label Studio did not start")

    def call(self, method: str, path: str, body: object = None) -> object:
        """Send one API request with the token; return the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Authorization", f"Token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(
                f"{method} {path}: {exc.code} {exc.read()[:2000].decode(errors='replace')}"
            ) from exc

    def fetch(self, path: str) -> bytes:
        """GET ``path`` with the token and return the raw bytes."""
        req = urllib.request.Request(f"{self.url}{path}")
        req.add_header("Authorization", f"Token {self.token}")
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with opener.open(req, timeout=60) as resp:
            return resp.read()

    def stop(self) -> None:
        """Stop the server and its children."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


def build_export(work: Path, n: int = 24) -> tuple[list[dict], str, dict[str, bytes], Path]:
    """Make a crowdgate project of ``n`` photos; return its tasks, config, images and docroot.

    A third of the photos are gold (labelled by a manifest), the rest open; of those, half are
    settled by the crowd and half labelled by the committee only.
    """
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from crowdgate.config import Settings
    from crowdgate.export import ExportOptions, export_chunks, labeling_config
    from crowdgate.ingestion import import_path
    from crowdgate.models import SETTLED, UNLABELED, Project
    from crowdgate.store import IMAGE, open_store

    photos = load_sample_images().images
    rng = np.random.default_rng(14)
    folder = work / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,label"]
    for k in range(n):
        pixels = photos[k % 2]
        h, w = pixels.shape[:2]
        ch, cw = int(h * rng.uniform(0.4, 0.9)), int(w * rng.uniform(0.4, 0.9))
        top, left = rng.integers(0, h - ch), rng.integers(0, w - cw)
        crop = Image.fromarray(pixels[top : top + ch, left : left + cw]).resize((320, 240))
        crop.save(folder / f"photo-{k:03d}.jpg", quality=88)
        rows.append(f"photo-{k:03d}.jpg,{LABELS[k % 2] if k % 3 == 0 else ''}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    settings = Settings(data_dir=work / "cg", secret_key=secrets.token_hex(8))
    store = open_store(f"sqlite:///{work / 'cg.sqlite'}")
    try:
        project = Project(id=PROJECT, name="Photos", labels=LABELS)
        store.create_project(project)
        report = import_path(store, project, folder / "manifest.csv", settings)
        assert report.added == n, report.to_dict()
        open_items = store.list_items(PROJECT, state=UNLABELED, limit=n)
        for k, item in enumerate(open_items):
            label, confidence = LABELS[k % 2], round(0.55 + 0.4 * k / len(open_items), 4)
            if k % 2 == 0:
                store.update_item(
                    PROJECT, item.id, state=SETTLED, label=label, confidence=confidence, votes=3
                )
            else:
                store.set_committee_labels(PROJECT, 3, [(item.id, label, confidence)])
        options = ExportOptions(include_committee=True)
        tasks = json.loads(b"".join(export_chunks(store, project, "labelstudio", options)))
        folder_zip = b"".join(export_chunks(store, project, "imagefolder", options))
        images = {
            t["data"]["item_id"]: store.get_blob(PROJECT, t["data"]["item_id"], IMAGE)
            for t in tasks
        }
        config = labeling_config(project)
    finally:
        store.close()
    docroot = work / "ls-files"
    with zipfile.ZipFile(io.BytesIO(folder_zip)) as zf:
        zf.extractall(docroot / PROJECT)
    return tasks, config, images, docroot


def check(
    ls: LabelStudio, tasks: list[dict], config: str, images: dict[str, bytes], docroot: Path
) -> dict:
    """Import ``tasks`` into Label Studio, read them back and compare; return what was seen."""
    project = ls.call(
        "POST", "/api/projects", {"title": "crowdgate export", "label_config": config}
    )
    pid = project["id"]
    storage = ls.call(
        "POST",
        "/api/storages/localfiles",
        {
            "project": pid,
            "title": "crowdgate imagefolder",
            "path": str(docroot / PROJECT),
            "use_blob_urls": False,
        },
    )
    assert storage.get("id"), storage
    imported = ls.call("POST", f"/api/projects/{pid}/import", tasks)
    assert imported["task_count"] == len(tasks), imported
    assert imported["prediction_count"] == len(tasks), imported
    back = ls.call("GET", f"/api/tasks?project={pid}&page_size={len(tasks) + 10}&fields=all")
    got_tasks = back["tasks"] if isinstance(back, dict) else back
    assert len(got_tasks) == len(tasks), len(got_tasks)
    predictions = ls.call("GET", f"/api/predictions?project={pid}")
    by_task = {p["task"]: p for p in predictions}
    assert len(by_task) == len(tasks), len(by_task)
    want = {t["data"]["item_id"]: t for t in tasks}
    fetched = 0
    for task in got_tasks:
        exported = want.pop(task["data"]["item_id"])
        assert task["data"] == exported["data"], (task["data"], exported["data"])
        pred, sent = by_task[task["id"]], exported["predictions"][0]
        assert pred["model_version"] == sent["model_version"], (pred, sent)
        assert abs(pred["score"] - sent["score"]) < 1e-9, (pred, sent)
        [result] = pred["result"]
        assert result["value"]["choices"] == sent["result"][0]["value"]["choices"], result
        assert (result["from_name"], result["to_name"], result["type"]) == (
            sent["result"][0]["from_name"],
            sent["result"][0]["to_name"],
            "choices",
        ), result
        data = ls.fetch(task["data"]["image"])
        assert data == images[task["data"]["item_id"]], task["data"]["image"]
        fetched += 1
    assert not want, f"tasks missing from Label Studio: {sorted(want)}"
    return {"tasks": len(got_tasks), "predictions": len(by_task), "images": fetched}


def main() -> int:
    """Install, start, check, stop; print what Label Studio read back."""
    exe = ensure_label_studio()
    with tempfile.TemporaryDirectory(prefix="crowdgate-ls-") as tmp:
        work = Path(tmp)
        tasks, config, images, docroot = build_export(work)
        ls = LabelStudio(exe, work, docroot)
        try:
            started = ls.wait()
            print(f"Label Studio {VERSION} up in {started:.0f} s on {ls.url}", flush=True)
            seen = check(ls, tasks, config, images, docroot)
        except BaseException:
            ls.stop()
            print((work / "label-studio.log").read_text()[-3000:], file=sys.stderr)
            raise
        ls.stop()
    print(f"Label Studio read back {seen}: labels, scores, model versions and images agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
