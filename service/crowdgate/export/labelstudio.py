"""Label Studio tasks JSON: one task per item, its label as a prediction to review.

The format is Label Studio's basic JSON task list with a ``predictions`` key: each prediction
has a ``model_version`` (string), a ``score`` and one ``choices`` result whose ``from_name``
and ``to_name`` match the labeling configuration from :func:`labeling_config`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import quoteattr

from ..errors import BadRequest
from ..models import Project
from .imagefolder import split_folder
from .records import SOURCE_COMMITTEE, ExportRecord
from .stream import CHUNK_BYTES, ChunkSink

FROM_NAME, TO_NAME = "choice", "image"
#: Where Label Studio finds each image by default: its local-files storage serving an
#: extracted ImageFolder export of the same project (folders ``<project>/<split>/``).
DEFAULT_IMAGE_URL = "/data/local-files/?d={project}/{split}/{item_id}.webp"


def labeling_config(project: Project) -> str:
    """Return the Label Studio labeling configuration (XML) the exported tasks fit."""
    choices = "\n".join(f"    <Choice value={quoteattr(label)}/>" for label in project.labels)
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="$image"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInLine="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def image_url(template: str, project_id: str, record: ExportRecord) -> str:
    """Fill ``{project}``, ``{split}``, ``{item_id}`` and ``{file_name}`` in ``template``."""
    try:
        return template.format(
            project=project_id,
            split=split_folder(record.split),
            item_id=record.item_id,
            file_name=record.file_name,
        )
    # AttributeError, TypeError: '{project.x}' or '{split[k]}', which str.format also tries
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise BadRequest(
            f"Image URL template {template!r} is invalid ({exc}); use only {{project}}, "
            "{split}, {item_id} and {file_name}.",
            code="invalid-export-option",
        ) from exc


def check_template(template: str) -> str:
    """Return ``template`` if it fills; raise :class:`BadRequest` before any byte is sent."""
    image_url(template, "p", ExportRecord("0" * 64, "f", "l", 1.0, 0, "gold", None, None))
    return template


def task(record: ExportRecord, url: str) -> dict:
    """Return the Label Studio task of one record."""
    version = f"crowdgate-{record.source}"
    if record.source == SOURCE_COMMITTEE and record.model_version is not None:
        version += f"-v{record.model_version}"
    return {
        "data": {
            TO_NAME: url,
            "item_id": record.item_id,
            "file_name": record.file_name,
            "split": record.split,
            "votes": record.votes,
        },
        "predictions": [
            {
                "model_version": version,
                "score": record.confidence,
                "result": [
                    {
                        "id": record.item_id[:16],
                        "from_name": FROM_NAME,
                        "to_name": TO_NAME,
                        "type": "choices",
                        "value": {"choices": [record.label]},
                    }
                ],
            }
        ],
    }


def chunks(
    records: Iterable[ExportRecord], project_id: str, template: str = DEFAULT_IMAGE_URL
) -> Iterator[bytes]:
    """Yield a JSON list of tasks, one per line, in chunks of about :data:`CHUNK_BYTES`."""
    sink = ChunkSink()
    sink.write(b"[")
    separator = b"\n"
    for record in records:
        sink.write(separator)
        sink.write(json.dumps(task(record, image_url(template, project_id, record))).encode())
        separator = b",\n"
        yield from sink.drain(CHUNK_BYTES)
    sink.write(b"\n]\n")
    yield from sink.drain()
