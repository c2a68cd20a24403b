"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import Settings

if TYPE_CHECKING:
    from ..store import Store

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $CROWDGATE_DATA_DIR or ./crowdgate-data).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def load_settings(data_dir: Path | None, **overrides: Any) -> Settings:
    """Return settings from the environment with command-line overrides applied."""
    return Settings.from_env(data_dir=data_dir, **overrides)


def store_for(settings: Settings) -> Store:
    """Open the configured store; it is closed when the running command ends."""
    from ..store import open_configured_store

    store = open_configured_store(settings)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(store.close)
    return store


def emit(as_json: bool, document: Any, text: Callable[[], None]) -> None:
    """Print ``document`` as JSON when asked, else call ``text`` to print for people."""
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=False))
    else:
        text()
