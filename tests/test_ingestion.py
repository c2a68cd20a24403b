"""Image normalization, gold variants and the importer, on real files made in the test."""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin
from tqdm import tqdm

from crowdgate.config import Settings
from crowdgate.errors import ImportRejected
from crowdgate.ingestion import ImportReport, import_path, make_variants, normalize_image
from crowdgate.models import GOLD, UNLABELED, Project
from crowdgate.store import IMAGE, THUMB, Store, open_store, variant_kind
from fixtures_images import (
    LIMITS,
    encode,
    photo,
    png_bomb,
    png_header_only,
    write_zip,
)

REASONS = {
    "too-large",
    "not-an-image",
    "format-not-allowed",
    "decompression-bomb",
    "truncated",
    "unreadable",
}


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def reason_of(data: bytes, **limits: int) -> str:
    with pytest.raises(ImportRejected) as info:
        normalize_image(data, **{**LIMITS, **limits})
    assert info.value.message.endswith(".")
    return info.value.reason


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(8000, 8000, id="over-our-limit"),
        pytest.param(10000, 10000, id="over-pillow-warning-limit"),
        pytest.param(20000, 20000, id="over-pillow-error-limit"),
    ],
)
def test_decompression_bomb_is_refused_from_the_header(width: int, height: int) -> None:
    bomb = png_bomb(width, height)
    assert len(bomb) < 200_000
    assert reason_of(bomb) == "decompression-bomb"


def test_bomb_is_refused_where_pillow_only_warns() -> None:
    limit_before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        with pytest.warns(Image.DecompressionBombWarning):
            assert reason_of(png_bomb(10000, 10000)) == "decompression-bomb"
    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_header_pixel_limit_is_checked_before_decoding_data() -> None:
    assert reason_of(png_header_only(7000, 7000)) == "decompression-bomb"


def test_pixel_limit_follows_the_setting() -> None:
    data = encode(photo(100, 100), "PNG")
    assert reason_of(data, max_pixels=9_999) == "decompression-bomb"
    assert normalize_image(data, **{**LIMITS, "max_pixels": 10_000}).width == 100


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = encode(photo(200, 150), fmt)
    assert reason_of(data[: len(data) * 2 // 3]) == "truncated"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"name,label\ncat.jpg,cat\n", "not-an-image", id="csv-text"),
        pytest.param(b"", "not-an-image", id="empty"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 40, "not-an-image", id="zip"),
        pytest.param(encode(photo(), "TIFF"), "format-not-allowed", id="tiff"),
        pytest.param(encode(photo(32, 32), "ICO"), "format-not-allowed", id="ico"),
        pytest.param(encode(photo(), "PDF"), "format-not-allowed", id="pdf"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"/>', "format-not-allowed", id="svg"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "unreadable", id="png-signature-only"),
    ],
)
def test_non_images_and_disallowed_formats_are_refused(data: bytes, reason: str) -> None:
    assert reason_of(data) == reason


def test_too_large_file_is_refused_before_decoding() -> None:
    data = encode(photo(), "PNG")
    assert reason_of(data, max_file_bytes=len(data) - 1) == "too-large"


def test_corrupt_image_data_is_unreadable() -> None:
    data = bytearray(encode(photo(200, 150), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 200] = bytes(190)
    assert reason_of(bytes(data)) == "unreadable"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_corrupted_bytes_are_refused_with_a_reason_never_a_crash(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "camera"
    original = encode(photo(60, 40), fmt, exif=exif.tobytes())
    rng = np.random.default_rng(0)
    for _ in range(80):
        data = bytearray(original)
        for pos in rng.integers(0, len(data), rng.integers(1, 7)):
            data[pos] = int(rng.integers(0, 256))
        try:
            out = normalize_image(bytes(data), **LIMITS)
        except ImportRejected as exc:
            assert exc.reason in REASONS
        else:
            assert decode(out.data).mode == "RGB"


def test_refusal_carries_a_stable_code_for_json_answers() -> None:
    with pytest.raises(ImportRejected) as info:
        normalize_image(b"hello", **LIMITS)
    assert info.value.to_dict()["code"] == "not-an-image"


# -- normalization -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("orientation", "size"),
    [
        pytest.param(1, (120, 80), id="upright"),
        pytest.param(3, (120, 80), id="rotated-180"),
        pytest.param(6, (80, 120), id="rotated-90"),
        pytest.param(8, (80, 120), id="rotated-270"),
    ],
)
def test_exif_orientation_is_applied(orientation: int, size: tuple[int, int]) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(photo(120, 80), "JPEG", exif=exif.tobytes())
    out = normalize_image(data, **LIMITS)
    assert (out.width, out.height) == size
    assert decode(out.data).size == size


def test_metadata_is_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x0112] = 1
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = encode(photo(), "JPEG", exif=exif.tobytes(), icc_profile=icc)
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret location")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>")
    png = encode(photo(), "PNG", pnginfo=text, icc_profile=icc)
    for data in (jpeg, png):
        out = decode(normalize_image(data, **LIMITS).data)
        assert out.format == "WEBP"
        assert not {"exif", "icc_profile", "xmp", "Comment"} & set(out.info)
        assert len(out.getexif()) == 0


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        pytest.param((2000, 500), (512, 128), id="wide"),
        pytest.param((300, 1024), (150, 512), id="tall"),
        pytest.param((200, 100), (200, 100), id="small-not-enlarged"),
    ],
)
def test_longest_side_is_bounded(size: tuple[int, int], expected: tuple[int, int]) -> None:
    out = normalize_image(encode(photo(*size), "PNG"), **LIMITS)
    assert (out.width, out.height) == expected
    assert decode(out.data).size == expected


