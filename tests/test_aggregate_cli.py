"""The ``crowdgate aggregate`` command: CSV in, ``task,label,confidence`` out, clean errors."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest
from click.testing import CliRunner

from crowdgate.aggregation import AGGREGATORS
from crowdgate.cli.aggregate import aggregate

ANSWERS = (
    "task,worker,label,extra\nt1,w1,cat,x\nt1,w2,cat,x\nt1,w3,dog,x\nt2,w1,dog,x\nt2,w2,dog,x\n"
)


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(ANSWERS)
    return path


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("method", sorted(AGGREGATORS))
def test_writes_one_labelled_row_per_task_to_stdout(answers, method):
    result = CliRunner().invoke(aggregate, [str(answers), "--method", method])
    assert result.exit_code == 0, result.output
    out = rows(result.output)
    assert [(r["task"], r["label"]) for r in out] == [("t1", "cat"), ("t2", "dog")]
    assert all(0.5 <= float(r["confidence"]) <= 1.0 for r in out)


def test_gold_file_overrides_the_crowd_and_output_goes_to_the_file(answers, tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_text("task,label\nt1,dog\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(aggregate, [str(answers), "--gold", str(gold), "-o", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert rows(out.read_text())[0] == {"task": "t1", "label": "dog", "confidence": "1.000000"}


def test_malformed_file_exits_2_with_file_and_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("task,worker,label\nt1,w1,cat\nt2,w2\n")
    result = CliRunner().invoke(aggregate, [str(bad)])
    assert result.exit_code == 2
    assert "bad.csv, line 3" in result.output
    assert "Traceback" not in result.output


def test_missing_file_exits_2_with_a_sentence(tmp_path):
    result = CliRunner().invoke(aggregate, [str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert "Cannot open" in result.output and "none.csv" in result.output


def test_header_only_file_writes_only_the_header(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("task,worker,label\n")
    result = CliRunner().invoke(aggregate, [str(empty), "--method", "ds"])
    assert result.exit_code == 0
    assert result.output == "task,label,confidence\n"


def test_default_method_is_the_correlation_checked_dawid_skene(answers):
    from crowdgate.aggregation import DEFAULT_METHOD

    assert DEFAULT_METHOD == "bdsc"
    default = CliRunner().invoke(aggregate, [str(answers)])
    explicit = CliRunner().invoke(aggregate, [str(answers), "--method", "bdsc"])
    assert default.exit_code == 0 and default.output == explicit.output


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crowdgate.aggregation", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_module_entry_point_writes_what_the_command_writes(answers, tmp_path):
    out = tmp_path / "out.csv"
    done = run_module(str(answers), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text() == CliRunner().invoke(aggregate, [str(answers)]).output


def test_module_entry_point_exits_2_on_a_bad_file_without_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("task,worker,label\nt1,w1,cat\nt2,w2\n")
    done = run_module(str(bad))
    assert done.returncode == 2
    assert "bad.csv, line 3" in done.stderr and "Traceback" not in done.stderr


def test_aggregation_path_imports_no_scipy_sklearn_or_flask():
    code = (
        "import sys, crowdgate.aggregation.__main__, crowdgate.aggregation.command; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'sklearn', 'flask'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
