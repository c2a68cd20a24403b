"""``crowdgate simulate``: answer a running service's grids with a simulated crowd."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import BadRequest
from .common import data_dir_option, emit, json_option, load_settings

if TYPE_CHECKING:
    from ..simulate import GoldMemory, Perceiver

# The simulator imports scikit-learn; its default mix is spelled out so that
# `crowdgate simulate --help` does not load it. tests/test_cli.py pins it to DEFAULT_MIX.
DEFAULT_MIX_TEXT = "careful=0.7,sloppy=0.1,random=0.1,adversarial=0.1"
#: the attackers of simulate.attackers (pinned to its ATTACKS by tests/test_cli.py)
ATTACKS = ("random", "one-click", "bytes", "phash", "recognizer", "recognizer-blind")


def _manifest(path: Path) -> list[tuple[Path, str]]:
    """Return ``(image path, label)`` rows of a ``file,label`` CSV (empty labels included)."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise BadRequest(
            f"{path} is not a manifest: it needs a header with 'file' and 'label' columns.",
            code="simulate-manifest",
        )
    return [(path.parent / r["file"], (r["label"] or "").strip()) for r in rows]


def _perceiver(reference: str, seed: int) -> Perceiver:
    from ..simulate import Perceiver

    if reference == "digits":
        from ..simulate import digits

        images, _ = digits.load()
        return digits.reference_perceiver(range(len(images)), random_state=seed)
    from PIL import Image

    rows = [(p, label) for p, label in _manifest(Path(reference)) if label]
    return Perceiver(random_state=seed).fit(
        [Image.open(p) for p, _ in rows], [label for _, label in rows]
    )


def _memory(manifest: Path | None) -> GoldMemory | None:
    if manifest is None:
        return None
    from PIL import Image

    from ..simulate import GoldMemory

    gold = [p for p, label in _manifest(manifest) if label]
    return GoldMemory().fit([Image.open(p) for p in gold])


