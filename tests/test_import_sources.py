"""Import sources: folders, zip archives and manifests, including hostile ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crowdgate.errors import ImportRejected
from crowdgate.ingestion import (
    Entry,
    Rejection,
    ZipLimits,
    count_source,
    iter_folder,
    iter_manifest,
    iter_source,
    iter_zip,
)
from fixtures_images import encode, patch_entry, photo, write_zip

PNG = encode(photo(), "PNG")


def outcomes(source: object) -> list[tuple[str, str]]:
    """Return (name, "ok" or reason) for every entry a source yields."""
    return [
        (o.name, "ok" if isinstance(o, Entry) else o.reason)
        for o in source  # type: ignore[attr-defined]
    ]


# -- folders ---------------------------------------------------------------------------------
def test_folder_is_walked_recursively_in_name_order_skipping_hidden_files(tmp_path: Path) -> None:
    for name in ["b.png", "a/z.png", "a/b/c.png", ".hidden.png", ".git/x.png", "c.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(PNG)
    assert outcomes(iter_folder(tmp_path)) == [
        ("a/b/c.png", "ok"),
        ("a/z.png", "ok"),
        ("b.png", "ok"),
        ("c.png", "ok"),
    ]
    assert count_source(tmp_path) == 4


def test_folder_symlinks_are_reported_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(PNG)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "real.png").write_bytes(PNG)
    (folder / "file-link.png").symlink_to(outside / "secret.png")
    (folder / "dir-link").symlink_to(outside, target_is_directory=True)
    assert outcomes(iter_folder(folder)) == [
        ("dir-link", "symlink"),
        ("file-link.png", "symlink"),
        ("real.png", "ok"),
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_folder_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    assert outcomes(iter_folder(tmp_path)) == [("pipe.png", "not-a-file")]


def test_folder_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(PNG)
    [rejection] = iter_folder(tmp_path, max_file_bytes=len(PNG) - 1)
    assert isinstance(rejection, Rejection) and rejection.reason == "too-large"


# -- zip archives ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("../evil.png", id="parent"),
        pytest.param("a/../../evil.png", id="nested-parent"),
        pytest.param("/etc/evil.png", id="absolute"),
        pytest.param("C:/evil.png", id="drive-letter"),
        pytest.param("c:evil.png", id="drive-relative"),
        pytest.param("a\\..\\evil.png", id="backslashes"),
    ],
)
def test_zip_slip_names_are_refused(tmp_path: Path, name: str) -> None:
    archive = write_zip(tmp_path / "a.zip", [(name, PNG), ("fine.png", PNG)])
    assert sorted(outcomes(iter_zip(archive))) == [(name, "unsafe-path"), ("fine.png", "ok")]


def test_zip_symlink_entries_are_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("a.png", PNG)], symlinks={"b.png": "/etc/passwd"})
    assert outcomes(iter_zip(archive)) == [("a.png", "ok"), ("b.png", "symlink")]


def test_zip_entry_with_a_bomb_ratio_is_refused_unread(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("zeros.png", bytes(5 * 1024 * 1024))])
    assert outcomes(iter_zip(archive)) == [("zeros.png", "zip-bomb")]


def test_zip_entry_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("big.png", PNG), ("ok.png", PNG)])
    limits = ZipLimits(max_entry_bytes=len(PNG) - 1)
    assert outcomes(iter_zip(archive, limits=limits)) == [
        ("big.png", "too-large"),
        ("ok.png", "too-large"),
    ]


def test_zip_entry_whose_header_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("liar.png", bytes(3 * 1024 * 1024)), ("ok.png", PNG)])
    # Declared small, so neither the size nor the ratio check fires; the reader must not trust it.
    patch_entry(archive, "liar.png", declared_size=1000)
    liar, ok = iter_zip(archive)
    assert isinstance(liar, Rejection) and liar.reason == "unreadable"
    assert isinstance(ok, Entry) and ok.data == PNG


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param(ZipLimits(max_entries=2), id="too-many-entries"),
        pytest.param(ZipLimits(max_total_bytes=2 * len(PNG)), id="total-too-large"),
    ],
)
def test_zip_over_archive_limits_is_refused_before_any_entry(
    tmp_path: Path, limits: ZipLimits
) -> None:
    archive = write_zip(tmp_path / "a.zip", [(f"{n}.png", PNG) for n in range(3)])
    with pytest.raises(ImportRejected) as info:
        iter_zip(archive, limits=limits)
    assert info.value.reason == "zip-bomb"


def test_zip_nested_archives_are_not_expanded(tmp_path: Path) -> None:
    inner = write_zip(tmp_path / "inner.zip", [("x.png", PNG)]).read_bytes()
    archive = write_zip(tmp_path / "a.zip", [("inner.zip", inner)])
    assert outcomes(iter_zip(archive)) == [("inner.zip", "nested-archive")]


def test_zip_skips_folders_hidden_files_and_macos_forks(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "a.zip",
        [("d/", b""), ("d/a.png", PNG), (".DS_Store", b"x"), ("__MACOSX/d/._a.png", b"x")],
    )
    assert outcomes(iter_zip(archive)) == [("d/a.png", "ok")]
    assert count_source(archive) == 1


def test_zip_encrypted_entries_are_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("locked.png", PNG)])
    patch_entry(archive, "locked.png", flag_bits=0x1)
    assert outcomes(iter_zip(archive)) == [("locked.png", "encrypted")]


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(b"PK but not really")
    with pytest.raises(ImportRejected) as info:
        iter_source(tmp_path / "a.zip")
    assert info.value.reason == "not-a-zip"


def test_zip_with_an_undecodable_utf8_name_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("ab.png", PNG)])
    archive.write_bytes(archive.read_bytes().replace(b"ab.png", b"\xff\xfe.png"))
    patch_entry(archive, b"\xff\xfe.png", flag_bits=0x800)
    with pytest.raises(ImportRejected) as info:
        iter_zip(archive)
    assert info.value.reason == "not-a-zip"


# -- manifests -------------------------------------------------------------------------------
def test_csv_manifest_yields_labels_and_splits(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png", "c, d.png"):
        (tmp_path / "img" / name).write_bytes(PNG)
    (tmp_path / "m.csv").write_text(
        "\ufefffile,label,split,notes\n"
        "img/a.png,cat,train,x\n"
        "img/b.png,,,\n"
        '"img/c, d.png",dog,val,\n',
        encoding="utf-8",
    )
    entries = list(iter_manifest(tmp_path / "m.csv"))
    assert [(e.name, e.label, e.split) for e in entries] == [  # type: ignore[union-attr]
        ("img/a.png", "cat", "train"),
        ("img/b.png", None, None),
        ("img/c, d.png", "dog", "val"),
    ]
    assert all(e.data == PNG for e in entries)  # type: ignore[union-attr]


def test_csv_manifest_with_only_a_file_column(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "m.csv").write_text("file\na.png\n")
    [entry] = iter_manifest(tmp_path / "m.csv")
    assert isinstance(entry, Entry) and entry.label is None and entry.split is None


def test_jsonl_manifest_accepts_file_name_and_numeric_labels(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.png").write_bytes(PNG)
    rows = [{"file": "a.png", "label": "cat", "split": "train"}, {"file_name": "b.png", "label": 3}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    entries = list(iter_source(tmp_path / "m.jsonl"))
    assert [(e.name, e.label, e.split) for e in entries] == [  # type: ignore[union-attr]
        ("a.png", "cat", "train"),
        ("b.png", "3", None),
    ]
    assert count_source(tmp_path / "m.jsonl") == 2


def test_manifest_paths_may_not_leave_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (tmp_path / "secret.png").write_bytes(PNG)
    (folder / "ok.png").write_bytes(PNG)
    (folder / "escape-link.png").symlink_to(tmp_path / "secret.png")
    (folder / "inner-link.png").symlink_to(folder / "ok.png")
    rows = [
        "../secret.png",
        str(tmp_path / "secret.png"),
        "escape-link.png",
        "inner-link.png",
        str(folder / "ok.png"),
        "missing.png",
    ]
    (folder / "m.csv").write_text("file\n" + "\n".join(rows) + "\n")
    assert outcomes(iter_manifest(folder / "m.csv")) == [
        ("../secret.png", "unsafe-path"),
        (str(tmp_path / "secret.png"), "unsafe-path"),
        ("escape-link.png", "unsafe-path"),
        ("inner-link.png", "symlink"),
        ("ok.png", "ok"),
        ("missing.png", "missing-file"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        pytest.param("m.csv", "file,label\na.png,cat\nb.png,cat,extra\n", 3, id="csv-extra-field"),
        pytest.param("m.csv", "name,label\na.png,cat\n", 1, id="csv-no-file-column"),
        pytest.param("m.csv", "", 1, id="csv-empty"),
        pytest.param("m.csv", "file,label\n,cat\n", 2, id="csv-empty-file"),
        pytest.param("m.jsonl", '{"file": "a.png"}\n{"file": "b.png",\n', 2, id="jsonl-bad-json"),
        pytest.param("m.jsonl", '["a.png"]\n', 1, id="jsonl-not-an-object"),
        pytest.param("m.jsonl", '{"file": "a.png", "label": ["cat"]}\n', 1, id="jsonl-list-label"),
        pytest.param("m.jsonl", '{"label": "cat"}\n', 1, id="jsonl-no-file"),
    ],
)
def test_malformed_manifest_names_the_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ImportRejected, match=f"{name}, line {line}: ") as info:
        iter_manifest(tmp_path / name)
    assert info.value.reason == "bad-manifest"


# -- dispatch --------------------------------------------------------------------------------
def test_iter_source_picks_the_reader_by_path(tmp_path: Path) -> None:
    (tmp_path / "one.png").write_bytes(PNG)
    archive = write_zip(tmp_path / "archive.bin", [("z.png", PNG)])
    assert outcomes(iter_source(tmp_path / "one.png")) == [("one.png", "ok")]
    assert outcomes(iter_source(archive)) == [("z.png", "ok")]
    assert count_source(tmp_path / "one.png") == 1


def test_iter_source_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ImportRejected) as info:
        iter_source(tmp_path / "nope")
    assert info.value.reason == "missing-file"


# -- memory ----------------------------------------------------------------------------------
#: run in a fresh interpreter, as the folder walk below: tracemalloc counts every thread's
#: allocations, and threads left by earlier tests would count inside this window too
MANIFEST_PEAK = """
import sys, tracemalloc
from crowdgate.ingestion import Entry, count_source, iter_source
tracemalloc.start()
seen = 0
for entry in iter_source(sys.argv[1]):
    assert isinstance(entry, Entry) and entry.label == "cat"
    seen += 1
