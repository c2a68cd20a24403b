"""The ``crowdgate`` command line: serve, demo, projects, import, sites, API keys.

Each command lives in a module that imports only click and the standard library at the top;
what a command needs to run (scikit-learn, Flask, the store, Pillow) it imports when it runs.
The group below imports a command's module only when that command is asked for, so
``crowdgate --help`` and ``crowdgate CMD --help`` start in a fraction of a second.
"""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import CrowdgateError

# Command name -> ("module:attribute" under crowdgate.cli, the first paragraph of its help).
# The summaries are spelled out so that `crowdgate --help` imports no command module;
# tests/test_cli.py pins them to the commands' own docstrings.
COMMANDS: dict[str, tuple[str, str]] = {
    "aggregate": (
        "aggregate:aggregate",
        "Aggregate ANSWERS (a CSV with task,worker,label columns) into one label per task.",
    ),
    "apikey": ("admin:apikey", "Create, list and revoke admin API keys."),
    "blobs": (
        "blobs:blobs",
        "Move image bytes out of the store into the blob folder, and remove unreferenced ones.",
    ),
    "demo": (
        "serve:demo",
        "Create the demo (digits project, site) if needed, then serve it and its sign-up page.",
    ),
    "export": (
        "export:export",
        "Export PROJECT_ID's labels as csv, jsonl, imagefolder (zip) or labelstudio (JSON).",
    ),
    "import": (
        "admin:import_command",
        "Import images into PROJECT_ID from a folder, a zip or a CSV/JSONL manifest.",
    ),
    "project": ("admin:project", "Create and list labeling projects."),
    "retrain": (
        "worker:retrain",
        "Retrain PROJECT_ID's committee now and refill its question queues.",
    ),
    "serve": (
        "serve:serve",
        "Run the service (gunicorn; the store from CROWDGATE_STORE or the data directory).",
    ),
    "signin": (
        "admin:signin",
        "Print a one-time dashboard sign-in link (works once, for 15 minutes).",
    ),
    "simulate": (
        "simulate:simulate",
        "Answer CHALLENGES grids of SITEKEY at URL with a crowd of simulated visitors.",
    ),
    "site": (
        "admin:site",
        "Create, list and change sites that embed the widget, and rotate their secrets.",
    ),
    "worker": (
        "worker:worker",
        "Run the trainer: retrain projects after new labels or time, one trainer at a time.",
    ),
}


class Group(click.Group):
    """A click group that loads commands on demand and prints CrowdgateError as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command name (without importing any command module)."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the module of ``cmd_name`` and return its click command."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target[0].split(":")
        command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their summaries, as click does, without importing them."""
        width = formatter.width - 6 - max(map(len, COMMANDS))
        # A bare Command carrying only the summary shortens it exactly as the real one would.
        rows = [
            (name, click.Command(name, help=summary).get_short_help_str(width))
            for name, (_, summary) in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a CrowdgateError becomes ``error: message (code)`` and exit 2."""
        try:
            return super().invoke(ctx)
        except CrowdgateError as exc:
            click.echo(f"error: {exc.message} ({exc.code})", err=True)
            sys.exit(2)


@click.group(cls=Group)
@click.version_option(package_name="crowdgate")
def main() -> None:
    """crowdgate: captcha-style crowdsourced image labeling with active learning."""