@click.command("simulate")
@click.option("--url", default=None, help="Base URL of the running service.")
@click.option("--sitekey", default=None, help="Site whose challenges the crowd answers.")
@click.option(
    "--demo",
    is_flag=True,
    help="Answer the running `crowdgate demo` (URL, sitekey and its simulator key from the "
    "data directory); it counts each visitor by its own address.",
)
@click.option("--visitors", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--challenges", default=200, show_default=True, type=click.IntRange(0, 10**7))
@click.option("--mix", default=DEFAULT_MIX_TEXT, show_default=True, help="Shares of kinds.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option("--origin", default="http://localhost", show_default=True, help="Origin header.")
@click.option(
    "--networks",
    default=None,
    type=click.IntRange(1, 65_536),
    help="Distinct /24 networks of the visitors (default: one per visitor).",
)
@click.option(
    "--forwarded/--no-forwarded",
    default=True,
    show_default=True,
    help="Send X-Forwarded-For (honoured only with CROWDGATE_TRUSTED_PROXIES=1).",
)
@click.option(
    "--reference",
    default="digits",
    show_default=True,
    help="What visitors know: 'digits' (scikit-learn's) or a file,label manifest CSV.",
)
@click.option(
    "--gold-memory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Manifest whose labelled rows the adversarial colluders have memorised as gold.",
)
@click.option(
    "--attack",
    type=click.Choice(ATTACKS),
    default=None,
    help="Play the grids with one attacker (a fresh address per grid) instead of the crowd.",
)
@click.option(
    "--oracle-store",
    default=None,
    help="Store URI the perfect-recognition attacks read item identities from (simulator only).",
)
@click.option("--api-key", default=None, help="Admin key, to report the votes accepted.")
@click.option("--project", default=None, help="Project of the site (with --api-key).")
@data_dir_option
@json_option
def simulate(
    url: str | None,
    sitekey: str | None,
    demo: bool,
    visitors: int,
    challenges: int,
    mix: str,
    seed: int,
    concurrency: int,
    origin: str,
    networks: int | None,
    forwarded: bool,
    reference: str,
    gold_memory: Path | None,
    attack: str | None,
    oracle_store: str | None,
    api_key: str | None,
    project: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Answer CHALLENGES grids of SITEKEY at URL with a crowd of simulated visitors."""
    from ..simulate import Admin, Crowd, parse_mix

    headers: dict[str, str] = {}
    if demo:
        from ..demo import simulator_target

        target = simulator_target(load_settings(data_dir).data_dir)
        url, sitekey, headers = url or target.url, sitekey or target.sitekey, target.headers
    if not url or not sitekey:
        raise click.UsageError("Give --url and --sitekey, or --demo for the running demo.")
    if attack is not None:
        _attack(url, sitekey, attack, challenges, seed, origin, oracle_store, as_json)
        return
    crowd = Crowd(
        url,
        sitekey,
        _perceiver(reference, seed),
        visitors=visitors,
        mix=parse_mix(mix),
        memory=_memory(gold_memory),
        origin=origin,
        forwarded=forwarded,
        networks=networks,
        headers=headers,
        concurrency=concurrency,
        seed=seed,
    )
    admin = Admin(url, api_key) if api_key and project else None
    before = admin.project(project)["stats"].get("votes", 0) if admin and project else 0
    summary = crowd.run(challenges)
    if admin and project:
        summary.votes_accepted = admin.project(project)["stats"].get("votes", 0) - before

    def text() -> None:
        click.echo(
            f"{summary.challenges} grids in {summary.seconds:.1f} s: {summary.passes} passed, "
            f"{summary.fails} failed"
            + (f", {summary.votes_accepted} votes accepted" if admin else "")
        )
        for kind, row in summary.by_kind.items():
            rate = summary.pass_rate(kind)
            click.echo(f"  {kind}: {row['challenges']} grids, pass rate {rate:.2f}")
        for code, n in sorted(summary.errors.items()):
            click.echo(f"  error {code}: {n}")

    emit(as_json, {"visitors": dict(crowd.kinds()), **summary.to_dict()}, text)


def _attack(
    url: str,
    sitekey: str,
    kind: str,
    grids: int,
    seed: int,
    origin: str,
    oracle_store: str | None,
    as_json: bool,
) -> None:
    """Play ``grids`` grids with one attacker and report its pass rates over time."""
    import time

    from ..simulate.attackers import NEEDS_ORACLE, AttackRun, HttpTransport

    oracle = None
    store = None
    if kind in NEEDS_ORACLE:
        if not oracle_store:
            raise BadRequest(
                f"Attack {kind!r} recognizes images perfectly: give --oracle-store, the "
                "server's store URI, so the simulator can read each tile's item.",
                code="simulate-oracle",
            )
        from ..store import open_store

        store = open_store(oracle_store)

        def oracle(challenge_id: str) -> list[str]:
            found = store.get_challenge(challenge_id, time.time())
            return [s.item for s in found.slots] if found else []

    transport = HttpTransport(url, sitekey, origin)
    try:
        log = AttackRun(transport, kind, oracle=oracle, seed=seed).run(grids)
    finally:
        transport.close()
        if store is not None:
            store.close()
    n = len(log.outcomes)
    data = {
        "attack": kind,
        "grids": n,
        "pass_rate": round(log.rate(), 4),
        "first_250": round(log.rate(0, 250), 4),
        "last_500": round(log.rate(max(0, n - 500)), 4),
        "windows_250": [round(r, 3) for r in log.windows(250)],
        "errors": dict(log.errors),
        "seconds": round(log.seconds, 2),
    }

    def text() -> None:
        click.echo(
            f"{kind}: {n} grids in {log.seconds:.1f} s, pass rate {data['pass_rate']:.3f} "
            f"(first 250: {data['first_250']:.3f}, last 500: {data['last_500']:.3f})"
        )
        click.echo("  windows of 250: " + " ".join(f"{r:.2f}" for r in data["windows_250"]))
        for code, count in sorted(log.errors.items()):
            click.echo(f"  error {code}: {count}")

    emit(as_json, data, text)
