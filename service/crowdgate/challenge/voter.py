"""Voter and network keys: salted hashes of the client, never the raw address."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from functools import lru_cache

DAY_S = 86400


def daily_salt(secret_key: str, now: float) -> bytes:
    """Return the salt of the UTC day containing ``now``; it rotates at midnight UTC."""
    return _salt_of_day(secret_key, int(now // DAY_S))


@lru_cache(maxsize=8)
def _salt_of_day(secret_key: str, day_number: int) -> bytes:
    day = time.strftime("%Y-%m-%d", time.gmtime(day_number * DAY_S))
    return hmac.new(secret_key.encode(), b"voter-salt:" + day.encode(), hashlib.sha256).digest()


# A pure function of the address, parsed by ipaddress (about 20 us) on every challenge: cached,
# bounded, since the same clients come back.
@lru_cache(maxsize=4096)
def network_prefix(address: str) -> str:
    """Return the client's network: the /24 of an IPv4 address or the /48 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def voter_keys(secret_key: str, address: str, user_agent: str, now: float) -> tuple[str, str]:
    """Return ``(voter_key, network_key)`` for a client, salted with the day's salt."""
    salt = daily_salt(secret_key, now)
    prefix = network_prefix(address)
    network = hmac.new(salt, b"net:" + prefix.encode(), hashlib.sha256).hexdigest()[:24]
    voter = hmac.new(
        salt,
        b"voter:" + prefix.encode() + b"\0" + user_agent[:512].encode("utf-8", "replace"),
        hashlib.sha256,
    ).hexdigest()[:24]
    return voter, network
