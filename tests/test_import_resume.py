"""Imports on every core, and an interrupted import that resumes without redoing its work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdgate.config import Settings
from crowdgate.errors import ImportRejected
from crowdgate.ingestion import import_path, importer
from crowdgate.ingestion.resume import checkpoint_path
from crowdgate.models import Project
from crowdgate.store import IMAGE, THUMB, Store, open_store, variant_kind
from fixtures_images import encode, photo

N_FILES = 12


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    store = open_store("sqlite:///" + str(tmp_path / "db.sqlite"))
    for name in ("threads", "processes", "pets"):
        store.create_project(Project(id=name, name=name, labels=["cat", "dog"]))
    yield store
    store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test", tile_variants=2)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    for n in range(N_FILES):
        (root / f"{n:02d}.jpg").write_bytes(encode(photo(seed=n), "JPEG"))
    (root / "03-copy.jpg").write_bytes((root / "03.jpg").read_bytes())
    (root / "notes.txt").write_text("not a picture")
    return root


def _blobs(db: Store, project: str) -> dict[str, tuple[bytes | None, ...]]:
    kinds = (IMAGE, THUMB, variant_kind(0), variant_kind(1))
    return {
        i.filename: tuple(db.get_blob(project, i.id, k) for k in kinds)
        for i in db.list_items(project)
    }


def test_a_process_pool_import_writes_what_the_threaded_one_writes(db, settings, folder):
    threaded = import_path(db, db.get_project("threads"), folder, settings)
    pooled = import_path(db, db.get_project("processes"), folder, settings, processes=2)
    assert pooled.to_dict() == threaded.to_dict()
    assert (pooled.added, pooled.duplicates, pooled.rejected) == (N_FILES, 1, 1)
    by_process = _blobs(db, "processes")
    assert by_process == _blobs(db, "threads") and all(all(b) for b in by_process.values())
    ids = [(i.filename, i.id) for i in db.list_items("processes")]
    assert ids == [(i.filename, i.id) for i in db.list_items("threads")]
    features = db.get_features("processes", [i for _, i in ids])
    assert set(features) == {i for _, i in ids}


class Interrupt:
    """A progress callback that stops the import like Ctrl-C after ``after`` files."""

    def __init__(self, after: int):
        self.after, self.seen = after, 0

    def __call__(self, n: int) -> None:
        self.seen += n
        if self.seen == self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize("processes", [1, 2], ids=["threads", "processes"])
def test_an_interrupted_import_resumes_where_it_stopped(
    db, settings, folder, tmp_path, processes, monkeypatch
):
    # one file per write batch, so the interruption after five files has written four items
    monkeypatch.setattr(importer, "WRITE_BATCH", 1)
    project = db.get_project("pets")
    mark = checkpoint_path(tmp_path / "imports", "pets", folder)
    with pytest.raises(KeyboardInterrupt):
        import_path(
            db,
            project,
            folder,
            settings,
            progress=Interrupt(5),
            checkpoint=mark,
            processes=processes,
        )
    # 00 01 02 03 and 03-copy, a duplicate of 03
    assert mark.exists() and len(db.list_items("pets")) == 4
    # Files already written are not decoded again: spoiling one would otherwise refuse it.
    (folder / "00.jpg").write_bytes(b"spoiled after it was imported")
    ticks = []
    report = import_path(
        db,
        project,
        folder,
        settings,
        progress=ticks.append,
        checkpoint=mark,
        processes=processes,
    )
    assert report.resumed == 5 and len(ticks) == N_FILES + 2
    assert (report.added, report.duplicates) == (N_FILES - 4, 0)
    assert [p.name for p in report.problems] == ["notes.txt"]
    assert len(db.list_items("pets")) == N_FILES and not mark.exists()


def test_an_import_interrupted_mid_batch_resumes_after_the_written_batch(
    db, settings, folder, tmp_path, monkeypatch
):
    # Batches of four: 00 01 02 03-copy, then 03 (a duplicate) 04 05 06. The interruption at
    # the fifth file's progress tick comes after the second batch was written, and the
    # checkpoint already covers it: the resumed run adds the rest, merging nothing twice.
    monkeypatch.setattr(importer, "WRITE_BATCH", 4)
    project = db.get_project("pets")
    mark = checkpoint_path(tmp_path / "imports", "pets", folder)
    with pytest.raises(KeyboardInterrupt):
        import_path(db, project, folder, settings, progress=Interrupt(5), checkpoint=mark)
    assert len(db.list_items("pets")) == 7
    report = import_path(db, project, folder, settings, checkpoint=mark)
    assert report.resumed == 8 and (report.added, report.duplicates) == (N_FILES - 7, 0)
    assert [p.name for p in report.problems] == ["notes.txt"]
    assert len(db.list_items("pets")) == N_FILES and not mark.exists()


def test_a_source_changed_since_the_interruption_is_not_skipped_into(
    db, settings, folder, tmp_path, monkeypatch
):
    monkeypatch.setattr(importer, "WRITE_BATCH", 1)  # the interruption leaves 3 files written
    project = db.get_project("pets")
    mark = checkpoint_path(tmp_path / "imports", "pets", folder)
    with pytest.raises(KeyboardInterrupt):
        import_path(db, project, folder, settings, progress=Interrupt(3), checkpoint=mark)
    (folder / "00-new.jpg").write_bytes(encode(photo(seed=99), "JPEG"))
    with pytest.raises(ImportRejected) as changed:
        import_path(db, project, folder, settings, checkpoint=mark)
    assert changed.value.reason == "import-source-changed" and "--restart" in changed.value.message
    mark.unlink()
    report = import_path(db, project, folder, settings, checkpoint=mark)
    assert (report.added, report.duplicates, report.resumed) == (N_FILES - 2, 4, 0)


def test_a_checkpoint_of_another_project_or_source_is_ignored(db, settings, folder, tmp_path):
    mark = checkpoint_path(tmp_path / "imports", "pets", folder)
    assert mark != checkpoint_path(tmp_path / "imports", "threads", folder)
    assert mark != checkpoint_path(tmp_path / "imports", "pets", tmp_path)
    mark.parent.mkdir()
    mark.write_text('{"project": "other", "source": "/elsewhere", "done": 7, "last": "x"}')
    report = import_path(db, db.get_project("pets"), folder, settings, checkpoint=mark)
    assert report.resumed == 0 and report.added == N_FILES


@pytest.mark.parametrize("kind", ["folder", "manifest"])
def test_a_resumed_import_does_not_read_the_files_already_written(
    db, settings, folder, tmp_path, monkeypatch, kind
):
    from crowdgate.ingestion import _files, _manifest, sources

    monkeypatch.setattr(importer, "WRITE_BATCH", 1)  # five files written when interrupted

    source = folder
    if kind == "manifest":
        source = folder / "list.csv"
        names = sorted(p.name for p in folder.iterdir() if p.suffix == ".jpg")
        source.write_text("file\n" + "".join(f"{n}\n" for n in names))
    mark = checkpoint_path(tmp_path / "imports", "pets", source)
    project = db.get_project("pets")
    with pytest.raises(KeyboardInterrupt):
        import_path(db, project, source, settings, progress=Interrupt(5), checkpoint=mark)
    read: list[str] = []

    def spy(path, name, max_file_bytes):
        read.append(name)
        return _files.read_file(path, name, max_file_bytes)

    monkeypatch.setattr(sources, "read_file", spy)
    monkeypatch.setattr(_manifest, "read_file", spy)
    report = import_path(db, project, source, settings, checkpoint=mark)
    assert report.resumed == 5 and len(db.list_items("pets")) == N_FILES
    first_five = {"00.jpg", "01.jpg", "02.jpg", "03-copy.jpg", "03.jpg"}
    assert read and not first_five & set(read)
