"""Typed settings read once from ``CROWDGATE_*`` environment variables."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import CrowdgateError

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "./crowdgate-data"
#: Defaults of ``train_cap`` and ``score_cap`` (bench/RESULTS.md, "Trainer at a million items").
TRAIN_CAP, SCORE_CAP = 20_000, 50_000


class ConfigError(CrowdgateError):
    code = "config-invalid"
    status = 500


@dataclass(frozen=True)
class Settings:
    """Every runtime setting, with its default and unit.

    ``store``: store URI; ``sqlite:///path/to/crowdgate.db`` (default: a file in ``data_dir``),
    ``redis://host:port/db`` or ``redis+cluster://host:port``.

    ``blob_store``: where image bytes go (store/blobs.py), ``file:///path/to/folder``; empty
    means the folder the store recorded when first opened, else ``<name>-blobs`` beside a
    SQLite file or ``<data_dir>/blobs`` for Redis. Several hosts share one on a shared volume.
    """

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    store: str = ""
    secret_key: str = ""
    #: blob store URI (see above); empty: the recorded or default folder
    blob_store: str = ""
    #: MiB of tiles (immutable, content-addressed) each process keeps in memory
    blob_cache_mb: int = 64
    #: seconds a challenge may be answered after it is issued
    challenge_ttl_s: int = 600
    #: seconds a pass token stays valid for siteverify
    token_ttl_s: int = 120
    #: pixels a decoded image may have before it is refused as a decompression bomb
    max_image_pixels: int = 40_000_000
    #: bytes an uploaded or imported file may have
    max_file_bytes: int = 25 * 1024 * 1024
    #: bytes an admin upload (an import zip) may have
    max_upload_bytes: int = 512 * 1024 * 1024
    #: bytes a public JSON body (challenge, answer, siteverify) may have
    max_json_bytes: int = 16 * 1024
    #: seconds a request body may take to start arriving (then it must keep up 64 KiB/s)
    body_timeout_s: float = 10.0
    #: pixels on the longest side of the stored normalized image
    max_side_px: int = 512
    #: pixels on the side of the square grid thumbnail
    thumb_px: int = 128
    #: perturbed grid tiles made for every item at import; every slot is served as one of them,
    #: so gold and unlabeled tiles look alike. A tile's pixels (and perceptual hash) repeat
    #: once per this many servings, so a bot memorising gold by a perceptual hash needs this
    #: many entries per gold item (its bytes never repeat: see challenge/tiles.py).
    tile_variants: int = 16
    #: rate limit applied per client on public routes (Flask-Limiter syntax)
    rate_limit_client: str = "120/minute"
    #: rate limit applied per sitekey on challenge issuance
    rate_limit_sitekey: str = "6000/minute"
    #: rate limit per site secret on siteverify (server-to-server, so not per address)
    rate_limit_siteverify: str = "6000/minute"
    #: accessible path: puzzles offered per client (each buys at most one token; far below
    #: the grid's per-client limit, so it is never a bot's cheaper way in)
    rate_limit_alternative: str = "3/hour"
    #: accessible path: puzzles offered per site, whatever the clients (caps a botnet's take)
    rate_limit_alternative_site: str = "120/hour"
    #: accessible path: least proof of work per pass (2**18 hashes, ~2 s in a browser)
    alternative_pow_bits: int = 18
    #: accessible path: seconds a puzzle stays solvable (slow devices need longer than a grid)
    alternative_ttl_s: int = 300
    #: switch rate limiting off (benchmarks of raw throughput only; never in production)
    rate_limit_enabled: bool = True
    #: rate-limit storage URI; empty means the store's Redis, or a SQLite file beside the store
    rate_limit_storage: str = ""
    #: number of trusted reverse proxies in front of the service (X-Forwarded-For hops)
    trusted_proxies: int = 0
    #: allow the published test sitekey and secret
    test_keys: bool = True
    #: SQLite ``synchronous`` pragma: NORMAL survives process crashes, FULL also power loss
    sqlite_synchronous: str = "NORMAL"
    #: the trainer retrains a project after this many new gold or settled labels
    retrain_every_labels: int = 20
    #: ... or after this many seconds, if any label came in meanwhile
    retrain_every_s: int = 300
    #: labeled items the trainer's committee fits on per pass: a class-stratified sample,
    #: drawn afresh each pass (0: all). Fit and scoring grow with it (k-NN: labeled x scored);
    #: accuracy still rose past 20,000 rows on hard data, so it is a budget, not a free lunch
    train_cap: int = TRAIN_CAP
    #: open items one trainer pass scores: a slice that moves on each pass so passes cover
    #: the pool in turn, plus every open item with votes (0: all)
    score_cap: int = SCORE_CAP
    #: seconds between the trainer's checks for due projects
    worker_poll_s: float = 5.0
    #: run the trainer beside ``crowdgate serve`` (default: yes on SQLite, no on Redis)
    embedded_worker: str = "auto"
    #: CPU niceness the trainer adds to itself (0-19; 0 keeps the server's priority). The
    #: trainer is background work: on a host it shares with the server it must not slow requests
    worker_nice: int = 10
    #: seconds sites, projects and gold counts are cached per process (0 disables)
    cache_ttl_s: float = 2.0
    #: log level name
    log_level: str = "INFO"

    @property
    def store_uri(self) -> str:
        """Return the store URI, defaulting to a SQLite file inside ``data_dir``."""
        if self.store:
            return self.store
        return f"sqlite:///{(self.data_dir / 'crowdgate.db').resolve()}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``CROWDGATE_*`` variables, then apply keyword overrides."""
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"CROWDGATE_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"]))
        settings = cls(**values)  # type: ignore[arg-type]
        if not settings.secret_key:
            settings = replace(settings, secret_key=_data_dir_secret(settings.data_dir))
        return settings


def _coerce(name: str, type_name: object, raw: str) -> object:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise ConfigError(
            f"CROWDGATE_{name.upper()}={raw!r} is not a valid {kind}; fix or unset it."
        ) from exc
    return raw


def _data_dir_secret(data_dir: Path) -> str:
    """Load or create a persistent random secret in the data directory (warned as unsafe once)."""
    path = data_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        log.warning(
            "CROWDGATE_SECRET_KEY is not set; generated one in %s. Set it explicitly when "
            "several hosts share a store.",
            path,
        )
        return value
    except FileExistsError:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read or create {path}: {exc}. Set CROWDGATE_SECRET_KEY or fix the "
            "data directory's permissions."
        ) from exc
