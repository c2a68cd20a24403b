"""The challenge loop without HTTP: issue grids with their tiles, grade answers, verify tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import consensus
from ..clock import Clock, system_clock
from ..config import Settings
from ..errors import BadRequest, CrowdgateError, Forbidden, Gone, NotFound
from ..live_update import LiveUpdate
from ..models import TEST_PROJECT, Challenge, Project, Site, TokenRecord, Vote
from ..store import Store
from ..store.base import EXPIRED, SPENT
from . import keys, testkit
from .alternative import PATH_GRID, AlternativePath
from .cache import TTLCache
from .grid import compose_grid, gold_sets_of
from .pow import POW_TTL_S, SPENT_KIND, PowRejected, PowRequired, make_puzzle, spent_digest
from .pow import verify_solution as verify_pow
from .rand import BatchedSystemRandom
from .selection import QueueSelector, Selector
from .tiles import encoded_tiles
from .voter import voter_keys

MAX_REF_LEN = 200


@dataclass
class Client:
    """What the web layer tells the core about a visitor (the address is never stored)."""

    address: str
    user_agent: str
    origin_host: str | None = None


@dataclass
class AnswerResult:
    success: bool
    token: str | None = None
    next: Challenge | None = None
    votes: int = 0


def host_allowed(hostname: str, allowed: list[str]) -> bool:
    """Return True if ``hostname`` is an allowed host or a subdomain of one (reCAPTCHA rule)."""
    hostname = hostname.lower().rstrip(".")
    return any(hostname == a or hostname.endswith("." + a) for a in allowed)


class ChallengeService:
    """Issues grids, grades answers into votes and tokens, and answers siteverify."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock = system_clock,
        selector: Selector | None = None,
    ):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.selector: Selector = selector or QueueSelector()
        self.rng = BatchedSystemRandom()
        ttl = settings.cache_ttl_s
        self.sites: TTLCache[Site] = TTLCache(lambda k: store.get_site(str(k)), ttl)
        self.projects: TTLCache[Project] = TTLCache(lambda k: store.get_project(str(k)), ttl)
        self.gold_sets: TTLCache[dict[str, tuple[int, int]]] = TTLCache(
            lambda k: gold_sets_of(store, str(k)), ttl
        )
        self.alternative = AlternativePath(store, settings, clock)

    # -- issue ----------------------------------------------------------------------------
    def site_for(self, sitekey: str) -> Site:
        """Return the site of ``sitekey`` (the test site if enabled) or raise NotFound."""
        if not isinstance(sitekey, str) or not sitekey or len(sitekey) > MAX_REF_LEN:
            raise BadRequest(
                "Send the site's public sitekey as 'sitekey'.", code="missing-input-sitekey"
            )
        if sitekey == keys.TEST_SITEKEY and self.settings.test_keys:
            return testkit.TEST_SITE
        site = self.sites.get(sitekey)
        if site is None:
            raise NotFound(
                f"Sitekey {sitekey!r} is not known to this crowdgate server; check "
                "the data-sitekey attribute.",
                code="unknown-sitekey",
            )
        return site

    def resolve_hostname(self, site: Site, hostname: str | None, client: Client) -> str:
        """Return the page hostname a challenge is bound to, refusing hosts the site lacks."""
        if hostname is not None and (not isinstance(hostname, str) or len(hostname) > 253):
            raise BadRequest("'hostname' must be a host name string.", code="bad-request")
        if client.origin_host:
            if hostname and hostname.lower() != client.origin_host:
                raise Forbidden(
                    "The hostname does not match the page's origin.", code="hostname-mismatch"
                )
            hostname = client.origin_host
        if not hostname:
            raise BadRequest(
                "Send the page's 'hostname' (browsers send an Origin header).",
                code="missing-hostname",
            )
        hostname = hostname.lower().rstrip(".")
        if site.project != TEST_PROJECT and not host_allowed(hostname, site.hostnames):
            code = "origin-not-allowed" if client.origin_host else "hostname-not-allowed"
            raise Forbidden(
                f"Hostname {hostname!r} is not allowed for this sitekey; add it to "
                "the site's hostnames.",
                code=code,
            )
        return hostname

    def admit(self, site: Site, proof: object) -> bool:
        """Return whether a proof was checked: False if ``site`` asks none, True if it held.

        Raises
        ------
        PowRequired
            With a fresh puzzle, when a proof is missing (``pow-required``), wrong
            (``pow-invalid``), too late (``pow-expired``) or already used (``pow-replayed``).
        """
        if site.pow_bits <= 0:
            return False
        now = self.clock()
        if proof is None:
            code = "pow-required"
            message = "This site asks for a proof of work first; solve the enclosed puzzle."
        elif not isinstance(proof, dict):
            code, message = "pow-invalid", "'pow' must be an object with 'puzzle' and 'nonce'."
        else:
            try:
                puzzle = verify_pow(
                    self.settings.secret_key,
                    proof.get("puzzle"),
                    proof.get("nonce"),
                    site.sitekey,
                    site.pow_bits,
                    now,
                )
            except PowRejected as exc:
                code, message = exc.code, exc.message
            else:
                # Spent only once valid, so every stored row cost its sender the work.
                digest = spent_digest(str(proof["puzzle"]))
                if self.store.spend_once(SPENT_KIND, digest, now, puzzle.expires_at - now):
                    return True
                code = "pow-replayed"
                message = "This puzzle was already used; solve the enclosed one."
        fresh = make_puzzle(self.settings.secret_key, site.sitekey, site.pow_bits, now)
        raise PowRequired(
            message, code=code, puzzle=fresh, bits=site.pow_bits, expires_in=POW_TTL_S
        )

    def issue(self, sitekey: str, hostname: str | None, client: Client) -> Challenge:
        """Create, store and return a new challenge for a visitor of ``sitekey``."""
        site = self.site_for(sitekey)
        host = self.resolve_hostname(site, hostname, client)
        return self.issue_for(site, host, client)

    def issue_for(self, site: Site, host: str, client: Client) -> Challenge:
        now = self.clock()
        voter, network = voter_keys(
            self.settings.secret_key, client.address, client.user_agent, now
        )
        if site.project == TEST_PROJECT:
            label, slots, test = testkit.LABEL, testkit.slots(), True
        else:
            project = self.projects.get(site.project)
            if project is None:
                raise NotFound(
                    f"The site's project {site.project!r} no longer exists.",
                    code="unknown-project",
                    status=503,
                )
            grid = compose_grid(
                self.store,
                project,
                self.selector,
                self.rng,
                self.settings.tile_variants,
                self.gold_sets.get(project.id) or {},
            )
            label, slots, test = grid.label, grid.slots, False
        challenge = Challenge(
            id=keys.new_ref(site.project),
            sitekey=site.sitekey,
            project=site.project,
            label=label,
            hostname=host,
            voter=voter,
            network=network,
            slots=slots,
            issued_at=now,
            expires_at=now + self.settings.challenge_ttl_s,
            test=test,
        )
        self.store.put_challenge(challenge)
        return challenge

    def describe(self, challenge: Challenge) -> dict[str, Any]:
        """Return the public JSON of a challenge: prompt, label and every tile's bytes.

        The tiles travel in this one response (base64, in slot order), so the widget draws the
        grid without further requests and the page needs no ``img-src`` for crowdgate.
        """
        if challenge.test:
            prompt = testkit.PROMPT
            compat = ""
            alternative = testkit.TEST_SITE.alternative
        else:
            project = self.projects.get(challenge.project)
            prompt = project.prompt_for(challenge.label) if project else challenge.label
            site = self.sites.get(challenge.sitekey)
            compat = site.compat if site else ""
            alternative = site.alternative if site else False
        n = len(challenge.slots)
        return {
            "challenge": challenge.id,
            "prompt": prompt,
            "label": challenge.label,
            "grid": n,
            "cols": 3 if n > 4 else 2,
            "tiles": encoded_tiles(self.store, challenge, self.rng),
            "expires_in": int(challenge.expires_at - self.clock()),
            "compat": compat,
            # whether the widget offers the path without images (the site may turn it off)
            "alternative": alternative,
        }

    # -- answer ---------------------------------------------------------------------------
    def answer(self, challenge_id: str, selected: object, client: Client) -> AnswerResult:
        """Grade an answer once; on pass record votes and return a token, else a new grid."""
        picks = _parse_selection(selected)
        challenge = self.store.take_challenge(challenge_id[:MAX_REF_LEN], self.clock())
        if challenge is None:
            raise Gone(
                "This challenge expired or was already answered; request a new one.",
                code="challenge-expired",
            )
        if client.origin_host and challenge.hostname != client.origin_host:
            raise Forbidden("This challenge was issued to another page.", code="hostname-mismatch")
        if any(p >= len(challenge.slots) for p in picks):
            raise BadRequest("'selected' names a slot the grid does not have.", code="bad-request")
        now = self.clock()
        gold = [(i, s) for i, s in enumerate(challenge.slots) if s.gold]
        right = sum((i in picks) == bool(s.truth) for i, s in gold)
        passed = challenge.test or right == len(gold)
        token = TokenRecord(
            token=keys.new_ref(challenge.project),
            sitekey=challenge.sitekey,
            hostname=challenge.hostname,
            project=challenge.project,
            # reCAPTCHA's challenge_ts is when the challenge was loaded, not when it was solved
            challenge_ts=challenge.issued_at,
            expires_at=now + self.settings.token_ttl_s,
            test=challenge.test,
            challenge=challenge.id,
            gold=[s.item for s in challenge.slots if s.gold],
        )
        if not passed:
            self.store.incr_stats(challenge.project, challenges_failed=1)
            site = self.site_for(challenge.sitekey)
            return AnswerResult(
                success=False, next=self.issue_for(site, challenge.hostname, client)
            )
        project = None if challenge.test else self.projects.get(challenge.project)
        weight = consensus.vote_weight(project) if project else 0.0
        votes = [
            Vote(
                project=challenge.project,
                item=s.item,
                label=challenge.label,
                answer=i in picks,
                voter=challenge.voter,
                network=challenge.network,
                challenge=challenge.id,
                gold_score=right / max(1, len(gold)),
                ts=now,
                weight=weight if i in picks else -weight,
            )
            for i, s in enumerate(challenge.slots)
            if not s.gold and project is not None
        ]
        cap = int(project.setting("vote_cap")) if project else 0
        net_cap = int(project.setting("network_cap")) if project else 0
        # the queue scores of items that cannot settle are written with the votes (one SQLite
        # transaction); the few that may settle are decided after it
        step = LiveUpdate(self.store, project) if project is not None else None
        evidence = self.store.record_pass(
            challenge.project, votes, token, cap, net_cap, rank=step.rank if step else None
        )
        if step is not None and step.candidates:
            step.settle(self.store, now)
        return AnswerResult(success=True, token=token.token, votes=len(evidence))

    # -- siteverify -----------------------------------------------------------------------
    def verify(self, secret: object, response: object, sitekey: object = None) -> dict[str, Any]:
        """Answer siteverify in the reCAPTCHA/hCaptcha shape; never raises for bad input."""
        errors = []
        if not isinstance(secret, str) or not secret:
            errors.append("missing-input-secret")
        if not isinstance(response, str) or not response:
            errors.append("missing-input-response")
        if errors:
            return _verdict(errors)
        assert isinstance(secret, str) and isinstance(response, str)
        if len(secret) > MAX_REF_LEN:
            return _verdict(["invalid-input-secret"])
        testing = self.settings.test_keys and secret == keys.TEST_SECRET
        if testing and response == keys.TEST_RESPONSE:
            return _verdict([], self.clock(), "test.crowdgate.invalid")
        secret_hash = keys.hash_secret(secret)
        if len(response) > MAX_REF_LEN or "." not in response:
            site = testkit.TEST_SITE if testing else self.store.get_site_by_secret(secret_hash)
            return _verdict(["invalid-input-response" if site else "invalid-input-secret"])
        # One atomic step finds the token, checks it belongs to the site whose secret this
        # is, and consumes it, leaving a tombstone; the secret is looked up on its own only
        # when that fails.
        if testing:
            found = self.store.redeem(response, self.clock(), sitekey=keys.TEST_SITEKEY)
        else:
            # With a sitekey, it must be the secret's site before anything is consumed.
            asked = sitekey if isinstance(sitekey, str) and sitekey else None
            found = self.store.redeem(
                response, self.clock(), sitekey=asked, secret_hash=secret_hash
            )
        record = found.record
        if record is None:
            site = None if testing else self.store.get_site_by_secret(secret_hash)
            if not testing and site is None:
                return _verdict(["invalid-input-secret"])
            if site is not None and sitekey not in (None, "") and sitekey != site.sitekey:
                return _verdict(["sitekey-secret-mismatch"])
            # reCAPTCHA's meanings: spent or expired is timeout-or-duplicate; a token this
            # site was never given (forged, another site's, or long forgotten) is invalid
            if found.outcome in (SPENT, EXPIRED):
                return _verdict(["timeout-or-duplicate"])
            return _verdict(["invalid-input-response"])
        if sitekey not in (None, "") and sitekey != record.sitekey:
            return _verdict(["sitekey-secret-mismatch"])
        return _verdict([], record.challenge_ts, record.hostname, record.path)


