"""Admin API behind bearer API keys: projects, items, import, sites, keys and stats."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, g, jsonify, request

from .. import manage
from ..errors import BadRequest, NotFound, Unauthorized
from ..models import ITEM_STATES, Project
from .body import json_body
from .state import cg
from .uploads import allow_large_body, save_uploads

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
MAX_PAGE = 500


@bp.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, bearer = header.partition(" ")
    key = manage.authenticate(cg().store, bearer.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise Unauthorized(
            "Send a valid admin API key as 'Authorization: Bearer <key>'; "
            "create one with `crowdgate apikey create`.",
            code="unauthorized",
        )
    g.apikey = key


def _project(project_id: str) -> Project:
    project = cg().store.get_project(project_id)
    if project is None:
        raise NotFound(f"Project {project_id!r} does not exist.", code="unknown-project")
    return project


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise BadRequest(
            f"Query parameter {name!r} must be an integer from {lo} to {hi}.", code="bad-request"
        )
    return value


def project_summary(project: Project) -> dict:
    """Return a project with its item counts, challenge counters and latest model."""
    store = cg().store
    models = store.list_models(project.id)
    return {
        **project.to_dict(),
        "counts": store.count_items(project.id),
        "stats": store.get_stats(project.id),
        "model": models[-1] if models else None,
    }


@bp.get("/projects")
def list_projects() -> Response:
    return jsonify({"projects": [project_summary(p) for p in cg().store.list_projects()]})


def _list_field(body: dict, name: str, example: str) -> None:
    """Refuse a JSON API field that must be an array (the CLI and forms may send "a,b")."""
    if not isinstance(body.get(name), list):
        raise BadRequest(
            f"'{name}' must be a JSON array, for example {example}.", code=f"invalid-{name}"
        )


@bp.post("/projects")
def create_project() -> Response:
    body = json_body(cg().settings.max_json_bytes)
    _list_field(body, "labels", '["cat", "dog"]')
    project = manage.create_project(
        cg().store,
        body.get("id"),
        name=body.get("name"),
        labels=body.get("labels"),
        prompt=body.get("prompt"),
        settings=body.get("settings"),
        clock=cg().clock,
    )
    response = jsonify(project_summary(project))
    response.status_code = 201
    return response


@bp.get("/projects/<project_id>")
def get_project(project_id: str) -> Response:
    return jsonify(project_summary(_project(project_id)))


@bp.get("/projects/<project_id>/items")
def list_items(project_id: str) -> Response:
    _project(project_id)
    state = request.args.get("state")
    if state is not None and state not in ITEM_STATES:
        raise BadRequest(f"'state' must be one of {', '.join(ITEM_STATES)}.", code="bad-request")
    offset = _int_arg("offset", 0, 0, 10**9)
    limit = _int_arg("limit", 100, 1, MAX_PAGE)
    if "after" in request.args:
        after = _int_arg("after", 0, 0, 2**62)
        page = cg().store.page_items(project_id, state=state, after=after, limit=limit)
        items, extra = page.items, {"after": after, "next": page.next}
    else:
        items = cg().store.list_items(project_id, state=state, offset=offset, limit=limit)
        extra = {"offset": offset}
    return jsonify({"items": [i.to_dict() for i in items], "limit": limit, **extra})


@bp.get("/projects/<project_id>/items/<item_id>")
def get_item(project_id: str, item_id: str) -> Response:
    item = cg().store.get_item(_project(project_id).id, item_id)
    if item is None:
        raise NotFound(f"Item {item_id!r} is not in project {project_id!r}.", code="unknown-item")
    votes = [v.to_dict() for v in cg().store.list_votes(project_id, item_id)]
    return jsonify({**item.to_dict(), "vote_log": votes})


@bp.get("/projects/<project_id>/items/<item_id>/image")
def item_image(project_id: str, item_id: str) -> Response:
    kind = request.args.get("kind", "thumb")
    if kind not in ("thumb", "image"):
        raise BadRequest("'kind' must be 'thumb' or 'image'.", code="bad-request")
    data = cg().store.get_blob(_project(project_id).id, item_id, kind)
    if data is None:
        raise NotFound(f"Item {item_id!r} has no {kind}.", code="unknown-item")
    from ..store.blobs import mime_of

    return Response(data, mimetype=mime_of(data))


@bp.post("/projects/<project_id>/import")
def import_files(project_id: str) -> Response:
    """Import uploaded files (images or a zip, field ``file``) and return the per-file report."""
    from ..ingestion import import_path

    project = _project(project_id)
    allow_large_body(cg().settings.max_upload_bytes)
    files = request.files.getlist("file")
    with tempfile.TemporaryDirectory(prefix="crowdgate-upload-") as tmp:
        target = save_uploads(files, Path(tmp) / "upload")
        report = import_path(cg().store, project, target, cg().settings)
    return jsonify(report.to_dict())


@bp.get("/projects/<project_id>/models")
def list_models(project_id: str) -> Response:
    """Every trained model version of a project with its metrics, oldest first."""
    return jsonify({"models": cg().store.list_models(_project(project_id).id)})


@bp.post("/projects/<project_id>/retrain")
def retrain(project_id: str) -> Response:
    """Retrain the committee now (refused while another trainer holds the project)."""
    from .. import trainer

    project = _project(project_id)
    with trainer.hold_lock(cg().store, project.id) as renew:
        record = trainer.retrain(cg().store, project, renew=renew, settings=cg().settings)
    return jsonify(record)


@bp.get("/sites")
def list_sites() -> Response:
    return jsonify({"sites": [s.public_dict() for s in cg().store.list_sites()]})


@bp.post("/sites")
def create_site() -> Response:
    body = json_body(cg().settings.max_json_bytes)
    _list_field(body, "hostnames", '["shop.example.com"]')
    site, secret = manage.create_site(
        cg().store,
        name=body.get("name"),
        hostnames=body.get("hostnames"),
        project=body.get("project"),
        compat=body.get("compat", ""),
        pow_bits=body.get("pow_bits", 0),
        alternative=body.get("alternative", True),
        clock=cg().clock,
    )
    response = jsonify({**site.public_dict(), "secret": secret})
    response.status_code = 201
    return response


@bp.patch("/sites/<sitekey>")
def update_site(sitekey: str) -> Response:
    """Change a site's ``pow_bits`` and/or ``alternative``; workers see it within the cache TTL."""
    body = json_body(cg().settings.max_json_bytes)
    unknown = sorted(set(body) - {"pow_bits", "alternative"})
    if unknown or not body:
        raise BadRequest(
            "Send a JSON object holding 'pow_bits' and/or 'alternative' to change a site; "
            f"got {', '.join(map(repr, unknown)) or 'neither'}.",
            code="bad-request",
        )
    if "alternative" in body:
        manage.validate_alternative(body["alternative"])
    site = None
    if "pow_bits" in body:
        site = manage.set_pow_bits(cg().store, sitekey, body["pow_bits"])
    if "alternative" in body:
        site = manage.set_alternative(cg().store, sitekey, body["alternative"])
    assert site is not None
    return jsonify(site.public_dict())


@bp.post("/sites/<sitekey>/rotate-secret")
def rotate_secret(sitekey: str) -> Response:
    return jsonify({"sitekey": sitekey, "secret": manage.rotate_secret(cg().store, sitekey)})


@bp.get("/keys")
def list_keys() -> Response:
    return jsonify({"keys": [k.public_dict() for k in cg().store.list_apikeys()]})


@bp.post("/keys")
def create_key() -> Response:
    body = json_body(cg().settings.max_json_bytes)
    record, bearer = manage.create_apikey(cg().store, body.get("name"), clock=cg().clock)
    response = jsonify({**record.public_dict(), "key": bearer})
    response.status_code = 201
    return response


@bp.delete("/keys/<key_id>")
def revoke_key(key_id: str) -> Response:
    manage.revoke_apikey(cg().store, key_id)
    return jsonify({"id": key_id, "revoked": True})
