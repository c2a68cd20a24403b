"""Administrative operations shared by the CLI and the admin API, with input validation."""

from __future__ import annotations

import re
from typing import Any

from .challenge import keys
from .challenge.pow import MAX_BITS
from .clock import Clock, system_clock
from .errors import BadRequest, NotFound
from .models import DEFAULT_PROJECT_SETTINGS, ApiKey, Project, Site, check_project_id
from .store import Store

HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
COMPAT_MODES = ("", "recaptcha", "hcaptcha")
SETTING_RULES: dict[str, tuple[type, float, float]] = {
    "grid_size": (int, 4, 16),
    "gold_per_grid": (int, 2, 15),
    "min_votes": (int, 1, 100),
    "threshold": (float, 0.5, 1.0),
    "vote_cap": (int, 1, 1000),
    "network_cap": (int, 1, 1000),
    "promote_threshold": (float, 0.5, 1.0),
    "retire_after_serves": (int, 0, 1_000_000),
    "committee_size": (int, 1, 25),
    "live_reliability": (float, 0.5, 0.999),
}
CHOICE_SETTINGS: dict[str, tuple[str, ...]] = {
    "pass_rule": ("all",),
    "selector": ("committee", "random"),
    "query": ("disagreement", "random"),
}


def _text(value: object, name: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise BadRequest(
            f"'{name}' must be a non-empty string of at most {max_len} characters.",
            code="bad-request",
        )
    return value.strip()


def validate_labels(labels: object) -> list[str]:
    """Return the label list if it has 2 to 100 distinct non-empty strings, else raise."""
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",")]
    if not isinstance(labels, list) or not 2 <= len(labels) <= 100:
        raise BadRequest("'labels' must list 2 to 100 class names.", code="invalid-labels")
    clean = [_text(lab, "labels[]", 100) for lab in labels]
    if len(set(clean)) != len(clean):
        raise BadRequest("'labels' must not repeat a class name.", code="invalid-labels")
    return clean


def validate_settings(settings: object) -> dict[str, Any]:
    """Return project settings merged over the defaults, each checked for type and range."""
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise BadRequest("'settings' must be a JSON object.", code="invalid-settings")
    merged = dict(DEFAULT_PROJECT_SETTINGS)
    for key, value in settings.items():
        if key not in DEFAULT_PROJECT_SETTINGS:
            raise BadRequest(
                f"Unknown project setting {key!r}; known: "
                f"{', '.join(sorted(DEFAULT_PROJECT_SETTINGS))}.",
                code="invalid-settings",
            )
        if key in SETTING_RULES:
            kind, lo, hi = SETTING_RULES[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (lo <= value <= hi)
                or (kind is int and value != int(value))
            ):
                raise BadRequest(
                    f"Setting {key!r} must be a {kind.__name__} from {lo} to {hi}.",
                    code="invalid-settings",
                )
            merged[key] = kind(value)
        elif key in CHOICE_SETTINGS:
            if value not in CHOICE_SETTINGS[key]:
                raise BadRequest(
                    f"Setting {key!r} must be one of {', '.join(CHOICE_SETTINGS[key])}.",
                    code="invalid-settings",
                )
            merged[key] = value
        elif not isinstance(value, bool):
            raise BadRequest(f"Setting {key!r} must be true or false.", code="invalid-settings")
        else:
            merged[key] = value
    if merged["gold_per_grid"] >= merged["grid_size"]:
        raise BadRequest(
            "'gold_per_grid' must be smaller than 'grid_size'.", code="invalid-settings"
        )
    return merged


def create_project(
    store: Store,
    project_id: object,
    *,
    name: object = None,
    labels: object,
    prompt: object = None,
    settings: object = None,
    clock: Clock = system_clock,
) -> Project:
    """Validate and create a project."""
    pid = check_project_id(project_id)  # type: ignore[arg-type]
    project = Project(
        id=pid,
        name=_text(name, "name", 200) if name is not None else pid,
        labels=validate_labels(labels),
        prompt=_text(prompt, "prompt", 300) if prompt is not None else Project.prompt,
        settings=validate_settings(settings),
        created_at=clock(),
    )
    if "{label}" not in project.prompt:
        raise BadRequest(
            "'prompt' must contain {label}, where the asked class name goes.", code="bad-request"
        )
    store.create_project(project)
    return project


