"""One-time dashboard sign-in links, as Jupyter prints its token link (no Flask here).

``crowdgate demo`` and ``crowdgate signin`` make a fresh admin API key whose bearer form is
never shown (only its hash is stored, as for every key) and print a link that signs a browser
in with it once. The link carries a grant, ``<key id>.<expiry>.<nonce>.<mac>``, signed with the
service's secret key: it names the key, lasts :data:`LINK_TTL_S`, and is spent on first use
through the store's atomic ``spend_once``, so a link seen later in a browser history, a log or
over a shoulder signs nobody in. Nothing secret is kept anywhere but the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote

from .clock import Clock, system_clock

if TYPE_CHECKING:
    from .models import ApiKey
    from .store import Store

#: Seconds a sign-in link stays valid (enough to click it; it works once).
LINK_TTL_S = 15 * 60
#: The name of the admin key each link signs in with (shown on the dashboard's keys page).
KEY_NAME = "dashboard sign-in link"
#: ``spend_once`` kind of a used link.
SPENT_KIND = "signin-link"
#: Path of the dashboard route that redeems a link.
SIGNIN_PATH = "/dashboard/signin"


def _mac(secret_key: str, payload: str) -> str:
    key = hashlib.sha256(b"crowdgate dashboard sign-in link\0" + secret_key.encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def make_grant(key_id: str, secret_key: str, now: float, ttl_s: float = LINK_TTL_S) -> str:
    """Return a signed one-time grant that signs a browser in with API key ``key_id``."""
    payload = f"{key_id}.{int(now + ttl_s)}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_mac(secret_key, payload)}"


def signin_link(
    store: Store, secret_key: str, base_url: str, clock: Clock = system_clock
) -> tuple[ApiKey, str]:
    """Create a fresh admin key and return it with a one-time sign-in link for it."""
    from . import manage

    record, _bearer = manage.create_apikey(store, KEY_NAME, clock=clock)
    grant = make_grant(record.id, secret_key, clock())
    return record, f"{base_url.rstrip('/')}{SIGNIN_PATH}?grant={quote(grant)}"


def redeem_grant(store: Store, secret_key: str, grant: str, now: float) -> ApiKey | None:
    """Return the live key a valid, unexpired, unspent grant names, spending it; else None."""
    parts = grant.split(".") if 0 < len(grant) <= 200 else []
    if len(parts) != 4:
        return None
    key_id, expiry, _nonce, mac = parts
    payload = grant.rsplit(".", 1)[0]
    if not hmac.compare_digest(mac, _mac(secret_key, payload)):
        return None
    if not expiry.isdigit() or int(expiry) < now:
        return None
    live = {k.id: k for k in store.list_apikeys() if not k.revoked}
    if key_id not in live:
        return None
    digest = hashlib.sha256(grant.encode()).hexdigest()
    if not store.spend_once(SPENT_KIND, digest, now, LINK_TTL_S + 60):
        return None
    return live[key_id]
