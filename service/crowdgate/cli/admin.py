"""Administrative commands: projects, import, sites and API keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import NotFound
from .common import data_dir_option, emit, json_option, load_settings, store_for


@click.group("project")
def project() -> None:
    """Create and list labeling projects."""


@project.command("create")
@click.argument("project_id")
@click.option("--labels", required=True, help="Comma-separated class names, e.g. cat,dog.")
@click.option("--name", default=None, help="Display name (default: the id).")
@click.option("--prompt", default=None, help="Question template containing {label}.")
@data_dir_option
@json_option
def project_create(
    project_id: str,
    labels: str,
    name: str | None,
    prompt: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Create project PROJECT_ID."""
    from .. import manage

    store = store_for(load_settings(data_dir))
    created = manage.create_project(store, project_id, name=name, labels=labels, prompt=prompt)
    emit(
        as_json,
        created.to_dict(),
        lambda: click.echo(f"created project {created.id} ({len(created.labels)} labels)"),
    )


@project.command("list")
@data_dir_option
@json_option
def project_list(data_dir: Path | None, as_json: bool) -> None:
    """List projects with their item counts."""
    store = store_for(load_settings(data_dir))
    rows = [{**p.to_dict(), "counts": store.count_items(p.id)} for p in store.list_projects()]

    def text() -> None:
        for row in rows:
            counts = ", ".join(f"{k} {v}" for k, v in row["counts"].items())
            click.echo(f"{row['id']}\t{row['name']}\t{counts}")

    emit(as_json, {"projects": rows}, text)


