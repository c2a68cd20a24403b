"""The accessible path: a pass by proof of work, for visitors who cannot do the image task.

A visitor who says they cannot label images asks for a puzzle (``offer``), their browser solves
it, and the solution buys one token (``redeem``) that siteverify accepts like any other and
reports with ``"path": "alternative"``. Such a token casts no votes: nothing about the images
was answered. The puzzles are ``pow.py``'s stateless signed ones under a key of their own, so
a puzzle handed out with a grid challenge can never redeem an alternative token (which would
skip the alternative's own limits), and each is spent once.

What keeps it from being a bot's cheap way in is the web layer's limits, counted per client and
per site whenever a puzzle is offered, far below the grid's (every token needs a puzzle, so
tokens can never outnumber offers), and the work itself: at least as many bits as the site asks
before a grid, and never fewer than ``Settings.alternative_pow_bits``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ..clock import Clock
from ..config import Settings
from ..errors import BadRequest, Forbidden
from ..models import Site, TokenRecord
from ..store import Store
from . import keys
from .pow import MAX_BITS, SPENT_KIND, PowRejected, make_puzzle, spent_digest, verify_solution

#: what siteverify's ``path`` says of a token won on each path
PATH_GRID, PATH_ALTERNATIVE = "grid", "alternative"


class AlternativeOff(Forbidden):
    """The site's owner turned the accessible path off."""

    code = "alternative-off"


class AlternativeRefused(Forbidden):
    """A solution was refused: ``pow-invalid``, ``pow-expired`` or ``pow-replayed``."""

    code = "pow-invalid"


def bits_for(site: Site, settings: Settings) -> int:
    """Return the work an alternative pass costs on ``site``: never less than its grid's."""
    return min(MAX_BITS, max(settings.alternative_pow_bits, site.pow_bits, 1))


class AlternativePath:
    """Offers puzzles and turns their solutions into vote-less tokens."""

    def __init__(self, store: Store, settings: Settings, clock: Clock):
        self.store = store
        self.settings = settings
        self.clock = clock
        # a key of its own: grid puzzles and alternative puzzles never stand in for each other
        self.key = hmac.new(
            settings.secret_key.encode("utf-8"), b"crowdgate alternative path", hashlib.sha256
        ).hexdigest()

    def check_allowed(self, site: Site) -> None:
        """Raise ``alternative-off`` unless the site offers the accessible path."""
        if not site.alternative:
            raise AlternativeOff(
                "This site turned the path without images off; solve the image challenge.",
            )

    def offer(self, site: Site) -> dict[str, Any]:
        """Return a fresh puzzle for ``site``: ``{"puzzle", "bits", "expires_in"}``."""
        self.check_allowed(site)
        bits = bits_for(site, self.settings)
        ttl = self.settings.alternative_ttl_s
        puzzle = make_puzzle(self.key, site.sitekey, bits, self.clock(), ttl)
        return {"puzzle": puzzle, "bits": bits, "expires_in": ttl}

    def redeem(self, site: Site, hostname: str, proof: object) -> TokenRecord:
        """Check a solution once and store a token bound to ``site`` and ``hostname``.

        Raises
        ------
        AlternativeRefused
            For a malformed, forged, foreign, too easy, expired or already used solution.
        """
        self.check_allowed(site)
        if not isinstance(proof, dict):
            raise BadRequest(
                "'pow' must be an object with 'puzzle' and 'nonce'.", code="bad-request"
            )
        now = self.clock()
        try:
            puzzle = verify_solution(
                self.key,
                proof.get("puzzle"),
                proof.get("nonce"),
                site.sitekey,
                bits_for(site, self.settings),
                now,
            )
        except PowRejected as exc:
            raise AlternativeRefused(exc.message, code=exc.code) from None
        if not self.store.spend_once(
            SPENT_KIND, spent_digest(str(proof["puzzle"])), now, puzzle.expires_at - now
        ):
            raise AlternativeRefused("This puzzle was already used.", code="pow-replayed")
        test = site.sitekey == keys.TEST_SITEKEY
        token = TokenRecord(
            token=keys.new_ref(site.project),
            sitekey=site.sitekey,
            hostname=hostname,
            project=site.project,
            # as reCAPTCHA's challenge_ts: when the challenge (here, the puzzle) was handed out
            challenge_ts=float(puzzle.expires_at - self.settings.alternative_ttl_s),
            expires_at=now + self.settings.token_ttl_s,
            test=test,
            path=PATH_ALTERNATIVE,
        )
        # no votes, no caps: the token is stored exactly as a grid pass's would be
        self.store.record_pass(site.project, [], token, 0, 0)
        if not test:
            self.store.incr_stats(site.project, alternative_passes=1)
        return token