def test_same_pixels_in_different_containers_get_the_same_id() -> None:
    im = photo(150, 100, seed=3)
    ids = {normalize_image(encode(im, fmt), **LIMITS).sha256 for fmt in ("PNG", "BMP")}
    lossless_webp = encode(im, "WEBP", lossless=True)
    ids.add(normalize_image(lossless_webp, **LIMITS).sha256)
    assert len(ids) == 1


def test_normalization_is_deterministic() -> None:
    data = encode(photo(900, 700, seed=5), "JPEG", quality=85)
    first, second = (normalize_image(data, **LIMITS) for _ in range(2))
    assert first.data == second.data
    assert first.thumb == second.thumb
    assert first.sha256 == second.sha256 == hashlib.sha256(first.data).hexdigest()


def test_gif_keeps_only_the_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "blue", "green")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = normalize_image(data, **LIMITS)
    r, g, b = decode(out.data).convert("RGB").getpixel((20, 20))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Image.new("RGBA", (40, 30), (0, 0, 0, 0)), id="rgba"),
        pytest.param(lambda: Image.new("LA", (40, 30), (0, 0)), id="la"),
        pytest.param(
            lambda: Image.new("RGBA", (40, 30), (0, 0, 0, 0)).convert("P"), id="palette-alpha"
        ),
    ],
)
def test_transparent_pixels_become_white(make: Callable[[], Image.Image]) -> None:
    out = normalize_image(encode(make(), "PNG"), **LIMITS)
    assert out.image.mode == "RGB"
    assert out.image.getpixel((20, 15)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        pytest.param("L", "PNG", id="grey-png"),
        pytest.param("1", "BMP", id="bilevel-bmp"),
        pytest.param("P", "GIF", id="palette-gif"),
        pytest.param("CMYK", "JPEG", id="cmyk-jpeg"),
        pytest.param("RGB", "WEBP", id="rgb-webp"),
    ],
)
def test_every_mode_is_converted_to_rgb(mode: str, fmt: str) -> None:
    out = normalize_image(encode(photo().convert(mode), fmt), **LIMITS)
    assert out.image.mode == "RGB"
    assert decode(out.data).mode == "RGB"


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    levels = np.array([[0, 32768, 65535]] * 4, dtype=np.uint16)
    data = encode(Image.fromarray(levels), "PNG")
    out = normalize_image(data, **LIMITS)
    assert [out.image.getpixel((x, 1))[0] for x in range(3)] == [0, 128, 255]


def test_thumbnail_is_a_letterboxed_square() -> None:
    out = normalize_image(encode(Image.new("RGB", (300, 100), (0, 0, 0)), "PNG"), **LIMITS)
    thumb = decode(out.thumb).convert("RGB")
    assert thumb.size == (128, 128)
    # the whole picture is kept: black band in the middle, white bars above and below
    assert sum(thumb.getpixel((64, 64))) < 30
    assert min(thumb.getpixel((64, 2))) > 225


