"""crowdgate: self-hosted captcha-style crowdsourced image labeling.

``crowdgate:create_app()`` is the WSGI application factory (for gunicorn). The core packages
(store, challenge, ingestion, aggregation, committee) import no Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    """Return the WSGI application (imported lazily so the core stays Flask-free)."""
    from .web.app import create_app as factory

    return factory(*args, **kwargs)


__all__ = ["__version__", "create_app"]