assert count_source(sys.argv[1]) == int(sys.argv[2])
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(seen, peak)
"""


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_long_manifest_is_read_with_flat_memory(tmp_path: Path, suffix: str) -> None:
    # 20,000 lines of ~60 bytes: held whole (text plus rows, as before) that is over 5 MB.
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos/img.png").write_bytes(PNG)
    n, name = 20_000, "photos/" + "../photos/" * 4 + "img.png"
    if suffix == ".csv":
        text = "file,label,split\n" + f"{name},cat,train\n" * n
    else:
        text = json.dumps({"file": name, "label": "cat", "split": "train"}) + "\n"
        text *= n
    manifest = tmp_path / f"m{suffix}"
    manifest.write_text(text)
    run = subprocess.run(
        [sys.executable, "-c", MANIFEST_PEAK, str(manifest), str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    seen, peak = (int(v) for v in run.stdout.split()[-2:])
    assert seen == n
    assert peak < len(text) / 10, (peak, len(text))


#: run in a fresh interpreter: tracemalloc counts every thread's allocations, and threads that
#: earlier tests leave behind (blob writers, trainers) allocated 8 MB inside this window once
FOLDER_WALK_PEAK = """
import sys, tracemalloc
from crowdgate.ingestion import Entry, iter_folder
tracemalloc.start()
walked = [o.name for o in iter_folder(sys.argv[1]) if isinstance(o, Entry)]
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
assert walked == sorted(walked) and len(walked) == 3000, len(walked)
print(peak)
"""


def test_a_folder_walk_holds_names_only(tmp_path: Path) -> None:
    for i in range(3000):
        (tmp_path / f"photo-{i:05d}.png").write_bytes(b"x")
    run = subprocess.run(
        [sys.executable, "-c", FOLDER_WALK_PEAK, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(run.stdout.split()[-1])
    # 3,000 names of 15 characters take ~230 KB as str; os.DirEntry objects took 2-3 times that
    assert peak < 3000 * 200, peak
