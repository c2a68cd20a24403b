"""``crowdgate aggregate``: consensus labels from a crowd answers CSV (crowd-kit's columns)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import CrowdgateError

# The aggregators import numpy; their names are spelled out here so that
# `crowdgate aggregate --help` loads neither. tests/test_cli.py pins them to AGGREGATORS.
METHODS = ("bds", "bdsc", "ds", "dsp", "ebcc", "mv", "ods", "wmv")


@click.command("aggregate")
@click.argument("answers", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--method",
    "-m",
    type=click.Choice(METHODS),
    default="bdsc",
    show_default=True,
    help="Aggregation method: bdsc (Bayesian Dawid-Skene, or EBCC's item subtypes where the "
    "answers show correlated errors; see docs/aggregation.md), bds (the same without the "
    "correlation check, about ten times faster), ebcc, mv, wmv, ds, ods or dsp.",
)
@click.option(
    "--gold",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of known labels (task,label or task,truth); those tasks are clamped to them.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write task,label,confidence here instead of standard output.",
)
def aggregate(answers: Path, method: str, gold: Path | None, output: Path | None) -> None:
    """Aggregate ANSWERS (a CSV with task,worker,label columns) into one label per task."""
    from ..aggregation.command import aggregate_file

    try:
        aggregate_file(answers, method, gold, output)
    except CrowdgateError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"Error: cannot write {output}: {exc.strerror}.", err=True)
        sys.exit(2)
