"""``GET /openapi.json``: an OpenAPI 3.1 description of every route."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify

from .. import __version__
from ..challenge.pow import MAX_BITS

bp = Blueprint("openapi", __name__)


def _json(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


ERROR = {"$ref": "#/components/schemas/Error"}
ERRORS = {
    "400": _ok("Invalid input", ERROR),
    "404": _ok("Not found", ERROR),
    "429": _ok("Rate limited", ERROR),
    "503": _ok("Store unavailable", ERROR),
}
ADMIN_ERRORS = {**ERRORS, "401": _ok("Missing or invalid API key", ERROR)}
CHALLENGE = {"$ref": "#/components/schemas/Challenge"}
POW_BITS = {
    "type": "integer",
    "minimum": 0,
    "maximum": MAX_BITS,
    "description": "Leading zero bits of proof of work asked before each challenge (0: off)",
}
ALTERNATIVE = {
    "type": "boolean",
    "description": "Offer the accessible path: a proof-of-work pass without images whose "
    "tokens cast no votes (default true)",
}
PATH_ID = {"in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}


def _param(name: str, **schema: Any) -> dict[str, Any]:
    return {**PATH_ID, "name": name, "schema": {**PATH_ID["schema"], **schema}}


def _admin(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["admin"],
        "security": [{"bearer": []}],
        "responses": {**responses, **ADMIN_ERRORS},
        **extra,
    }


SITEVERIFY_BODY = {
    "type": "object",
    "properties": {
        "secret": {"type": "string"},
        "response": {"type": "string"},
        "remoteip": {"type": "string"},
        "sitekey": {"type": "string"},
    },
}
SITEVERIFY = {
    "summary": "Verify a response token (reCAPTCHA/hCaptcha wire format)",
    "tags": ["public"],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": SITEVERIFY_BODY},
            "application/json": {"schema": SITEVERIFY_BODY},
        },
    },
    "responses": {
        "200": _ok("Verdict", {"$ref": "#/components/schemas/Verdict"}),
        "429": _ok("Rate limited", ERROR),
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "crowdgate",
        "version": __version__,
        "description": "Captcha-style crowdsourced image labeling.",
    },
    "paths": {
        "/widget.js": {
            "get": {
                "summary": "The widget script",
                "tags": ["public"],
                "responses": {"200": {"description": "JavaScript"}},
            }
        },
        "/recaptcha/api.js": {
            "get": {
                "summary": "The widget script (reCAPTCHA path)",
                "tags": ["public"],
                "responses": {"200": {"description": "JavaScript"}},
            }
        },
        "/api/v1/challenge": {
            "post": {
                "summary": "Issue a challenge for a sitekey",
                "tags": ["public"],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["sitekey"],
                        "properties": {
                            "sitekey": {"type": "string"},
                            "hostname": {"type": "string"},
                            "pow": {
                                "description": "A solved puzzle; needed when the site has "
                                "pow_bits > 0",
                                "type": "object",
                                "required": ["puzzle", "nonce"],
                                "properties": {
                                    "puzzle": {"type": "string", "maxLength": 128},
                                    "nonce": {"type": "string", "pattern": "^[0-9a-z]{1,32}$"},
                                },
                            },
                        },
                    }
                ),
                "responses": {
                    "200": _ok("A challenge", CHALLENGE),
                    "403": _ok(
                        "Host refused, or proof of work missing or refused (codes pow-required, "
                        "pow-invalid, pow-expired, pow-replayed, which carry a fresh puzzle in "
                        "'pow'): find a nonce such that SHA-256(puzzle + ':' + nonce) starts "
                        "with 'bits' zero bits and send both as 'pow'",
                        {"oneOf": [ERROR, {"$ref": "#/components/schemas/PowError"}]},
                    ),
                    **ERRORS,
                },
            }
        },
        "/api/v1/alternative": {
            "post": {
                "summary": "The accessible path: a puzzle, then a token for its solution",
                "tags": ["public"],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["sitekey"],
                        "properties": {
                            "sitekey": {"type": "string"},
                            "hostname": {"type": "string"},
                            "pow": {
                                "description": "The solved puzzle of an earlier call; "
                                "without it the answer is a fresh puzzle",
                                "type": "object",
                                "required": ["puzzle", "nonce"],
                                "properties": {
                                    "puzzle": {"type": "string", "maxLength": 128},
                                    "nonce": {"type": "string", "pattern": "^[0-9a-z]{1,32}$"},
                                },
                            },
                        },
                    }
                ),
                "responses": {
                    "200": _ok(
                        "Without 'pow': {puzzle, bits, expires_in} (find a nonce such that "
                        "SHA-256(puzzle + ':' + nonce) starts with 'bits' zero bits); with a "
                        "solved one: {success: true, token, expires_in}; the token verifies "
                        "once, reported with path 'alternative', and casts no votes",
                        {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "required": ["puzzle", "bits", "expires_in"],
                                    "properties": {
                                        "puzzle": {"type": "string"},
                                        "bits": {"type": "integer", "minimum": 1},
                                        "expires_in": {"type": "integer"},
                                    },
                                },
                                {
                                    "type": "object",
                                    "required": ["success", "token", "expires_in"],
                                    "properties": {
                                        "success": {"const": True},
                                        "token": {"type": "string"},
                                        "expires_in": {"type": "integer"},
                                    },
                                },
                            ]
                        },
                    ),
                    "403": _ok(
                        "Host refused, the site turned the path off (alternative-off), or the "
                        "solution was refused (pow-invalid, pow-expired, pow-replayed)",
                        ERROR,
                    ),
                    **ERRORS,
                },
            }
        },
        "/api/v1/challenge/{challenge_id}/answer": {
            "post": {
                "summary": "Answer a challenge",
                "tags": ["public"],
                "parameters": [_param("challenge_id")],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["selected"],
                        "properties": {
                            "selected": {
                                "type": "array",
                                "items": {"type": "integer", "minimum": 0},
                            }
                        },
                    }
                ),
                "responses": {
                    "200": _ok(
                        "Pass with token, or fail with a new challenge",
                        {
                            "type": "object",
                            "properties": {
                                "success": {"type": "boolean"},
                                "token": {"type": "string"},
                                "expires_in": {"type": "integer"},
                                "next": CHALLENGE,
                            },
                        },
                    ),
                    "403": _ok("Other page", ERROR),
                    "410": _ok("Expired or answered", ERROR),
                    **ERRORS,
                },
            }
        },
        "/siteverify": {"post": SITEVERIFY},
        "/recaptcha/api/siteverify": {"post": SITEVERIFY},
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "responses": {"200": {"description": "OpenAPI 3.1"}},
            }
        },
        "/api/v1/admin/projects": {
            "get": _admin("List projects", {"200": _ok("Projects")}),
            "post": _admin(
                "Create a project",
                {"201": _ok("Created"), "409": _ok("Exists", ERROR)},
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["id", "labels"],
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "labels": {"type": "array", "items": {"type": "string"}},
                            "prompt": {"type": "string"},
                            "settings": {"type": "object"},
                        },
                    }
                ),
            ),
        },
        "/api/v1/admin/projects/{project_id}": {
            "get": _admin(
                "A project with counts", {"200": _ok("Project")}, parameters=[_param("project_id")]
            )
        },
        "/api/v1/admin/projects/{project_id}/items": {
            "get": _admin(
                "Items, paged",
                {"200": _ok("Items")},
                parameters=[
                    _param("project_id"),
                    {
                        "in": "query",
                        "name": "state",
                        "schema": {"enum": ["unlabeled", "settled", "gold"]},
                    },
                    {"in": "query", "name": "offset", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "in": "query",
                        "name": "limit",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
            )
        },
        "/api/v1/admin/projects/{project_id}/items/{item_id}": {
            "get": _admin(
                "An item with its votes",
                {"200": _ok("Item")},
                parameters=[_param("project_id"), _param("item_id")],
            )
        },
        "/api/v1/admin/projects/{project_id}/items/{item_id}/image": {
            "get": _admin(
                "An item's image",
                {"200": {"description": "Image"}},
                parameters=[
                    _param("project_id"),
                    _param("item_id"),
                    {"in": "query", "name": "kind", "schema": {"enum": ["thumb", "image"]}},
                ],
            )
        },
        "/api/v1/admin/projects/{project_id}/import": {
            "post": _admin(
                "Import uploaded images or a zip",
                {"200": _ok("Import report")},
                parameters=[_param("project_id")],
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
            )
        },
        "/api/v1/admin/projects/{project_id}/export": {
            "get": _admin(
                "Download an export (streamed)",
                {
                    "200": {
                        "description": "The export file, as an attachment",
                        "content": {
                            "text/csv": {},
                            "application/x-ndjson": {},
                            "application/zip": {},
                            "application/json": {},
                        },
                    }
                },
                parameters=[
                    _param("project_id"),
                    {
                        "in": "query",
                        "name": "format",
                        "required": True,
                        "schema": {"enum": ["csv", "jsonl", "imagefolder", "labelstudio"]},
                    },
                    {
                        "in": "query",
                        "name": "min_confidence",
                        "schema": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                    {"in": "query", "name": "committee", "schema": {"enum": ["0", "1"]}},
                    {
                        "in": "query",
                        "name": "validation",
                        "schema": {"type": "number", "minimum": 0, "maximum": 0.9},
                    },
                    {"in": "query", "name": "seed", "schema": {"type": "integer"}},
                    {"in": "query", "name": "image_url", "schema": {"type": "string"}},
                ],
            )
        },
        "/api/v1/admin/projects/{project_id}/models": {
            "get": _admin(
                "Model versions with their metrics",
                {"200": _ok("Models")},
                parameters=[_param("project_id")],
            )
        },
        "/api/v1/admin/projects/{project_id}/retrain": {
            "post": _admin(
                "Retrain the committee now",
                {"200": _ok("The new model"), "409": _ok("Trainer busy", ERROR)},
                parameters=[_param("project_id")],
            )
        },
        "/api/v1/admin/sites": {
            "get": _admin("List sites", {"200": _ok("Sites")}),
            "post": _admin(
                "Create a site (the secret is in this answer only)",
                {"201": _ok("Created")},
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["name", "hostnames", "project"],
                        "properties": {
                            "name": {"type": "string"},
                            "hostnames": {"type": "array", "items": {"type": "string"}},
                            "project": {"type": "string"},
                            "compat": {"enum": ["", "recaptcha", "hcaptcha"]},
                            "pow_bits": POW_BITS,
                            "alternative": ALTERNATIVE,
                        },
                    }
                ),
            ),
        },
        "/api/v1/admin/sites/{sitekey}": {
            "patch": _admin(
                "Change a site's proof of work and/or its accessible path",
                {"200": _ok("The changed site")},
                parameters=[_param("sitekey")],
                requestBody=_json(
                    {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": False,
                        "properties": {"pow_bits": POW_BITS, "alternative": ALTERNATIVE},
                    }
                ),
            )
        },
        "/api/v1/admin/sites/{sitekey}/rotate-secret": {
            "post": _admin(
                "Replace a site's secret",
                {"200": _ok("New secret")},
                parameters=[_param("sitekey")],
            )
        },
        "/api/v1/admin/keys": {
            "get": _admin("List API keys", {"200": _ok("Keys")}),
            "post": _admin(
                "Create an API key (shown once)",
                {"201": _ok("Created")},
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}},
                    }
                ),
            ),
        },
        "/api/v1/admin/keys/{key_id}": {
            "delete": _admin(
                "Revoke an API key", {"200": _ok("Revoked")}, parameters=[_param("key_id")]
            )
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "PowError": {
                "type": "object",
                "required": ["code", "message", "pow"],
                "properties": {
                    "code": {
                        "enum": ["pow-required", "pow-invalid", "pow-expired", "pow-replayed"]
                    },
                    "message": {"type": "string"},
                    "pow": {
                        "type": "object",
                        "required": ["puzzle", "bits", "expires_in"],
                        "properties": {
                            "puzzle": {"type": "string"},
                            "bits": {"type": "integer", "minimum": 1, "maximum": MAX_BITS},
                            "expires_in": {"type": "integer"},
                        },
                    },
                },
            },
            "Challenge": {
                "type": "object",
                "properties": {
                    "challenge": {"type": "string"},
                    "prompt": {"type": "string"},
                    "label": {"type": "string"},
                    "grid": {"type": "integer"},
                    "cols": {"type": "integer"},
                    "tiles": {
                        "description": "Each slot's image bytes (WebP, or PNG for the test "
                        "site) in standard base64, in slot order; no further request is needed",
                        "type": "array",
                        "items": {"type": "string", "format": "byte"},
                    },
                    "expires_in": {"type": "integer"},
                    "compat": {"type": "string"},
                    "alternative": {
                        "description": "Whether the site offers the path without images",
                        "type": "boolean",
                    },
                },
            },
            "Verdict": {
                "type": "object",
                "required": ["success", "error-codes"],
                "properties": {
                    "success": {"type": "boolean"},
                    "challenge_ts": {"type": "string"},
                    "hostname": {"type": "string"},
                    "error-codes": {"type": "array", "items": {"type": "string"}},
                    "path": {
                        "description": "crowdgate's own field (reCAPTCHA and hCaptcha clients "
                        "ignore it): how the token was won, 'grid' by answering images or "
                        "'alternative' by the accessible path (proof of work, no images)",
                        "enum": ["grid", "alternative"],
                    },
                },
            },
        },
    },
}


#: The dashboard's HTML pages (session sign-in and CSRF token, not bearer keys).
DASHBOARD_PAGES = [
    ("/dashboard/", "get", "Projects"),
    ("/dashboard/login", "get", "Sign-in form"),
    ("/dashboard/login", "post", "Sign in with an admin key"),
    ("/dashboard/logout", "post", "Sign out"),
    ("/dashboard/static/{filename}", "get", "Dashboard stylesheet"),
    ("/dashboard/projects", "post", "Create a project"),
    ("/dashboard/projects/{project_id}", "get", "A project's statistics and charts"),
    ("/dashboard/projects/{project_id}/items", "get", "Item browser"),
    ("/dashboard/projects/{project_id}/export", "get", "Download an export"),
    ("/dashboard/projects/{project_id}/import", "post", "Upload images or a zip"),
    ("/dashboard/sites", "get", "Sites"),
    ("/dashboard/sites", "post", "Create a site"),
    ("/dashboard/sites/{sitekey}/pow", "post", "Change a site's proof-of-work bits"),
    (
        "/dashboard/sites/{sitekey}/alternative",
        "post",
        "Turn a site's path without images on or off",
    ),
    ("/dashboard/sites/{sitekey}/rotate", "post", "Rotate a site's secret"),
    ("/dashboard/keys", "get", "API keys"),
    ("/dashboard/keys", "post", "Create an API key"),
    ("/dashboard/keys/{key_id}/revoke", "post", "Revoke an API key"),
]
for _path, _method, _summary in DASHBOARD_PAGES:
    SPEC["paths"].setdefault(_path, {})[_method] = {
        "summary": _summary,
        "tags": ["dashboard"],
        "parameters": [_param(n) for n in re.findall(r"{([a-z_]+)}", _path)],
        "responses": {"200": {"description": "HTML page", "content": {"text/html": {}}}},
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI description of the service."""
    response = jsonify(SPEC)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