# -- gold variants -----------------------------------------------------------------------------
def test_variants_are_deterministic_distinct_and_recognisable() -> None:
    image = normalize_image(encode(photo(200, 150, seed=1), "PNG"), **LIMITS).image
    variants = make_variants(image, 4, seed=7)
    assert variants == make_variants(image, 4, seed=7)
    assert variants != make_variants(image, 4, seed=8)
    assert len(set(variants)) == 4
    reference = np.asarray(decode(normalize_image(encode(image, "PNG"), **LIMITS).thumb), float)
    upside_down = encode(image.transpose(Image.Transpose.ROTATE_180), "PNG")
    unrelated = np.asarray(decode(normalize_image(upside_down, **LIMITS).thumb), float)
    for data in variants:
        tile = decode(data)
        assert tile.size == (128, 128)
        distance = np.abs(np.asarray(tile, float) - reference).mean()
        assert 0 < distance < np.abs(unrelated - reference).mean() / 2


def test_variants_follow_the_requested_size() -> None:
    assert decode(make_variants(photo(), 1, seed=0, size=64)[0]).size == (64, 64)


# -- importer ----------------------------------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    store = open_store("sqlite:///" + str(tmp_path / "db.sqlite"))
    store.create_project(Project(id="pets", name="Pets", labels=["cat", "dog"]))
    yield store
    store.close()


@pytest.fixture
def project(db: Store) -> Project:
    found = db.get_project("pets")
    assert found is not None
    return found


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test", tile_variants=3)


