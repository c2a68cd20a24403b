"""Registers the store and the challenge service on the app (``app.extensions``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app

from ..challenge import ChallengeService
from ..clock import Clock
from ..config import Settings
from ..store import Store, open_configured_store

log = logging.getLogger(__name__)


@dataclass
class Crowdgate:
    settings: Settings
    store: Store
    service: ChallengeService
    clock: Clock


def init_app(app: Flask, settings: Settings, *, store: Store | None, clock: Clock) -> None:
    """Open the configured store (unless one is given) and attach the core services."""
    store = store or open_configured_store(settings)
    if settings.test_keys:
        log.warning(
            "The published test sitekey and secret are accepted (they always pass); set "
            "CROWDGATE_TEST_KEYS=false in production."
        )
    app.extensions["crowdgate"] = Crowdgate(
        settings=settings,
        store=store,
        service=ChallengeService(store, settings, clock=clock),
        clock=clock,
    )


def cg() -> Crowdgate:
    """Return the crowdgate services of the current app."""
    return current_app.extensions["crowdgate"]
