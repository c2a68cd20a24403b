"""The ``crowdgate`` command line: serve, demo, projects, import, sites, API keys."""

from __future__ import annotations

import sys

import click

from ..errors import CrowdgateError
from . import admin, export, serve, worker
from .aggregate import aggregate
from .simulate import simulate


class Group(click.Group):
    """A click group that prints CrowdgateError as one line on stderr and exits 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CrowdgateError as exc:
            click.echo(f"error: {exc.message} ({exc.code})", err=True)
            sys.exit(2)


@click.group(cls=Group)
@click.version_option(package_name="crowdgate")
def main() -> None:
    """crowdgate: captcha-style crowdsourced image labeling with active learning."""


for command in (*admin.COMMANDS, *export.COMMANDS, *serve.COMMANDS, *worker.COMMANDS):
    main.add_command(command)
main.add_command(aggregate)
main.add_command(simulate)
