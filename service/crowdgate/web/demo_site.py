"""The demo's own web site: a sign-up form guarded by the widget and checked via /siteverify.

It stands for a customer's site and runs on an origin of its own beside crowdgate: the browser
loads the widget from crowdgate, the form posts here, and this server verifies the token with one
server-to-server ``POST /siteverify``, as any site owner would. Being a demo, it then reads the
store to explain what the pass did to the labels. Nothing extra is stored to link the token to its
challenge: the visitor's votes are found in the vote log by their voter key (the same salted hash
of address and user agent crowdgate computed) and by the second the token was issued, which
siteverify returns as ``challenge_ts``.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, abort, render_template, request
from werkzeug.serving import BaseWSGIServer, make_server

from ..challenge.voter import voter_keys
from ..clock import Clock, system_clock
from ..models import GOLD, Vote
from ..store import THUMB, Store, variant_kind
from ..store.blobs import mime_of

#: Seconds the demo waits for crowdgate's /siteverify.
VERIFY_TIMEOUT_S = 10.0
RESPONSE_FIELD = "crowdgate-response"


@dataclass(frozen=True)
class DemoSite:
    """Where the demo site finds crowdgate and which keys it holds.

    ``crowdgate_url`` is the origin browsers load the widget from; ``verify_url`` the base the
    server posts siteverify to (the same unless crowdgate is reached another way from here).
    """

    crowdgate_url: str
    sitekey: str
    secret: str
    project: str
    verify_url: str = ""

    @property
    def verify_base(self) -> str:
        return (self.verify_url or self.crowdgate_url).rstrip("/")


@dataclass
class VotedItem:
    """One unlabeled image of the visitor's grid, with its vote log after the pass."""

    item: str
    answer: bool
    votes: int
    state: str
    label: str | None
    tally: dict[str, list[int]] = field(default_factory=dict)  # label asked -> [yes, no]


@dataclass
class Explanation:
    """What a pass did: gold checked, and the votes it added."""

    label: str
    gold: int
    gold_score: float
    items: list[VotedItem]
    #: the gold items of the answered grid (read from the token before it is verified)
    gold_items: list[str] = field(default_factory=list)


