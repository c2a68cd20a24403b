"""gunicorn settings for crowdgate in production: ``gunicorn -c deploy/gunicorn.conf.py``.

Every value can be overridden with the environment variable named beside it. Metrics of all
workers are summed through prometheus_client's multiprocess mode: the folder named by
``PROMETHEUS_MULTIPROC_DIR`` is emptied when the server starts and must not be shared by two
servers.
"""

from __future__ import annotations

import os
from pathlib import Path

wsgi_app = "crowdgate:create_app()"

#: GUNICORN_BIND: address and port to listen on.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
#: GUNICORN_WORKERS: processes; each holds its own store connections (default 2 per core).
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1))))
#: GUNICORN_THREADS: threads per worker; requests mostly wait on the store, so threads pay.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
#: GUNICORN_TIMEOUT: seconds a silent worker lives before the master kills and replaces it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
#: seconds a stopping worker may finish its requests (Kubernetes grace period is 30 s).
graceful_timeout = 20
#: seconds an idle keep-alive connection from the reverse proxy stays open.
keepalive = 5
#: heartbeat files on tmpfs, so a slow disk never makes the master kill healthy workers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
#: crowdgate writes its own JSON access line per request (with the request id).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
#: The client address is taken from X-Forwarded-For by crowdgate itself, as many hops as
#: CROWDGATE_TRUSTED_PROXIES says; gunicorn only trusts X-Forwarded-Proto from these peers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True

os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "crowdgate-metrics")
)
# Made now, not in a hook: the JSON log formatter below imports crowdgate, whose metrics open
# their files in this folder as soon as they are defined.
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "crowdgate.web.logging.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
    },
}


def on_starting(server: object) -> None:
    """Empty the metrics folder: counts of a previous run must not be added to this one."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server: object, worker: object) -> None:
    """Drop the live gauges of a worker that exited (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
