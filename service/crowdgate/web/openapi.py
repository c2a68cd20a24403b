"""``GET /openapi.json``: an OpenAPI 3.1 description of every route."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify

from .. import __version__
from ..challenge.pow import MAX_BITS
from ..manage import CHOICE_SETTINGS, SETTING_RULES
from ..models import DEFAULT_PROJECT_SETTINGS

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
    "400": _ok("Invalid input (also body-timeout: the body came too slowly)", ERROR),
    "404": _ok("Not found", ERROR),
    "405": _ok("Method not allowed (also for a path only another route's method matches)", ERROR),
    "413": _ok("Request body too large", ERROR),
    "429": _ok("Rate limited", ERROR),
    "503": _ok(
        "Store unavailable (store-unavailable), or no grid can be built yet: the site's project "
        "has too little gold (no-challenge-available)",
        ERROR,
    ),
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
#: a string that is not blank: it holds a character Python's str.strip() keeps (the server
#: strips names and refuses an empty one). Spelled out, as ECMA's \s and Python's differ.
TEXT = "[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _param(name: str, **schema: Any) -> dict[str, Any]:
    return {**PATH_ID, "name": name, "schema": {**PATH_ID["schema"], **schema}}


def _any_param(name: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}


def _text(max_len: int, nullable: bool = False) -> dict[str, Any]:
    kind: Any = ["string", "null"] if nullable else "string"
    return {"type": kind, "maxLength": max_len, "pattern": TEXT}


#: a challenge id of any length: an unknown or expired one is 410 Gone, never 400
CHALLENGE_ID = {
    "in": "path",
    "name": "challenge_id",
    "required": True,
    "schema": {"type": "string"},
}


def _admin(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["admin"],
        "security": [{"bearer": []}],
        "responses": {**responses, **ADMIN_ERRORS},
        **extra,
    }


#: JSON Schema patterns of what manage.py accepts (ECMA-262 regex, as OpenAPI 3.1 uses)
PROJECT_ID = r"^[a-z0-9][a-z0-9_-]{0,39}$"
IMAGE_URL = r"^([^{}]|\{\{|\}\}|\{(project|split|item_id|file_name)\})*$"
LABEL = TEXT
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = rf"^(?=.{{1,254}}$){_LABEL}(\.{_LABEL})*\.?$"


def _setting(kind: type, lo: float, hi: float) -> dict[str, Any]:
    return {"type": "integer" if kind is int else "number", "minimum": lo, "maximum": hi}


_LO, _HI = int(SETTING_RULES["grid_size"][1]), int(SETTING_RULES["grid_size"][2])
_GOLD_BELOW_GRID = [
    {
        "if": {"required": ["grid_size"], "properties": {"grid_size": {"const": size}}},
        "then": {"properties": {"gold_per_grid": {"maximum": size - 1}}},
    }
    for size in range(_LO, _HI + 1)
] + [
    {
        "if": {"not": {"required": ["grid_size"]}},
        "then": {
            "properties": {"gold_per_grid": {"maximum": DEFAULT_PROJECT_SETTINGS["grid_size"] - 1}}
        },
    }
]
PROJECT_SETTINGS = {
    "type": ["object", "null"],
    "description": "Overrides of the defaults (gold_per_grid must stay below grid_size)",
    "allOf": _GOLD_BELOW_GRID,
    "additionalProperties": False,
    "properties": {
        **{k: _setting(*rule) for k, rule in SETTING_RULES.items()},
        **{k: {"enum": list(v)} for k, v in CHOICE_SETTINGS.items()},
        **{
            k: {"type": "boolean"}
            for k, v in DEFAULT_PROJECT_SETTINGS.items()
            if isinstance(v, bool) and k not in SETTING_RULES
        },
    },
}
PROJECT = {
    "type": "object",
    "required": ["id", "name", "labels", "prompt", "settings"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "prompt": {"type": "string"},
        "settings": {"type": "object"},
    },
}
SITE = {
    "type": "object",
    "required": ["sitekey", "secret", "project", "hostnames"],
    "properties": {
        "sitekey": {"type": "string"},
        "secret": {"type": "string"},
        "project": {"type": "string"},
        "hostnames": {"type": "array", "items": {"type": "string"}},
        "pow_bits": {"type": "integer"},
    },
}
KEY = {
    "type": "object",
    "required": ["id", "name", "key"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "key": {"type": "string"}},
}


def _op(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


# OpenAPI links: what a client (and a stateful fuzzer) does next with what it just created.
_PROJECT_ID = {"project_id": "$response.body#/id"}
PROJECT_LINKS = {
    "GetProject": {
        "operationRef": _op("/api/v1/admin/projects/{project_id}", "get"),
        "parameters": _PROJECT_ID,
    },
    "ListItems": {
        "operationRef": _op("/api/v1/admin/projects/{project_id}/items", "get"),
        "parameters": _PROJECT_ID,
    },
    "ListModels": {
        "operationRef": _op("/api/v1/admin/projects/{project_id}/models", "get"),
        "parameters": _PROJECT_ID,
    },
    "Export": {
        "operationRef": _op("/api/v1/admin/projects/{project_id}/export", "get"),
        "parameters": _PROJECT_ID,
    },
    "Import": {
        "operationRef": _op("/api/v1/admin/projects/{project_id}/import", "post"),
        "parameters": _PROJECT_ID,
    },
    "Retrain": {
        "operationRef": _op("/api/v1/admin/projects/{project_id}/retrain", "post"),
        "parameters": _PROJECT_ID,
    },
    "CreateSite": {
        "operationRef": _op("/api/v1/admin/sites", "post"),
        "requestBody": {
            "name": "Linked site",
            "hostnames": ["shop.example"],
            "project": "$response.body#/id",
        },
    },
}
_SITEKEY = {"sitekey": "$response.body#/sitekey"}
SITE_LINKS = {
    "ChangePow": {
        "operationRef": _op("/api/v1/admin/sites/{sitekey}", "patch"),
        "parameters": _SITEKEY,
    },
    "RotateSecret": {
        "operationRef": _op("/api/v1/admin/sites/{sitekey}/rotate-secret", "post"),
        "parameters": _SITEKEY,
    },
    "Siteverify": {
        "operationRef": _op("/siteverify", "post"),
        "requestBody": {"secret": "$response.body#/secret", "response": "shapes.never-issued"},
    },
}
KEY_LINKS = {
    "Revoke": {
        "operationRef": _op("/api/v1/admin/keys/{key_id}", "delete"),
        "parameters": {"key_id": "$response.body#/id"},
    },
}

# Any body is answered with a verdict in the reCAPTCHA/hCaptcha shape (a wrong or missing field
# is an error code, never an HTTP error), so the fields are described, not constrained. The
# fields may come in the query string instead, so the body may be empty.
SITEVERIFY_BODY = {
    "description": "Any body: what is not an object holding the fields is missing them",
    "properties": {
        "secret": {"description": "The site's secret (a string)"},
        "response": {"description": "The token the widget put in the form (a string)"},
        "remoteip": {"description": "The visitor's address (ignored)"},
        "sitekey": {"description": "The site's sitekey; if sent, it must be the secret's site"},
    },
}
SITEVERIFY = {
    "summary": "Verify a response token (reCAPTCHA/hCaptcha wire format)",
    "tags": ["public"],
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {"schema": SITEVERIFY_BODY},
            "application/json": {"schema": SITEVERIFY_BODY},
        },
    },
    "responses": {
        "200": _ok("Verdict", {"$ref": "#/components/schemas/Verdict"}),
        "405": _ok("Method not allowed", ERROR),
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
                        # hostname: required of a client that sends no Origin header, as
                        # servers and tests do; a browser's Origin stands in for it
                        "required": ["sitekey", "hostname"],
                        "properties": {
                            "sitekey": {"type": "string", "minLength": 1, "maxLength": 200},
                            "hostname": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 253,
                                "description": "The page's host name; a browser's Origin header "
                                "stands in for it (and then they must agree)",
                            },
                            "pow": {
                                "description": "A solved puzzle {puzzle, nonce}, as PowError "
                                "describes; read only when the site has pow_bits > 0 (then "
                                "anything else is 403 pow-invalid)",
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
                        {"anyOf": [ERROR, {"$ref": "#/components/schemas/PowError"}]},
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
                        # hostname: as for a challenge, required of a client without Origin
                        "required": ["sitekey", "hostname"],
                        "properties": {
                            "sitekey": {"type": "string", "minLength": 1, "maxLength": 200},
                            "hostname": {"type": "string", "minLength": 1, "maxLength": 253},
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
                "parameters": [CHALLENGE_ID],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["selected"],
                        "properties": {
                            "selected": {
                                "type": "array",
                                "maxItems": 100,
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
                {
                    "201": {**_ok("Created", PROJECT), "links": PROJECT_LINKS},
                    "409": _ok("Exists", ERROR),
                },
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["id", "labels"],
                        "properties": {
                            "id": {"type": "string", "pattern": PROJECT_ID},
                            "name": _text(200, nullable=True),
                            "labels": {
                                "type": "array",
                                "minItems": 2,
                                "maxItems": 100,
                                "uniqueItems": True,
                                "items": {"type": "string", "maxLength": 100, "pattern": LABEL},
                            },
                            "prompt": {
                                "type": ["string", "null"],
                                "maxLength": 300,
                                "pattern": r"\{label\}",
                            },
                            "settings": PROJECT_SETTINGS,
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
                    {
                        "in": "query",
                        "name": "offset",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
                    },
                    {
                        "in": "query",
                        "name": "after",
                        "description": "Page by key: the 'next' of the previous page (0: the "
                        "first page). Costs the same however deep; 'offset' grows with it.",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
                    },
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
                                "required": ["file"],
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
                    {
                        "in": "query",
                        "name": "committee",
                        "schema": {"enum": ["0", "1", "false", "true", "off", "on"]},
                    },
                    {
                        "in": "query",
                        "name": "validation",
                        "schema": {"type": "number", "minimum": 0, "maximum": 0.9},
                    },
                    {"in": "query", "name": "seed", "schema": {"type": "integer"}},
                    {
                        "in": "query",
                        "name": "image_url",
                        "description": "Label Studio image URL template (checked for every "
                        "format): text, {{ and }}, and {project}, {split}, {item_id}, {file_name}",
                        "schema": {"type": "string", "pattern": IMAGE_URL},
                    },
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
                {"201": {**_ok("Created", SITE), "links": SITE_LINKS}},
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["name", "hostnames", "project"],
                        "properties": {
                            "name": _text(200),
                            "hostnames": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 50,
                                "items": {"type": "string", "pattern": HOSTNAME},
                            },
                            "project": {"type": "string", "pattern": PROJECT_ID},
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
                {"201": {**_ok("Created", KEY), "links": KEY_LINKS}},
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": _text(200)},
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


_HTML = {"text/html": {}}
#: What a dashboard page answers: the page, a redirect (to the sign-in form, or after a form
#: was handled), or an HTML error page (400 bad form, 403 no or wrong CSRF token, ...).
DASHBOARD_RESPONSES = {
    "200": {"description": "HTML page", "content": _HTML},
    "302": {"description": "Redirect (sign in first, or the next page)"},
    "303": {"description": "Redirect after a form"},
    **{
        code: {"description": what, "content": _HTML}
        for code, what in [
            ("400", "Invalid form"),
            ("401", "A sign-in link that is spent, expired or forged"),
            ("403", "Missing or wrong CSRF token, or another origin"),
            ("404", "No such page, project, site or key"),
            ("405", "Method not allowed"),
            ("409", "Already exists, or busy"),
            ("413", "Upload too large"),
            ("429", "Rate limited"),
        ]
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
    ("/dashboard/signin", "get", "Sign in with a one-time link (crowdgate signin, make demo)"),
    ("/dashboard/keys", "post", "Create an API key"),
    ("/dashboard/keys/{key_id}/revoke", "post", "Revoke an API key"),
]
PREFLIGHT = {
    "summary": "CORS preflight (the real request is still checked against the site's hosts)",
    "tags": ["public"],
    "responses": {
        "200": {"description": "The Allow header (a route's own OPTIONS answer)"},
        "204": {"description": "Allowed methods and headers for a cross-origin request"},
    },
}
for _path in (
    "/api/v1/challenge",
    "/api/v1/alternative",
    "/api/v1/challenge/{challenge_id}/answer",
):
    # a preflight matches any path under /api/v1/challenge/: its parameters are any strings
    SPEC["paths"][_path]["options"] = {
        **PREFLIGHT,
        "parameters": [_any_param(n) for n in re.findall(r"{([a-z_]+)}", _path)],
    }
for _path, _method, _summary in DASHBOARD_PAGES:
    SPEC["paths"].setdefault(_path, {})[_method] = {
        "summary": _summary,
        "tags": ["dashboard"],
        "parameters": [_any_param(n) for n in re.findall(r"{([a-z_]+)}", _path)],
        "responses": DASHBOARD_RESPONSES,
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI description of the service."""
    response = jsonify(SPEC)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