def siteverify(base: str, secret: str, token: str, remoteip: str = "") -> dict[str, Any]:
    """POST a token to ``base``/siteverify as a form; return the JSON verdict.

    A transport failure is returned as ``{"success": False, "error-codes": ["network-error"]}``.
    """
    form = {"secret": secret, "response": token}
    if remoteip:
        form["remoteip"] = remoteip
    req = urllib.request.Request(
        base + "/siteverify",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(req, timeout=VERIFY_TIMEOUT_S) as reply:
            return json.loads(reply.read())
    except (OSError, ValueError):
        return {"success": False, "error-codes": ["network-error"]}


#: seconds after a challenge's issue in which its answer (and so its votes) can come
CHALLENGE_WINDOW_S = 600


def pass_votes(store: Store, project: str, voter: str, second: int) -> list[Vote]:
    """Return the votes ``voter`` cast in the last challenge they passed during ``second``.

    ``second`` is the Unix second of the token's ``challenge_ts`` (when the challenge was
    issued); the votes carry the time of the answer, within the challenge's lifetime after it.
    """
    mine = [
        v
        for v in store.list_votes(project)
        if v.voter == voter and second <= int(v.ts) <= second + CHALLENGE_WINDOW_S
    ]
    if not mine:
        return []
    last = mine[-1].challenge
    return [v for v in mine if v.challenge == last]


def explain(store: Store, project: str, votes: list[Vote]) -> Explanation | None:
    """Describe the gold check and each voted image's vote log; None without votes."""
    proj = store.get_project(project)
    if not votes or proj is None:
        return None
    items = []
    for vote in votes:
        item = store.get_item(project, vote.item)
        tally: dict[str, list[int]] = {}
        for logged in store.list_votes(project, vote.item):
            tally.setdefault(logged.label, [0, 0])[0 if logged.answer else 1] += 1
        items.append(
            VotedItem(
                item=vote.item,
                answer=vote.answer,
                votes=item.votes if item else 0,
                state=item.state if item else "gone",
                label=item.label if item and item.state != GOLD else None,
                tally=tally,
            )
        )
    return Explanation(
        label=votes[0].label,
        gold=int(proj.setting("gold_per_grid")),
        gold_score=votes[0].gold_score,
        items=items,
    )


def _stamp_second(stamp: object) -> int | None:
    try:
        return int(datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def create_demo_site(
    site: DemoSite, store: Store, secret_key: str, clock: Clock = system_clock
) -> Flask:
    """Return the demo site's WSGI app; ``secret_key`` is crowdgate's, to find the votes."""
    app = Flask(
        __name__,
        template_folder="templates/demo",
        static_folder="templates/demo/static",
        static_url_path="/static",
    )
    cg = site.crowdgate_url.rstrip("/")
    shown_gold: set[str] = set()
    csp = (
        f"default-src 'none'; script-src {cg}; connect-src {cg}; img-src 'self'; "
        "style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def signup_page(error: str = "", status: int = 200) -> tuple[str, int]:
        html = render_template(
            "signup.html", crowdgate=cg, sitekey=site.sitekey, error=error, field=RESPONSE_FIELD
        )
        return html, status

    @app.get("/")
    def signup() -> tuple[str, int]:
        return signup_page()

    @app.post("/signup")
    def submit() -> tuple[str, int]:
        token = request.form.get(RESPONSE_FIELD, "")
        if not token:
            return signup_page("Tick the checkbox and solve the grid before signing up.", 400)
        address = request.remote_addr or ""
        # The demo shares crowdgate's store, so it can read which tiles were gold before the
        # token is spent; siteverify itself never says (a real site could not show this).
        peeked = store.peek_token(token, clock()) if len(token) <= 200 else None
        first = siteverify(site.verify_base, site.secret, token, address)
        replay = siteverify(site.verify_base, site.secret, token, address)
        explanation = None
        second = _stamp_second(first.get("challenge_ts")) if first.get("success") else None
        if second is not None:
            voter, _ = voter_keys(
                secret_key, address, request.headers.get("User-Agent", ""), clock()
            )
            votes = pass_votes(store, site.project, voter, second)
            explanation = explain(store, site.project, votes)
            if explanation is not None and peeked is not None:
                explanation.gold_items = list(peeked.gold)
                shown_gold.update(peeked.gold)
        html = render_template(
            "result.html",
            name=request.form.get("name", ""),
            first=first,
            replay=replay,
            explanation=explanation,
            verify_url=site.verify_base + "/siteverify",
        )
        return html, 200 if first.get("success") else 403

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.get("/progress")
    def progress() -> str:
        project = store.get_project(site.project)
        if project is None:
            abort(404)
        counts = store.count_items(site.project)
        stats = store.get_stats(site.project)
        crowd = counts.get("unlabeled", 0) + counts.get("settled", 0)
        return render_template(
            "progress.html", project=project, counts=counts, stats=stats, crowd=crowd
        )

    @app.get("/gold/<item_id>")
    def gold_tile(item_id: str) -> Response:
        # Only gold tiles this demo already explained, as a perturbed variant (as served).
        if item_id not in shown_gold:
            abort(404)
        data = store.get_blob(site.project, item_id, variant_kind(0))
        if data is None:
            abort(404)
        kind = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/webp"
        return Response(data, mimetype=kind, headers={"Cache-Control": "no-store"})

    @app.get("/item/<item_id>")
    def thumb(item_id: str) -> Response:
        item = store.get_item(site.project, item_id)
        # Only voted-on images are shown; gold images never leave crowdgate unperturbed.
        if item is None or item.state == GOLD:
            abort(404)
        data = store.get_blob(site.project, item_id, THUMB)
        if data is None:
            abort(404)
        return Response(data, mimetype=mime_of(data), headers={"Cache-Control": "no-store"})

    return app


def serve_in_thread(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """Serve ``app`` with werkzeug's threaded server in a daemon thread; return the server.

    Call ``shutdown()`` on the result to stop it.
    """
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="demo-site", daemon=True).start()
    return server
