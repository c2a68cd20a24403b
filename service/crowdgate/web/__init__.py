"""The HTTP layer: a thin Flask app over the core (challenge, store, ingestion)."""

from .app import create_app

__all__ = ["create_app"]
