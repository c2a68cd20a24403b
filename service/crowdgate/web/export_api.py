"""``GET /api/v1/admin/projects/<id>/export``: an export streamed as a file download."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context

from .. import manage
from ..errors import NotFound, Unauthorized
from ..export import DEFAULT_IMAGE_URL, ExportOptions, export_chunks, get_format
from ..models import Project
from ..store import Store
from .state import cg

bp = Blueprint("export_api", __name__, url_prefix="/api/v1/admin")


@bp.before_request
def _authenticate() -> None:
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or manage.authenticate(cg().store, bearer.strip()) is None:
        raise Unauthorized(
            "Send a valid admin API key as 'Authorization: Bearer <key>'; "
            "create one with `crowdgate apikey create`.",
            code="unauthorized",
        )


def download(store: Store, project: Project, args: dict[str, str]) -> Response:
    """Return a streamed attachment of ``project`` in ``args['format']`` with the options."""
    fmt = get_format(args.get("format", ""))
    options = ExportOptions.from_query(args)
    chunks = export_chunks(
        store, project, fmt.name, options, image_url=args.get("image_url") or DEFAULT_IMAGE_URL
    )
    response = Response(stream_with_context(chunks), mimetype=fmt.media_type)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{project.id}-{fmt.name}{fmt.extension}"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/projects/<project_id>/export")
def export(project_id: str) -> Response:
    """Stream the export named by ``?format=`` (csv, jsonl, imagefolder, labelstudio)."""
    project = cg().store.get_project(project_id)
    if project is None:
        raise NotFound(f"Project {project_id!r} does not exist.", code="unknown-project")
    return download(cg().store, project, request.args.to_dict())