def test_folder_import_adds_items_merges_duplicates_and_reports_bad_files(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(encode(photo(seed=1), "PNG"))
    (folder / "b.jpg").write_bytes(encode(photo(seed=2), "JPEG"))
    (folder / "sub" / "c.bmp").write_bytes(encode(photo(seed=1), "BMP"))  # same pixels as a.png
    (folder / "notes.txt").write_text("not a picture")
    (folder / "bomb.png").write_bytes(png_bomb(10000, 10000))

    report = import_path(db, project, folder, settings)

    assert (report.added, report.duplicates, report.rejected) == (2, 1, 2)
    assert report.lines() == [
        f"bomb.png: {report.problems[0].message} [decompression-bomb]",
        f"notes.txt: {report.problems[1].message} [not-an-image]",
    ]
    items = db.list_items("pets")
    assert [i.filename for i in items] == ["a.png", "b.jpg"]
    for item in items:
        assert item.state == UNLABELED and item.known_label is None and item.variants == 3
        assert item.mime == "image/webp"
        image = db.get_blob("pets", item.id, IMAGE)
        assert image is not None and decode(image).size == (item.width, item.height)
        assert decode(db.get_blob("pets", item.id, THUMB) or b"").size == (128, 128)
        assert db.get_blob("pets", item.id, variant_kind(2)) is not None
    features = db.get_features("pets", [i.id for i in items])
    assert set(features) == {i.id for i in items}


def test_manifest_import_makes_gold_and_refuses_unknown_labels(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    for n in range(4):
        (tmp_path / f"{n}.png").write_bytes(encode(photo(seed=10 + n), "PNG"))
    (tmp_path / "m.csv").write_text(
        "file,label,split\n0.png,cat,train\n1.png,dog,val\n2.png,,\n3.png,horse,train\n"
    )

    report = import_path(db, project, tmp_path / "m.csv", settings)

    assert (report.added, report.duplicates) == (3, 0)
    assert [(p.name, p.reason) for p in report.problems] == [("3.png", "unknown-label")]
    items = {i.filename: i for i in db.list_items("pets")}
    cat, plain = items["0.png"], items["2.png"]
    assert (cat.state, cat.label, cat.known_label, cat.split) == (GOLD, "cat", "cat", "train")
    assert items["1.png"].split == "val"
    assert (plain.state, plain.known_label, plain.variants) == (UNLABELED, None, 3)
    assert cat.variants == 3
    blobs = [db.get_blob("pets", cat.id, variant_kind(i)) for i in range(3)]
    assert all(blobs) and len(set(blobs) | {db.get_blob("pets", cat.id, THUMB)}) == 4
    assert db.gold_labels("pets") == {"cat": 1, "dog": 1}


def test_tile_variants_are_keyed_by_the_deployment_secret(
    db: Store, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(encode(photo(), "PNG"))
    (tmp_path / "m.csv").write_text("file,label\na.png,cat\n")
    served = []
    for n, secret in enumerate(["one", "one", "two"]):
        project = Project(id=f"p{n}", name="p", labels=["cat", "dog"])
        db.create_project(project)
        import_path(db, project, tmp_path / "m.csv", replace(settings, secret_key=secret))
        [item] = db.list_items(project.id)
        served.append(db.get_blob(project.id, item.id, variant_kind(0)))
    assert served[0] == served[1] != served[2]


def test_zip_import_reports_unsafe_entries(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    archive = write_zip(
        tmp_path / "in.zip",
        [("ok.png", encode(photo(), "PNG")), ("../evil.png", encode(photo(seed=4), "PNG"))],
        symlinks={"link.png": "/etc/passwd"},
    )
    report = import_path(db, project, archive, settings)
    assert report.added == 1
    assert sorted((p.name, p.reason) for p in report.problems) == [
        ("../evil.png", "unsafe-path"),
        ("link.png", "symlink"),
    ]


def test_embeddings_are_stored_as_features(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.png").write_bytes(encode(photo(seed=n), "PNG"))
    vectors = {"0.png": np.arange(4.0), "1.png": np.ones(4)}
    report = import_path(db, project, folder, settings, embeddings=vectors)
    assert report.added == 2
    assert [(p.name, p.reason) for p in report.problems] == [("2.png", "missing-embedding")]
    item = db.list_items("pets")[0]
    assert np.array_equal(db.get_features("pets", [item.id])[item.id], np.arange(4.0))


def test_a_project_keeps_one_feature_dimension_across_imports(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    for n in range(3):
        (tmp_path / f"{n}.png").write_bytes(encode(photo(seed=n), "PNG"))
    import_path(db, project, tmp_path / "0.png", settings, embeddings={"0.png": np.ones(4)})
    with pytest.raises(ImportRejected, match="4-dimensional") as wrong:
        import_path(db, project, tmp_path / "1.png", settings, embeddings={"1.png": np.ones(8)})
    assert wrong.value.reason == "embedding-dimension"
    with pytest.raises(ImportRejected, match="built-in features"):
        import_path(db, project, tmp_path / "2.png", settings)
    report = import_path(
        db, project, tmp_path / "2.png", settings, embeddings={"2.png": np.ones(4)}
    )
    assert report.added == 1 and len(db.list_items("pets")) == 2


def test_bad_manifest_fails_before_anything_is_written(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(encode(photo(), "PNG"))
    lines = [json.dumps({"file": "a.png", "label": "cat"}), "{not json"]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRejected, match="line 2") as info:
        import_path(db, project, tmp_path / "m.jsonl", settings)
    assert info.value.reason == "bad-manifest"
    assert db.count_items("pets")[GOLD] == 0


def test_progress_accepts_a_callable_or_a_tqdm_bar(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(5):
        (folder / f"{n}.png").write_bytes(encode(photo(seed=n), "PNG"))
    (folder / "x.txt").write_text("x")
    steps: list[int] = []
    import_path(db, project, folder, settings, progress=steps.append)
    assert steps == [1] * 6
    with tqdm(file=io.StringIO()) as bar:
        report = import_path(db, project, folder, settings, progress=bar)
        assert (bar.total, bar.n) == (6, 6)
    assert isinstance(report, ImportReport) and report.duplicates == 5


def test_report_serializes_for_the_api(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "bad.png").write_bytes(b"not really")
    data = import_path(db, project, tmp_path / "bad.png", settings).to_dict()
    assert data["rejected"] == 1 and data["problems"][0]["reason"] == "not-an-image"
    json.dumps(data)


@pytest.mark.slow
def test_import_of_1800_small_images_takes_seconds(
    db: Store, project: Project, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(1800):
        (folder / f"{n:04d}.png").write_bytes(encode(photo(48, 48, seed=n), "PNG"))
    start = time.perf_counter()
    report = import_path(db, project, folder, settings)
    elapsed = time.perf_counter() - start
    assert report.added == 1800
    assert elapsed < 60
