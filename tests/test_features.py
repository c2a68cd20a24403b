"""Built-in image features on real Pillow images, and the embeddings loaders on real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from crowdgate.committee import (
    FEATURE_DIM,
    EmbeddingsError,
    extract_features,
    extract_features_batch,
    load_embeddings,
)
from crowdgate.errors import CrowdgateError


def _drawn_image(mode: str, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (30, 120, 200))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(240, 200, 20))
    draw.line((0, h - 1, w - 1, 0), fill=(10, 10, 10), width=max(1, w // 20))
    if mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(Image.linear_gradient("L").resize(size))
        return image
    return image.convert(mode)


IMAGES = {
    "rgb_square": lambda: _drawn_image("RGB", (128, 128)),
    "rgb_wide": lambda: _drawn_image("RGB", (300, 90)),
    "rgba_gradient_alpha": lambda: _drawn_image("RGBA", (80, 80)),
    "grayscale": lambda: _drawn_image("L", (64, 64)),
    "palette": lambda: _drawn_image("P", (50, 70)),
    "tiny": lambda: _drawn_image("RGB", (3, 5)),
}


@pytest.mark.parametrize("make", IMAGES.values(), ids=IMAGES.keys())
def test_features_have_documented_shape_dtype_and_unit_norm(make):
    features = extract_features(make())
    assert features.shape == (FEATURE_DIM,) == (424,)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert np.linalg.norm(features) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("make", IMAGES.values(), ids=IMAGES.keys())
def test_features_are_deterministic_and_leave_the_image_unchanged(make):
    image = make()
    before = image.tobytes()
    assert np.array_equal(extract_features(image), extract_features(image.copy()))
    assert image.tobytes() == before


def test_flat_image_gives_finite_features_with_only_the_colour_block():
    features = extract_features(Image.new("RGB", (40, 40), (128, 128, 128)))
    assert np.isfinite(features).all()
    assert np.count_nonzero(features) == 3  # one bin per channel
    assert np.linalg.norm(features) == pytest.approx(1 / np.sqrt(3), abs=1e-6)


def test_different_images_give_different_features():
    a = extract_features(IMAGES["rgb_square"]())
    b = extract_features(IMAGES["rgb_square"]().transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    assert float(a @ b) < 0.99


@pytest.fixture(scope="module")
def digit_images():
    digits = load_digits()
    picks = np.arange(400)
    images = [
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).resize(
            (64, 64), Image.Resampling.NEAREST
        )
        for i in picks
    ]
    return images, digits.target[picks]


def test_batch_of_upscaled_digits_matches_single_extraction(digit_images):
    images, _ = digit_images
    batch = extract_features_batch(images[:20])
    assert batch.shape == (20, FEATURE_DIM)
    assert batch.dtype == np.float32
    assert np.array_equal(batch[7], extract_features(images[7]))


def test_upscaled_digits_are_separable_by_a_nearest_neighbour_on_features(digit_images):
    images, y = digit_images
    X = extract_features_batch(images)
    accuracy = cross_val_score(KNeighborsClassifier(n_neighbors=3), X, y, cv=4).mean()
    assert accuracy > 0.85


def test_empty_batch_has_zero_rows():
    assert extract_features_batch([]).shape == (0, FEATURE_DIM)


# ---- embeddings -------------------------------------------------------------------------

VECTORS = {"cat1.jpg": [0.5, -1.0, 2.0], "dog 2.png": [1e-3, 0.0, 3.5]}


def _write_npz(path, names, vectors):
    np.savez(path, names=np.array(names), vectors=np.array(vectors, dtype=np.float64))


def _write_csv_wide(path, names, vectors):
    dim = max(len(v) for v in vectors)
    lines = ["file," + ",".join(f"v{i}" for i in range(dim))]
    lines += [
        name + "," + ",".join(repr(x) for x in v) for name, v in zip(names, vectors, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def _write_csv_packed_json(path, names, vectors):
    lines = ["file,vector"] + [
        f'{name},"{json.dumps(v)}"' for name, v in zip(names, vectors, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def _write_csv_packed_spaces(path, names, vectors):
    lines = ["file,vector"] + [
        f"{n},{' '.join(map(repr, v))}" for n, v in zip(names, vectors, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def _write_jsonl(path, names, vectors):
    lines = [json.dumps({"file": n, "vector": v}) for n, v in zip(names, vectors, strict=True)]
    path.write_text("\n".join(lines) + "\n\n")


WRITERS = {
    "npz": (".npz", _write_npz),
    "csv_wide": (".csv", _write_csv_wide),
    "csv_packed_json": (".csv", _write_csv_packed_json),
    "csv_packed_spaces": (".csv", _write_csv_packed_spaces),
    "jsonl": (".jsonl", _write_jsonl),
}


def _write(tmp_path, fmt, names, vectors):
    suffix, writer = WRITERS[fmt]
    path = tmp_path / f"embeddings{suffix}"
    writer(path, list(names), [list(v) for v in vectors])
    return path


@pytest.mark.parametrize("fmt", WRITERS)
def test_each_format_loads_float32_vectors_keyed_by_file_name(tmp_path, fmt):
    path = _write(tmp_path, fmt, VECTORS.keys(), VECTORS.values())
    loaded = load_embeddings(path, expected_dim=3)
    assert sorted(loaded) == sorted(VECTORS)
    for name, vector in VECTORS.items():
        assert loaded[name].dtype == np.float32
        assert np.allclose(loaded[name], vector)


# An npz ``vectors`` array is rectangular by construction, so only the row formats can mix.
@pytest.mark.parametrize("fmt", ["csv_packed_json", "csv_packed_spaces", "jsonl"])
def test_mixed_dimensions_are_refused(tmp_path, fmt):
    path = _write(tmp_path, fmt, ["a.jpg", "b.jpg"], [[1.0, 2.0, 3.0], [1.0, 2.0]])
    with pytest.raises(EmbeddingsError, match=r"'b.jpg' has 2 dimensions but earlier rows have 3"):
        load_embeddings(path)


def test_wide_csv_with_a_short_row_is_refused(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("file,v0,v1,v2\na.jpg,1,2,3\nb.jpg,1,2\n")
    with pytest.raises(EmbeddingsError) as info:
        load_embeddings(path)
    assert info.value.code == "embeddings-dimension"


@pytest.mark.parametrize("fmt", WRITERS)
def test_dimension_mismatch_with_the_project_is_refused(tmp_path, fmt):
    path = _write(tmp_path, fmt, VECTORS.keys(), VECTORS.values())
    with pytest.raises(EmbeddingsError, match="the project expects 256") as info:
        load_embeddings(path, expected_dim=256)
    assert info.value.code == "embeddings-dimension"
    assert isinstance(info.value, CrowdgateError)


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), 1e39], ids=["nan", "infinity", "beyond_float32"]
)
@pytest.mark.parametrize("fmt", WRITERS)
def test_non_finite_values_are_refused(tmp_path, fmt, bad):
    path = _write(tmp_path, fmt, ["a.jpg", "b.jpg"], [[1.0, 2.0], [bad, 0.0]])
    with pytest.raises(EmbeddingsError, match=r"'b\.jpg' contains NaN or infinity") as info:
        load_embeddings(path)
    assert info.value.code == "embeddings-non-finite"


@pytest.mark.parametrize("fmt", WRITERS)
def test_duplicate_file_names_are_refused(tmp_path, fmt):
    path = _write(tmp_path, fmt, ["a.jpg", "a.jpg"], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(EmbeddingsError, match="appears twice") as info:
        load_embeddings(path)
    assert info.value.code == "embeddings-duplicate"


BAD_FILES = {
    "unknown_suffix": ("e.parquet", b"PAR1"),
    "empty_jsonl": ("e.jsonl", b"\n\n"),
    "csv_without_header": ("e.csv", b"a.jpg,1,2\n"),
    "csv_header_only": ("e.csv", b"file,v0,v1\n"),
    "jsonl_not_json": ("e.jsonl", b'{"file": "a.jpg", "vector": [1, 2]\n'),
    "jsonl_missing_vector": ("e.jsonl", b'{"file": "a.jpg", "embedding": [1, 2]}\n'),
    "jsonl_vector_of_strings": ("e.jsonl", b'{"file": "a.jpg", "vector": ["x", "y"]}\n'),
    "jsonl_nested_vector": ("e.jsonl", b'{"file": "a.jpg", "vector": [[1, 2]]}\n'),
    "jsonl_empty_name": ("e.jsonl", b'{"file": "", "vector": [1, 2]}\n'),
    "csv_packed_bad_json": ("e.csv", b'file,vector\na.jpg,"[1, 2"\n'),
    "npz_not_a_zip": ("e.npz", b"not a zip archive"),
}


@pytest.mark.parametrize(("name", "content"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_malformed_files_are_refused_with_a_sentence(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(EmbeddingsError) as info:
        load_embeddings(path)
    assert info.value.code in {"embeddings-format", "embeddings-empty"}
    assert info.value.message.endswith(".")


def test_npz_without_the_named_arrays_is_refused(tmp_path):
    path = tmp_path / "e.npz"
    np.savez(path, np.zeros((2, 3)))
    with pytest.raises(EmbeddingsError, match="'names' and 'vectors'"):
        load_embeddings(path)


def test_npz_with_object_names_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "e.npz"
    np.savez(path, names=np.array(["a.jpg", None], dtype=object), vectors=np.zeros((2, 3)))
    with pytest.raises(EmbeddingsError, match="not Python objects"):
        load_embeddings(path)


def test_npz_with_mismatched_lengths_is_refused(tmp_path):
    path = tmp_path / "e.npz"
    np.savez(path, names=np.array(["a.jpg"]), vectors=np.zeros((2, 3)))
    with pytest.raises(EmbeddingsError, match="same n"):
        load_embeddings(path)


def test_the_import_workers_modules_load_no_scikit_learn_or_scipy():
    # an import's worker processes load these two; scikit-learn and SciPy would cost each
    # worker a second of start-up and tens of MiB (they load with crowdgate.committee)
    import subprocess
    import sys

    code = (
        "import sys, crowdgate.ingestion.prepare, crowdgate.features; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
