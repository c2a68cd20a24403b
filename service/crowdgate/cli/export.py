"""``crowdgate export``: stream a project's labels to a file, with a progress bar."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import NotFound
from .common import data_dir_option, load_settings, store_for

# The export package imports the store (numpy); these two are spelled out so that
# `crowdgate export --help` does not load it. tests/test_cli.py pins them to crowdgate.export.
FORMAT_NAMES = ("csv", "jsonl", "imagefolder", "labelstudio")
DEFAULT_IMAGE_URL = "/data/local-files/?d={project}/{split}/{item_id}.webp"


@click.command("export")
@click.argument("project_id")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write ('-' for standard output).",
)
@click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Leave out crowd and committee labels less confident than this.",
)
@click.option(
    "--include-committee",
    is_flag=True,
    help="Also export open items labeled only by the committee (machine labels).",
)
@click.option(
    "--validation",
    type=click.FloatRange(0, 0.9),
    default=0.0,
    show_default=True,
    help="Fraction of items put in a 'validation' split (0 keeps imported splits).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the train/validation draw."
)
@click.option(
    "--image-url",
    default=DEFAULT_IMAGE_URL,
    show_default=True,
    help="Label Studio image URL template: {project} {split} {item_id} {file_name}.",
)
@click.option(
    "--labeling-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the Label Studio labeling configuration (XML) here.",
)
@data_dir_option
def export(
    project_id: str,
    fmt: str,
    output: Path,
    min_confidence: float,
    include_committee: bool,
    validation: float,
    seed: int,
    image_url: str,
    labeling_config: Path | None,
    data_dir: Path | None,
) -> None:
    """Export PROJECT_ID's labels as csv, jsonl, imagefolder (zip) or labelstudio (JSON)."""
    from tqdm import tqdm

    from ..export import ExportOptions, export_chunks
    from ..export import labeling_config as ls_config

    store = store_for(load_settings(data_dir))
    project = store.get_project(project_id)
    if project is None:
        raise NotFound(
            f"Project {project_id!r} does not exist; `crowdgate project list` shows the ids.",
            code="unknown-project",
        )
    options = ExportOptions(min_confidence, include_committee, validation, seed)
    total = sum(store.count_items(project.id).values())
    to_stdout = str(output) == "-"
    with tqdm(total=total, unit="item", desc=f"export {fmt}", file=sys.stderr, disable=None) as bar:
        chunks = export_chunks(store, project, fmt, options, tick=bar.update, image_url=image_url)
        if to_stdout:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            partial = output.with_name(output.name + ".part")
            try:
                with partial.open("wb") as out:
                    for chunk in chunks:
                        out.write(chunk)
                os.replace(partial, output)
            finally:
                partial.unlink(missing_ok=True)
    if labeling_config is not None:
        labeling_config.write_text(ls_config(project), encoding="utf-8")
    if not to_stdout:
        click.echo(f"wrote {output} ({output.stat().st_size} bytes)", err=True)
