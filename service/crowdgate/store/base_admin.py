"""The store contract for sites and admin API keys."""

from __future__ import annotations

import abc

from ..models import ApiKey, Site
from .base_core import StoreCore


class AdminStore(StoreCore):
    """Sites (sitekey, secret hash) and admin API key records."""

    # -- sites and keys --------------------------------------------------------------------
    @abc.abstractmethod
    def create_site(self, site: Site) -> None:
        """Insert a site; raise :class:`Conflict` if its sitekey exists."""

    @abc.abstractmethod
    def get_site(self, sitekey: str) -> Site | None:
        """Return a site by its public sitekey."""

    @abc.abstractmethod
    def get_site_by_secret(self, secret_hash: str) -> Site | None:
        """Return the site whose secret hashes to ``secret_hash``."""

    @abc.abstractmethod
    def list_sites(self) -> list[Site]:
        """Return all sites ordered by creation."""

    @abc.abstractmethod
    def save_site(self, site: Site) -> None:
        """Overwrite an existing site's name, hostnames, compat mode and pow bits (not its
        secret, which only :meth:`set_site_secret` changes); a missing site is left missing."""

    @abc.abstractmethod
    def set_site_secret(self, sitekey: str, secret_hash: str) -> None:
        """Replace a site's secret hash (the old secret stops working at once)."""

    @abc.abstractmethod
    def create_apikey(self, key: ApiKey) -> None:
        """Insert an admin API key record."""

    @abc.abstractmethod
    def get_apikey_by_hash(self, key_hash: str) -> ApiKey | None:
        """Return the key record for a hashed bearer token, revoked or not."""

    @abc.abstractmethod
    def list_apikeys(self) -> list[ApiKey]:
        """Return all key records ordered by creation."""

    @abc.abstractmethod
    def revoke_apikey(self, key_id: str) -> bool:
        """Revoke a key by id; return ``False`` if there is no such key."""
