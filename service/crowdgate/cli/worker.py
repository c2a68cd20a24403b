"""``crowdgate worker`` (the trainer loop) and ``crowdgate retrain PROJECT`` (one run now)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import click

from ..config import ConfigError
from ..errors import NotFound
from .common import data_dir_option, json_option, load_settings, store_for

STEPS = ["consensus", "gold pool", "load", "fit", "score", "queues", "tiles", "done"]


@click.command("worker")
@click.option("--once", is_flag=True, help="Retrain every due project once, then exit.")
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Exit when this process is gone (used by the embedded mode).",
)
@data_dir_option
def worker(once: bool, parent_pid: int | None, data_dir: Path | None) -> None:
    """Run the trainer: retrain projects after new labels or time, one trainer at a time."""
    from .. import trainer

    settings = load_settings(data_dir)
    lower_priority(settings.worker_nice)
    store = store_for(settings)
    if once:
        versions = trainer.run_once(
            store, settings.retrain_every_labels, settings.retrain_every_s, settings
        )
        click.echo(f"retrained {len(versions)} project(s)")
        return
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"trainer running (store: {settings.store_uri})", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        trainer.run_forever(
            store,
            settings.retrain_every_labels,
            settings.retrain_every_s,
            settings.worker_poll_s,
            stop=lambda: bool(stopping) or _orphaned(parent_pid),
            settings=settings,
        )


def lower_priority(nice: int) -> None:
    """Add ``nice`` to this process's niceness so training yields the CPU to requests."""
    if not 0 <= nice <= 19:
        raise ConfigError(f"CROWDGATE_WORKER_NICE={nice} must be between 0 and 19.")
    # A fit takes seconds of CPU; beside the server on a small host it would otherwise
    # stretch every request it shares a core with (bench/widget_load measured it).
    if nice and hasattr(os, "nice"):
        os.nice(nice)


def _orphaned(parent_pid: int | None) -> bool:
    return parent_pid is not None and os.getppid() != parent_pid


@click.command("retrain")
@click.argument("project_id")
@click.option("--seed", type=int, default=None, help="random_state of the committee.")
@data_dir_option
@json_option
def retrain(project_id: str, seed: int | None, data_dir: Path | None, as_json: bool) -> None:
    """Retrain PROJECT_ID's committee now and refill its question queues."""
    from tqdm import tqdm

    from .. import trainer

    settings = load_settings(data_dir)
    store = store_for(settings)
    project = store.get_project(project_id)
    if project is None:
        raise NotFound(f"Project {project_id!r} does not exist.", code="unknown-project")
    with (
        trainer.hold_lock(store, project_id) as renew,
        tqdm(
            total=len(STEPS), desc="retrain", unit="step", disable=as_json or None, file=sys.stderr
        ) as bar,
    ):

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        record = trainer.retrain(
            store,
            project,
            random_state=seed,
            progress=step,
            renew=renew,
            settings=settings,
        )
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        m = record["metrics"]
        click.echo(
            f"model {record['version']}: {m['mode']}, {m['n_labeled']} labeled, "
            f"{m['n_open']} open, cv accuracy {m.get('cv_accuracy')}, "
            f"{m['seconds']} s"
        )
