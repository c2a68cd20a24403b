"""The ``crowdgate aggregate`` command: CSV in, ``task,label,confidence`` out, clean errors."""

from __future__ import annotations

import csv
import io

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