def validate_hostnames(hostnames: object) -> list[str]:
    """Return lower-cased host names; refuse URLs, ports, wildcards and empty lists."""
    if isinstance(hostnames, str):
        hostnames = [h.strip() for h in hostnames.split(",") if h.strip()]
    if not isinstance(hostnames, list) or not 1 <= len(hostnames) <= 50:
        raise BadRequest(
            "'hostnames' must list 1 to 50 host names, like ['example.com'].",
            code="invalid-hostnames",
        )
    clean = []
    for host in hostnames:
        if not isinstance(host, str) or not HOST_RE.fullmatch(host.lower().rstrip(".")):
            raise BadRequest(
                f"{host!r} is not a host name; give a bare name like "
                "'shop.example.com' (no scheme, port or path).",
                code="invalid-hostnames",
            )
        clean.append(host.lower().rstrip("."))
    return clean


def validate_pow_bits(bits: object) -> int:
    """Return ``bits`` if it is an integer from 0 (no proof of work) to 24, else raise."""
    if isinstance(bits, float) and bits.is_integer():
        bits = int(bits)  # JSON has one number type: 10.0 is the integer 10 (JSON Schema agrees)
    if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= MAX_BITS:
        raise BadRequest(
            f"'pow_bits' must be an integer from 0 (off) to {MAX_BITS}, not {bits!r}; "
            "each extra bit doubles a visitor's work (16 takes about half a second in a browser).",
            code="invalid-pow-bits",
        )
    return bits


def create_site(
    store: Store,
    *,
    name: object,
    hostnames: object,
    project: object,
    compat: object = "",
    pow_bits: object = 0,
    alternative: object = True,
    clock: Clock = system_clock,
) -> tuple[Site, str]:
    """Create a site; return it and its secret, which is shown once and stored only hashed."""
    pid = check_project_id(project)  # type: ignore[arg-type]
    if store.get_project(pid) is None:
        raise NotFound(f"Project {pid!r} does not exist; create it first.", code="unknown-project")
    if compat not in COMPAT_MODES:
        raise BadRequest("'compat' must be '', 'recaptcha' or 'hcaptcha'.", code="bad-request")
    secret = keys.new_secret()
    site = Site(
        sitekey=keys.new_sitekey(),
        name=_text(name, "name", 200),
        secret_hash=keys.hash_secret(secret),
        hostnames=validate_hostnames(hostnames),
        project=pid,
        compat=str(compat),
        created_at=clock(),
        pow_bits=validate_pow_bits(pow_bits),
        alternative=validate_alternative(alternative),
    )
    store.create_site(site)
    return site, secret


def rotate_secret(store: Store, sitekey: str) -> str:
    """Give a site a new secret (the old one stops working) and return it once."""
    if store.get_site(sitekey) is None:
        raise NotFound(f"Site {sitekey!r} does not exist.", code="unknown-sitekey")
    secret = keys.new_secret()
    store.set_site_secret(sitekey, keys.hash_secret(secret))
    return secret


def set_pow_bits(store: Store, sitekey: str, bits: object) -> Site:
    """Change the proof of work a site asks before each challenge; return the updated site."""
    clean = validate_pow_bits(bits)
    site = store.get_site(sitekey)
    if site is None:
        raise NotFound(f"Site {sitekey!r} does not exist.", code="unknown-sitekey")
    site.pow_bits = clean
    store.save_site(site)
    return site


def validate_alternative(value: object) -> bool:
    """Return the accessible-path switch as a bool, or raise ``bad-request``."""
    if not isinstance(value, bool):
        raise BadRequest(
            f"'alternative' must be true (offer the path without images) or false, not {value!r}.",
            code="bad-request",
        )
    return value


def set_alternative(store: Store, sitekey: str, on: object) -> Site:
    """Turn a site's accessible path (a pass without images) on or off; return the site."""
    clean = validate_alternative(on)
    site = store.get_site(sitekey)
    if site is None:
        raise NotFound(f"Site {sitekey!r} does not exist.", code="unknown-sitekey")
    site.alternative = clean
    store.save_site(site)
    return site


def create_apikey(store: Store, name: object, clock: Clock = system_clock) -> tuple[ApiKey, str]:
    """Create an admin API key; return the record and the bearer key, shown once."""
    key_id, bearer = keys.new_apikey()
    record = ApiKey(
        id=key_id,
        name=_text(name, "name", 200),
        key_hash=keys.hash_secret(bearer),
        created_at=clock(),
    )
    store.create_apikey(record)
    return record, bearer


def revoke_apikey(store: Store, key_id: str) -> None:
    """Revoke an admin API key by id."""
    if not store.revoke_apikey(key_id):
        raise NotFound(f"API key {key_id!r} does not exist.", code="unknown-apikey")


def authenticate(store: Store, bearer: str | None) -> ApiKey | None:
    """Return the live API key record for a bearer key, else ``None``."""
    if not bearer or len(bearer) > 200:
        return None
    record = store.get_apikey_by_hash(keys.hash_secret(bearer))
    return record if record is not None and not record.revoked else None
