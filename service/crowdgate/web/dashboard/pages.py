"""Project pages: the list, one project's statistics and charts, items, export and import."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from ... import manage
from ...errors import BadRequest, NotFound
from ...export import FORMATS, ExportOptions, ExportRecord, record_of
from ...models import GOLD, ITEM_STATES, SETTLED, Item, Project
from ...store.base import THUMB
from ...store.blobs import mime_of
from ...store.counters import CLASS
from ..export_api import download
from ..state import cg
from ..uploads import save_uploads
from . import bp, charts
from .stats import CONFIDENCE_BINS, project_stats

PAGE_SIZE = 48
#: items read per store call, and at most per page, when a label or confidence filter is set
SCAN_BATCH = 500
SCAN_BUDGET = 10_000


def _project(project_id: str) -> Project:
    project = cg().store.get_project(project_id)
    if project is None:
        raise NotFound(f"Project {project_id!r} does not exist.", code="unknown-project")
    return project


@bp.get("/")
def projects() -> str:
    store = cg().store
    rows = [(p, store.count_items(p.id)) for p in store.list_projects()]
    return render_template("dashboard/projects.html", rows=rows)


@bp.post("/projects")
def create_project() -> Response:
    form = request.form
    project = manage.create_project(
        cg().store,
        form.get("id", "").strip(),
        name=form.get("name") or None,
        labels=form.get("labels", ""),
        prompt=form.get("prompt") or None,
        clock=cg().clock,
    )
    return redirect(url_for("dashboard.project", project_id=project.id))


@bp.get("/projects/<project_id>")
def project(project_id: str) -> str:
    proj = _project(project_id)
    stats = project_stats(cg().store, proj)
    models = stats.models
    accuracy = [
        (f"v{m.get('version')}", float((m.get("metrics") or {}).get("cv_accuracy") or 0.0))
        for m in models
    ]
    chart = {
        "per_class": charts.bar_chart(
            "Settled labels per class",
            list(stats.per_class),
            list(stats.per_class.values()),
            "class",
            "settled items",
        ),
        "over_time": charts.line_chart(
            "Settled labels over time",
            [d for d, _ in stats.settled_by_day],
            [n for _, n in stats.settled_by_day],
            "day (UTC)",
            "settled items (cumulative)",
            empty="No item has settled yet.",
        ),
        "votes": charts.bar_chart(
            "Votes per day",
            [d for d, _ in stats.votes_by_day],
            [n for _, n in stats.votes_by_day],
            "day (UTC)",
            "votes",
            empty="No votes yet.",
        ),
        "accuracy": charts.line_chart(
            "Committee accuracy per model version",
            [v for v, _ in accuracy],
            [a for _, a in accuracy],
            "model version",
            "cross-validated accuracy",
            y_max=1.0,
            empty="No model yet.",
        ),
        "confidence": charts.histogram(
            "Consensus confidence of settled items",
            [],
            0.0,
            1.0,
            CONFIDENCE_BINS,
            "confidence (bin start)",
            "settled items",
            counts=stats.confidence_bins,
        ),
    }
    return render_template(
        "dashboard/project.html", project=proj, stats=stats, chart=chart, formats=list(FORMATS)
    )


def _float_arg(name: str) -> float | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise BadRequest(
            f"{name.replace('_', ' ')} must be a number from 0 to 1, not {raw!r}.",
            code="bad-request",
        ) from exc


@bp.get("/projects/<project_id>/items")
def items(project_id: str) -> str:
    proj = _project(project_id)
    state = request.args.get("state") or None
    label = request.args.get("label") or None
    if state is not None and state not in ITEM_STATES:
        raise BadRequest(f"State must be one of {', '.join(ITEM_STATES)}.", code="bad-request")
    lo, hi = _float_arg("min_confidence"), _float_arg("max_confidence")
    page = max(1, request.args.get("page", 1, type=int) or 1)
    after = max(0, request.args.get("after", 0, type=int) or 0)
    machine = ExportOptions(include_committee=True)
    store = cg().store
    filtered = label is not None or lo is not None or hi is not None
    # Pages by key: a page reads from the cursor on, never the items before it. A label or
    # confidence filter reads at most SCAN_BUDGET items per page, so a rare match costs
    # several short pages rather than one that grows with the project.
    picked: list[tuple[Item, ExportRecord | None]] = []
    cursor: int | None = after
    scanned = 0
    want = PAGE_SIZE
    while cursor is not None and len(picked) < PAGE_SIZE and scanned < SCAN_BUDGET:
        # unfiltered, one read of what is missing; filtered, reads that double up to SCAN_BATCH
        # (a common match fills the page from the first read, a rare one needs fewer reads)
        room = SCAN_BUDGET - scanned
        want = min(SCAN_BATCH, want, room) if filtered else PAGE_SIZE - len(picked)
        batch = store.page_items(proj.id, state=state, after=cursor, limit=want)
        want *= 2
        scanned += len(batch.items)
        for item, key in zip(batch.items, batch.keys, strict=True):
            record = record_of(item, machine)
            if not _matches(record, label, lo, hi):
                continue
            picked.append((item, record))
            if len(picked) == PAGE_SIZE:
                # the next page resumes right after this item, even mid-batch
                cursor = key if key != batch.keys[-1] else batch.next
                break
        else:
            cursor = batch.next
    thumbs = store.get_blobs(proj.id, [(item.id, THUMB) for item, _ in picked])
    shown = [
        (item, record, base64.b64encode(thumb or b"").decode(), mime_of(thumb or b""))
        for (item, record), thumb in zip(picked, thumbs, strict=True)
    ]
    total = _known_total(store.get_stats(proj.id), state, label, filtered)
    if total is None and after == 0 and cursor is None:
        total = len(picked)  # the whole project was read for this page
    # Only the filters go back into the pager links: url_for treats keys such as _external
    # or _anchor as instructions, so the query string must not choose them.
    args = {k: v for k, v in request.args.items() if k in ITEM_FILTERS and v}
    return render_template(
        "dashboard/items.html",
        project=proj,
        shown=shown,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)) if total is not None else None,
        next_after=cursor,
        first=after == 0,
        args=args,
        states=ITEM_STATES,
    )


def _matches(
    record: ExportRecord | None, label: str | None, lo: float | None, hi: float | None
) -> bool:
    """Return whether an item's record passes the label and confidence filters."""
    if label is not None and (record is None or record.label != label):
        return False
    confidence = record.confidence if record else None
    if lo is not None and (confidence is None or confidence < lo):
        return False
    return hi is None or (confidence is not None and confidence <= hi)


