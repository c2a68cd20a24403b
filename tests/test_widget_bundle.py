"""The committed widget bundle is a fresh build of widget_js/src and fits the size budget."""

import gzip
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "service" / "crowdgate" / "web" / "static" / "widget.js"
BUDGET_GZIP_BYTES = 15 * 1024


@pytest.fixture(scope="module")
def build_module():
    spec = importlib.util.spec_from_file_location("widget_build", ROOT / "widget_js" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_bundle_equals_a_fresh_build(build_module):
    fresh = build_module.build().encode("utf-8")
    assert BUNDLE.read_bytes() == fresh, "stale bundle: run python widget_js/build.py"


def test_bundle_fits_the_gzip_budget():
    size = len(gzip.compress(BUNDLE.read_bytes(), compresslevel=9, mtime=0))
    assert size <= BUDGET_GZIP_BYTES, f"{size} bytes gzipped"


def test_bundle_is_one_strict_iife_that_installs_from_the_current_script():
    text = BUNDLE.read_text(encoding="utf-8")
    assert text.startswith("/*! crowdgate widget ")
    assert '(function () {\n"use strict";' in text
    assert text.endswith("__cg_main.install(window, document.currentScript);\n})();\n")


def test_sri_hash_is_sha384_of_the_committed_bytes(build_module):
    raw, gz, sri = build_module.sizes(BUNDLE.read_bytes())
    assert raw == BUNDLE.stat().st_size
    assert gz <= raw
    assert sri.startswith("sha384-")
    assert len(sri) == len("sha384-") + 64


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("export default function f() {}\n", id="export-default"),
        pytest.param("export { a };\n", id="export-list"),
        pytest.param('import * as x from "./i18n.js";\n', id="namespace-import"),
        pytest.param("const s = `\nunclosed\n", id="unclosed-template"),
        pytest.param("const a = 1; // `tick`\n", id="backtick-in-trailing-comment"),
    ],
)
def test_unsupported_module_syntax_is_rejected(build_module, tmp_path, source):
    for name in build_module.MODULES:
        (tmp_path / f"{name}.js").write_text("", encoding="utf-8")
    (tmp_path / "i18n.js").write_text(source, encoding="utf-8")
    with pytest.raises(build_module.BuildError, match=r"i18n\.js"):
        build_module.build(tmp_path)


def test_comment_lines_and_indentation_are_stripped_outside_templates(build_module, tmp_path):
    for name in build_module.MODULES:
        (tmp_path / f"{name}.js").write_text("", encoding="utf-8")
    source = (
        "// @ts-check\n/**\n * Doc.\n */\nexport const A = 1;\n"
        "  /** @type {number} */ (A);\nexport const CSS = `\n  keep  indent\n// keep\n`;\n"
    )
    (tmp_path / "i18n.js").write_text(source, encoding="utf-8")
    out = build_module.build(tmp_path)
    assert "Doc." not in out and "@ts-check" not in out
    assert "const A = 1;\n/** @type {number} */ (A);\n" in out
    assert "`\n  keep  indent\n// keep\n`;" in out
    assert "return { A, CSS };" in out
