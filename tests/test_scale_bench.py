"""bench/scale on demand: pages of a 20,000-item project answer in under 200 ms (p95) on both
backends, through the real Flask app. Slow: run with ``pytest -m slow tests/test_scale_bench.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.redis
def test_scale_bench_pages_stay_under_200_ms_at_20000_items(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/scale/run.py"),
            "--items",
            "20000",
            "--passes",
            "300",
            "--requests",
            "20",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path),
        ],
        check=True,
        timeout=1800,
    )
    results = json.loads(out.read_text())
    assert [r["backend"] for r in results] == ["sqlite", "redis"]
    for r in results:
        assert r["large"]["items"] == 20000
        for name, row in r["pages"].items():
            # the target for the dashboard, item browser, admin stats and /metrics
            assert row["large"]["p95_ms"] < 200, (r["backend"], name, row)
