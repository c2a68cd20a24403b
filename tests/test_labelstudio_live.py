"""Label Studio itself imports a crowdgate ``labelstudio`` export and reads it back.

Slow: the first run installs Label Studio from PyPI into ``bench/labelstudio/.venv`` and its
first start migrates a fresh database (minutes on a loaded 2-core machine). Run with
``pytest -m slow tests/test_labelstudio_live.py`` or ``python bench/labelstudio/run.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RUN = Path(__file__).resolve().parents[1] / "bench" / "labelstudio" / "run.py"


def _check_module():
    spec = importlib.util.spec_from_file_location("labelstudio_check", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_label_studio_reads_back_tasks_predictions_and_images(tmp_path: Path) -> None:
    check = _check_module()
    exe = check.ensure_label_studio()
    tasks, config, images, docroot = check.build_export(tmp_path, n=24)
    server = check.LabelStudio(exe, tmp_path, docroot)
    try:
        server.wait()
        seen = check.check(server, tasks, config, images, docroot)
    finally:
        server.stop()
    assert seen == {"tasks": 24, "predictions": 24, "images": 24}