def _parse_selection(selected: object) -> set[int]:
    if not isinstance(selected, list) or len(selected) > 100:
        raise BadRequest(
            "'selected' must be a list of slot numbers, for example [0, 4, 7].", code="bad-request"
        )
    # JSON has one number type: 4.0 is the slot 4 (JSON Schema's integer says so too)
    selected = [int(p) if isinstance(p, float) and p.is_integer() else p for p in selected]
    if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in selected):
        raise BadRequest(
            "'selected' must hold only slot numbers (integers from 0).", code="bad-request"
        )
    return set(selected)


def _verdict(
    errors: list[str], ts: float | None = None, hostname: str = "", path: str = PATH_GRID
) -> dict[str, Any]:
    if errors:
        return {"success": False, "error-codes": errors}
    stamp = datetime.fromtimestamp(ts or 0, UTC).isoformat(timespec="seconds")
    return {
        "success": True,
        "challenge_ts": stamp.replace("+00:00", "Z"),
        "hostname": hostname,
        "error-codes": [],
        # crowdgate's own field, which reCAPTCHA and hCaptcha clients ignore: "alternative"
        # for a pass by the accessible path (no images answered), "grid" otherwise
        "path": path,
    }


__all__ = ["AnswerResult", "ChallengeService", "Client", "CrowdgateError", "host_allowed"]