def _known_total(
    stats: dict[str, int], state: str | None, label: str | None, filtered: bool
) -> int | None:
    """Return how many items the filters match when counters say so, else ``None``."""
    if not filtered:
        if state is None:
            return sum(stats.get(f"state:{s}", 0) for s in ITEM_STATES)
        return stats.get(f"state:{state}", 0)
    only_label = label is not None and request.args.get("min_confidence", "") == ""
    only_label = only_label and request.args.get("max_confidence", "") == ""
    if only_label and state == GOLD:
        return stats.get(f"gold:{label}", 0)
    if only_label and state == SETTLED:
        return stats.get(f"{CLASS}{label}", 0)
    return None


ITEM_FILTERS = ("state", "label", "min_confidence", "max_confidence")


@bp.get("/projects/<project_id>/export")
def export(project_id: str) -> Response:
    return download(cg().store, _project(project_id), request.args.to_dict())


@bp.post("/projects/<project_id>/import")
def import_files(project_id: str) -> str:
    from ...ingestion import import_path

    proj = _project(project_id)
    files = [f for f in request.files.getlist("file") if f.filename]
    if not files:
        raise BadRequest("Choose a zip or one or more images to upload.", code="bad-request")
    with tempfile.TemporaryDirectory(prefix="crowdgate-upload-") as tmp:
        target = save_uploads(files, Path(tmp) / "upload")
        report = import_path(cg().store, proj, target, cg().settings)
    return render_template("dashboard/import_report.html", project=proj, report=report)