@click.command("import")
@click.argument("project_id")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--embeddings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Vectors keyed by file name (.npz, .csv or .jsonl).",
)
@click.option("--strict", is_flag=True, help="Exit 1 if any file was refused.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes decoding and normalizing images (default: one per CPU core).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Start from the first file even if an earlier run of this import was interrupted.",
)
@data_dir_option
@json_option
def import_command(
    project_id: str,
    path: Path,
    embeddings: Path | None,
    strict: bool,
    jobs: int | None,
    restart: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Import images into PROJECT_ID from a folder, a zip or a CSV/JSONL manifest.

    An interrupted import (Ctrl-C, a crash, a reboot) resumes where it stopped when run
    again with the same project and path: the files already written are not decoded again.
    """
    import os

    from tqdm import tqdm

    from ..ingestion import count_source, import_path
    from ..ingestion.resume import checkpoint_path

    settings = load_settings(data_dir)
    store = store_for(settings)
    target = store.get_project(project_id)
    if target is None:
        raise NotFound(
            f"Project {project_id!r} does not exist; create it with `crowdgate project create`.",
            code="unknown-project",
        )
    vectors = None
    if embeddings is not None:
        from ..committee.embeddings import load_embeddings

        vectors = load_embeddings(embeddings)
    checkpoint = checkpoint_path(settings.data_dir / "imports", project_id, path)
    if restart:
        checkpoint.unlink(missing_ok=True)
    total = count_source(path)
    # A pool of processes costs a second to start: worth it beyond a few dozen files.
    many = total is None or total > 64
    processes = jobs or ((os.cpu_count() or 1) if many else 1)
    with tqdm(
        total=total, unit="file", desc="import", disable=as_json or None, file=sys.stderr
    ) as bar:
        try:
            report = import_path(
                store,
                target,
                path,
                settings,
                progress=bar,
                embeddings=vectors,
                processes=processes,
                checkpoint=checkpoint,
            )
        except KeyboardInterrupt:
            bar.close()
            click.echo(
                f"interrupted after {bar.n} files; run the same command again to resume.",
                err=True,
            )
            sys.exit(130)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line, err=True)
        resumed = f" (resumed after {report.resumed} files)" if report.resumed else ""
        click.echo(
            f"added {report.added}, duplicates {report.duplicates}, refused {report.rejected}"
            + resumed
        )
    if strict and report.rejected:
        sys.exit(1)


@click.group("site")
def site() -> None:
    """Create, list and change sites that embed the widget, and rotate their secrets."""


@site.command("create")
@click.option("--name", required=True)
@click.option("--hostnames", required=True, help="Comma-separated hosts, e.g. shop.example.")
@click.option("--project", "project_id", required=True, help="The project the site serves.")
@click.option(
    "--compat",
    type=click.Choice(["", "recaptcha", "hcaptcha"]),
    default="",
    help="Also write g-recaptcha-response or h-captcha-response.",
)
@click.option(
    "--pow-bits",
    type=int,
    default=0,
    show_default=True,
    help="Proof of work asked before each challenge, 0 (off) to 24; 16 bits take ~0.6 s.",
)
@click.option(
    "--alternative/--no-alternative",
    default=True,
    show_default=True,
    help="Offer the accessible path (a proof-of-work pass without images, no votes).",
)
@data_dir_option
@json_option
def site_create(
    name: str,
    hostnames: str,
    project_id: str,
    compat: str,
    pow_bits: int,
    alternative: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Create a site; its secret is printed once and stored only hashed."""
    from .. import manage

    store = store_for(load_settings(data_dir))
    created, secret = manage.create_site(
        store,
        name=name,
        hostnames=hostnames,
        project=project_id,
        compat=compat,
        pow_bits=pow_bits,
        alternative=alternative,
    )

    def text() -> None:
        click.echo(f"sitekey: {created.sitekey}")
        click.echo(f"secret:  {secret}   (shown once; store it now)")

    emit(as_json, {**created.public_dict(), "secret": secret}, text)


@site.command("list")
@data_dir_option
@json_option
def site_list(data_dir: Path | None, as_json: bool) -> None:
    """List sites (never their secrets)."""
    sites = [s.public_dict() for s in store_for(load_settings(data_dir)).list_sites()]

    def text() -> None:
        for s in sites:
            click.echo(f"{s['sitekey']}\t{s['name']}\t{s['project']}\t{','.join(s['hostnames'])}")

    emit(as_json, {"sites": sites}, text)


@site.command("set-pow")
@click.argument("sitekey")
@click.argument("bits", type=int)
@data_dir_option
@json_option
def site_set_pow(sitekey: str, bits: int, data_dir: Path | None, as_json: bool) -> None:
    """Ask BITS of proof of work (0 turns it off) before each challenge of a site."""
    from .. import manage

    changed = manage.set_pow_bits(store_for(load_settings(data_dir)), sitekey, bits)
    emit(
        as_json,
        changed.public_dict(),
        lambda: click.echo(f"{sitekey}: pow_bits {changed.pow_bits}"),
    )


@site.command("set-alternative")
@click.argument("sitekey")
@click.argument("state", type=click.Choice(["on", "off"]))
@data_dir_option
@json_option
def site_set_alternative(sitekey: str, state: str, data_dir: Path | None, as_json: bool) -> None:
    """Turn a site's accessible path (a pass without images) on or off."""
    from .. import manage

    store = store_for(load_settings(data_dir))
    changed = manage.set_alternative(store, sitekey, state == "on")
    emit(
        as_json,
        changed.public_dict(),
        lambda: click.echo(f"{sitekey}: alternative {'on' if changed.alternative else 'off'}"),
    )


@site.command("rotate-secret")
@click.argument("sitekey")
@data_dir_option
@json_option
def site_rotate(sitekey: str, data_dir: Path | None, as_json: bool) -> None:
    """Replace a site's secret; the old one stops working at once."""
    from .. import manage

    secret = manage.rotate_secret(store_for(load_settings(data_dir)), sitekey)
    emit(
        as_json,
        {"sitekey": sitekey, "secret": secret},
        lambda: click.echo(f"secret: {secret}   (shown once; store it now)"),
    )


@click.group("apikey")
def apikey() -> None:
    """Create, list and revoke admin API keys."""


@apikey.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. ci or dashboard.")
@data_dir_option
@json_option
def apikey_create(name: str, data_dir: Path | None, as_json: bool) -> None:
    """Create an admin API key; it is printed once and stored only hashed."""
    from .. import manage

    record, bearer = manage.create_apikey(store_for(load_settings(data_dir)), name)
    emit(
        as_json,
        {**record.public_dict(), "key": bearer},
        lambda: click.echo(f"key: {bearer}   (shown once; send as Authorization: Bearer)"),
    )


@apikey.command("list")
@data_dir_option
@json_option
def apikey_list(data_dir: Path | None, as_json: bool) -> None:
    """List admin API keys (never the keys themselves)."""
    keys = [k.public_dict() for k in store_for(load_settings(data_dir)).list_apikeys()]

    def text() -> None:
        for k in keys:
            click.echo(f"{k['id']}\t{k['name']}\t{'revoked' if k['revoked'] else 'active'}")

    emit(as_json, {"keys": keys}, text)


@apikey.command("revoke")
@click.argument("key_id")
@data_dir_option
@json_option
def apikey_revoke(key_id: str, data_dir: Path | None, as_json: bool) -> None:
    """Revoke an admin API key by id."""
    from .. import manage

    manage.revoke_apikey(store_for(load_settings(data_dir)), key_id)
    emit(as_json, {"id": key_id, "revoked": True}, lambda: click.echo(f"revoked {key_id}"))


@click.command("signin")
@click.option(
    "--url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL the browser reaches the service at.",
)
@data_dir_option
@json_option
def signin(url: str, data_dir: Path | None, as_json: bool) -> None:
    """Print a one-time dashboard sign-in link (works once, for 15 minutes)."""
    from ..signin import LINK_TTL_S, signin_link

    settings = load_settings(data_dir)
    record, link = signin_link(store_for(settings), settings.secret_key, url)
    emit(
        as_json,
        {"link": link, "key_id": record.id, "expires_in": LINK_TTL_S},
        lambda: click.echo(f"{link}\n(signs one browser in; works once, for 15 minutes)"),
    )
