"""Exports: every format round-trips against the store; filters, splits, CLI and admin API."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from crowdgate import manage
from crowdgate.cli import main
from crowdgate.errors import BadRequest
from crowdgate.export import ExportOptions, export_chunks, labeling_config, split_of
from crowdgate.models import Item
from crowdgate.store import Store, open_store
from export_data import Labeled, labeled_project
from seed import shape_png

WITH_MACHINE = ExportOptions(include_committee=True)


@pytest.fixture
def labeled(store: Store) -> Labeled:
    return labeled_project(store)


def export_bytes(store: Store, pid: str, fmt: str, options: ExportOptions, **kw) -> bytes:
    project = store.get_project(pid)
    assert project is not None
    return b"".join(export_chunks(store, project, fmt, options, **kw))


def as_triples(rows: list[dict]) -> dict[str, tuple[str, str, float]]:
    return {r["item_id"]: (r["label"], r["source"], float(r["confidence"])) for r in rows}


def test_csv_round_trip_matches_the_store(store, labeled):
    data = export_bytes(store, labeled.project, "csv", WITH_MACHINE).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert as_triples(rows) == labeled.expected
    for row in rows:
        item = store.get_item(labeled.project, row["item_id"])
        assert row["file_name"] == item.filename and int(row["votes"]) == item.votes
        assert row["model_version"] == ("2" if row["source"] == "committee" else "")


def test_jsonl_round_trip_matches_the_store(store, labeled):
    data = export_bytes(store, labeled.project, "jsonl", WITH_MACHINE).decode()
    rows = [json.loads(line) for line in data.splitlines()]
    assert as_triples(rows) == labeled.expected
    assert list(rows[0]) == [
        "item_id",
        "file_name",
        "label",
        "confidence",
        "votes",
        "source",
        "model_version",
        "split",
    ]
    assert {r["model_version"] for r in rows if r["source"] == "committee"} == {2}
    assert {r["model_version"] for r in rows if r["source"] != "committee"} == {None}


@pytest.mark.parametrize(
    ("options", "sources"),
    [
        (ExportOptions(), {"gold", "crowd"}),
        (ExportOptions(include_committee=True), {"gold", "crowd", "committee"}),
    ],
    ids=["machine-labels-left-out", "machine-labels-included"],
)
def test_committee_labels_only_when_asked(store, labeled, options, sources):
    rows = [
        json.loads(x) for x in export_bytes(store, labeled.project, "jsonl", options).splitlines()
    ]
    assert {r["source"] for r in rows} == sources
    assert not {r["item_id"] for r in rows} & labeled.open_only


@pytest.mark.parametrize("threshold", [0.0, 0.75, 0.99], ids=["none", "0.75", "0.99"])
def test_min_confidence_drops_less_confident_labels_but_never_gold(store, labeled, threshold):
    options = ExportOptions(min_confidence=threshold, include_committee=True)
    rows = [
        json.loads(x) for x in export_bytes(store, labeled.project, "jsonl", options).splitlines()
    ]
    want = {k for k, (_, src, conf) in labeled.expected.items() if conf >= threshold}
    assert {r["item_id"] for r in rows} == want
    assert sum(r["source"] == "gold" for r in rows) == 12


def test_split_is_seeded_order_free_and_near_the_fraction():
    ids = [f"{n:064x}" for n in range(4000)]
    options = ExportOptions(validation_fraction=0.2, seed=7)
    first = [split_of(i, options, None) for i in ids]
    assert first == [split_of(i, options, None) for i in reversed(ids)][::-1]
    assert 0.17 < first.count("validation") / len(ids) < 0.23
    other = [split_of(i, ExportOptions(validation_fraction=0.2, seed=8), None) for i in ids]
    assert other != first
    assert split_of(ids[0], ExportOptions(), "test") == "test"


@pytest.mark.parametrize(
    "kwargs",
    [{"min_confidence": 1.5}, {"validation_fraction": 0.95}, {"validation_fraction": -0.1}],
    ids=["confidence-above-one", "validation-too-large", "validation-negative"],
)
def test_out_of_range_options_are_refused(kwargs):
    with pytest.raises(BadRequest) as info:
        ExportOptions(**kwargs)
    assert info.value.code == "invalid-export-option"


def test_unknown_format_is_refused_before_any_byte(store, labeled):
    with pytest.raises(BadRequest, match="csv, jsonl, imagefolder, labelstudio"):
        export_chunks(store, store.get_project(labeled.project), "xlsx", ExportOptions())


def check_labelstudio_tasks(tasks: object, config: str) -> None:
    """Check tasks against Label Studio's documented JSON task format with predictions.

    https://labelstud.io/guide/predictions: a list of tasks, each a ``data`` object whose keys
    the labeling config's ``$variables`` name, and ``predictions``, each with ``model_version``
    (string), ``score`` and a ``result`` list whose items carry a unique ``id``, ``from_name``
    and ``to_name`` naming tags of the config, ``type`` (the control tag's name in lower case)
    and ``value`` with the chosen values under that type.
    """
    root = ET.fromstring(config)
    image = root.find("Image")
    choices = root.find("Choices")
    assert image is not None and choices is not None
    allowed = {c.get("value") for c in choices.findall("Choice")}
    variable = image.get("value", "").removeprefix("$")
    assert isinstance(tasks, list) and tasks
    result_ids = set()
    for task in tasks:
        assert set(task) <= {"data", "predictions", "annotations", "meta"}
        assert isinstance(task["data"], dict) and isinstance(task["data"][variable], str)
        for prediction in task["predictions"]:
            assert isinstance(prediction["model_version"], str)
            assert 0.0 <= prediction["score"] <= 1.0
            for result in prediction["result"]:
                assert result["id"] not in result_ids
                result_ids.add(result["id"])
                assert result["from_name"] == choices.get("name")
                assert result["to_name"] == choices.get("toName") == image.get("name")
                assert result["type"] == "choices"
                assert set(result["value"]["choices"]) <= allowed
                assert len(result["value"]["choices"]) == 1


def test_labelstudio_tasks_follow_the_documented_format(store, labeled):
    project = store.get_project(labeled.project)
    data = export_bytes(store, labeled.project, "labelstudio", WITH_MACHINE)
    tasks = json.loads(data)
    check_labelstudio_tasks(tasks, labeling_config(project))
    got = {
        t["data"]["item_id"]: (
            t["predictions"][0]["result"][0]["value"]["choices"][0],
            t["predictions"][0]["model_version"],
            t["predictions"][0]["score"],
        )
        for t in tasks
    }
    versions = {"gold": "crowdgate-gold", "crowd": "crowdgate-crowd"}
    assert got == {
        k: (lab, versions.get(src, "crowdgate-committee-v2"), conf)
        for k, (lab, src, conf) in labeled.expected.items()
    }
    first = tasks[0]["data"]
    assert first["image"] == f"/data/local-files/?d=shapes/train/{first['item_id']}.webp"


def test_labelstudio_image_url_template_is_checked_up_front(store, labeled):
    project = store.get_project(labeled.project)
    with pytest.raises(BadRequest, match="invalid"):
        export_chunks(store, project, "labelstudio", ExportOptions(), image_url="{nope}")
    data = export_bytes(
        store,
        labeled.project,
        "labelstudio",
        ExportOptions(),
        image_url="https://cdn.example/{project}/{file_name}",
    )
    assert json.loads(data)[0]["data"]["image"].startswith("https://cdn.example/shapes/")


@pytest.fixture
def sqlite_labeled(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'cg.db'}")
    yield store, labeled_project(store)
    store.close()


def test_imagefolder_zip_loads_with_hugging_face_datasets(sqlite_labeled, tmp_path, monkeypatch):
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    store, labeled = sqlite_labeled
    options = ExportOptions(include_committee=True, validation_fraction=0.3, seed=1)
    archive = tmp_path / "shapes.zip"
    archive.write_bytes(export_bytes(store, labeled.project, "imagefolder", options))
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None
        names = z.namelist()
        z.extractall(tmp_path / "folder")
    assert {"train/metadata.jsonl", "validation/metadata.jsonl"} <= set(names)

    import datasets

    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(tmp_path / "folder"), cache_dir=str(tmp_path / "cache")
    )
    assert set(loaded) == {"train", "validation"}
    got = {}
    for split, part in loaded.items():
        for row in part:
            assert row["image"].size == (64, 64)
            assert split == split_of(row["item_id"], options, None)
            got[row["item_id"]] = (row["label"], row["source"], row["confidence"])
    assert got == labeled.expected


def test_imagefolder_export_is_byte_identical_when_repeated(sqlite_labeled):
    store, labeled = sqlite_labeled
    first = export_bytes(store, labeled.project, "imagefolder", ExportOptions())
    assert first == export_bytes(store, labeled.project, "imagefolder", ExportOptions())


def _bulk_project(store: Store, pid: str, n: int) -> None:
    manage.create_project(store, pid, labels=["a", "b"])
    blob = shape_png("circle", 0)
    for k in range(n):
        item_id = hashlib.sha256(f"{pid}{k}".encode()).hexdigest()
        store.put_item(
            Item(
                project=pid,
                id=item_id,
                filename=f"{k}.png",
                state="gold",
                known_label="ab"[k % 2],
                label="ab"[k % 2],
            ),
            {"image": blob},
            None,
        )


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "imagefolder"])
def test_export_memory_does_not_grow_with_the_project(tmp_path, fmt):
    store = open_store(f"sqlite:///{tmp_path / 'cg.db'}")
    peaks = {}
    for pid, n in (("small", 5000), ("large", 15000)):
        _bulk_project(store, pid, n)
        project = store.get_project(pid)
        tracemalloc.start()
        size = sum(len(c) for c in export_chunks(store, project, fmt, ExportOptions()))
        peaks[pid] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert size > n * 20
    store.close()
    # a non-streaming export would hold three times the bytes at the end of the larger one
    assert peaks["large"] < 1.3 * peaks["small"], peaks


def test_cli_export_writes_each_format(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDGATE_DATA_DIR", str(tmp_path))
    store = open_store(f"sqlite:///{(tmp_path / 'crowdgate.db').resolve()}")
    labeled = labeled_project(store)
    store.close()
    runner = CliRunner()
    for fmt in ("csv", "jsonl", "imagefolder", "labelstudio"):
        out = tmp_path / f"out.{fmt}"
        result = runner.invoke(
            main,
            [
                "export",
                "shapes",
                "--format",
                fmt,
                "-o",
                str(out),
                "--min-confidence",
                "0.6",
                "--include-committee",
                "--validation",
                "0.25",
                "--seed",
                "3",
                "--labeling-config",
                str(tmp_path / "config.xml"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 100 and not out.with_name(out.name + ".part").exists()
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {r["item_id"] for r in rows} == {
        k for k, (_, _, conf) in labeled.expected.items() if conf >= 0.6
    }
    assert {r["split"] for r in rows} == {"train", "validation"}
    assert '<Choice value="circle"/>' in (tmp_path / "config.xml").read_text()
    missing = runner.invoke(main, ["export", "nope", "--format", "csv", "-o", str(out)])
    assert missing.exit_code == 2 and "does not exist" in missing.output


@pytest.fixture
def auth(app_store) -> dict[str, str]:
    _, bearer = manage.create_apikey(app_store, "tests")
    return {"Authorization": f"Bearer {bearer}"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "imagefolder", "labelstudio"])
def test_admin_api_streams_each_format_as_an_attachment(client, app_store, auth, fmt):
    labeled = labeled_project(app_store)
    reply = client.get(
        f"/api/v1/admin/projects/shapes/export?format={fmt}&committee=1", headers=auth
    )
    assert reply.status_code == 200 and reply.is_streamed
    assert f'filename="shapes-{fmt}' in reply.headers["Content-Disposition"]
    body = reply.get_data()
    assert body == export_bytes(app_store, labeled.project, fmt, WITH_MACHINE)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("format=xlsx", 400, "invalid-export-format"),
        ("format=csv&min_confidence=high", 400, "invalid-export-option"),
        ("format=csv&validation=0.99", 400, "invalid-export-option"),
    ],
    ids=["unknown-format", "non-numeric-confidence", "validation-too-large"],
)
def test_admin_api_refuses_bad_export_queries(client, app_store, auth, query, status, code):
    labeled_project(app_store)
    reply = client.get(f"/api/v1/admin/projects/shapes/export?{query}", headers=auth)
    assert reply.status_code == status and reply.get_json()["code"] == code


def test_admin_api_export_needs_a_key_and_a_project(client, app_store, auth):
    assert client.get("/api/v1/admin/projects/shapes/export?format=csv").status_code == 401
    reply = client.get("/api/v1/admin/projects/nope/export?format=csv", headers=auth)
    assert reply.status_code == 404 and reply.get_json()["code"] == "unknown-project"


def test_streaming_zip_switches_to_zip64_past_65535_members(tmp_path):
    from crowdgate.export.zipstream import StreamingZip

    path = tmp_path / "many.zip"
    with path.open("wb") as out, (tmp_path / "dir.bin").open("w+b") as central:
        archive = StreamingZip(out, central)
        for k in range(70_000):
            archive.add(f"d/{k}.txt", b"x" if k % 2 else b"", compress=k == 3)
        for _ in archive.close():
            pass
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert len(names) == 70_000 and z.read("d/69999.txt") == b"x"
        assert z.read("d/3.txt") == b"x" and z.testzip() is None
