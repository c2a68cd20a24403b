"""Sites (create, proof of work, rotate secret, snippet) and admin API keys (create, revoke)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from ... import manage
from ...errors import NotFound
from ..state import cg
from . import bp


def _sites_page(**extra: object) -> str:
    store = cg().store
    return render_template(
        "dashboard/sites.html",
        sites=store.list_sites(),
        projects=store.list_projects(),
        origin=request.host_url.rstrip("/"),
        **extra,
    )


@bp.get("/sites")
def sites() -> str:
    return _sites_page()


@bp.post("/sites")
def create_site() -> str:
    form = request.form
    site, secret = manage.create_site(
        cg().store,
        name=form.get("name", ""),
        hostnames=form.get("hostnames", ""),
        project=form.get("project", ""),
        compat=form.get("compat", ""),
        pow_bits=_form_int(form.get("pow_bits", "") or "0"),
        # an unticked checkbox is not sent at all
        alternative=form.get("alternative") == "on",
        clock=cg().clock,
    )
    return _sites_page(revealed=site, secret=secret)


def _form_int(text: str) -> int | str:
    """Return a form field as an int, or as sent so validation names the bad value."""
    try:
        return int(text)
    except ValueError:
        return text


@bp.post("/sites/<sitekey>/pow")
def set_pow(sitekey: str) -> Response:
    """Change a site's proof-of-work difficulty (0 turns the gate off)."""
    manage.set_pow_bits(cg().store, sitekey, _form_int(request.form.get("pow_bits", "") or "0"))
    return redirect(url_for("dashboard.sites"))


@bp.post("/sites/<sitekey>/alternative")
def set_alternative(sitekey: str) -> Response:
    """Turn a site's accessible path (a pass without images) on or off."""
    manage.set_alternative(cg().store, sitekey, request.form.get("alternative") == "on")
    return redirect(url_for("dashboard.sites"))


@bp.post("/sites/<sitekey>/rotate")
def rotate_secret(sitekey: str) -> str:
    secret = manage.rotate_secret(cg().store, sitekey)
    site = cg().store.get_site(sitekey)
    if site is None:
        raise NotFound(f"Site {sitekey!r} does not exist.", code="unknown-sitekey")
    return _sites_page(revealed=site, secret=secret)


@bp.get("/keys")
def keys(**extra: object) -> str:
    return render_template("dashboard/keys.html", keys=cg().store.list_apikeys(), **extra)


@bp.post("/keys")
def create_key() -> str:
    record, bearer = manage.create_apikey(
        cg().store, request.form.get("name", ""), clock=cg().clock
    )
    return keys(created=record, bearer=bearer)


@bp.post("/keys/<key_id>/revoke")
def revoke_key(key_id: str) -> Response:
    manage.revoke_apikey(cg().store, key_id)
    return redirect(url_for("dashboard.keys"))
