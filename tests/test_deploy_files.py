"""deploy/: the compose file and Kubernetes manifests against their published schemas, and the
gunicorn config run for real (JSON logs, request ids, metrics summed over workers)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from crowdgate.challenge import TEST_SECRET, TEST_SITEKEY
from crowdgate.config import Settings
from live import call
from redis_server import free_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
K8S = DEPLOY / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
#: Kubernetes release whose schemas the manifests must pass (strict: no unknown fields).
K8S_VERSION = "1.30.0"
SETTING_KEYS = {f"CROWDGATE_{f.name.upper()}" for f in fields(Settings) if f.name[0] != "_"}
OTHER_KEYS = {"GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_BIND", "GUNICORN_TIMEOUT"}


def compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema, as vendored by the check-jsonschema package."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


def k8s_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, d) for p in MANIFESTS for d in yaml.safe_load_all(p.read_text()) if d]


def by_kind(kind: str, name: str | None = None) -> dict[str, Any]:
    docs = [d for _, d in k8s_docs() if d["kind"] == kind]
    return next(d for d in docs if name is None or d["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_file_is_valid_under_the_compose_specification(compose) -> None:
    jsonschema.Draft202012Validator(compose_schema()).validate(compose)


def test_compose_runs_web_replicas_the_worker_and_redis_with_aof(compose) -> None:
    services = compose["services"]
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["worker"]["command"] == ["crowdgate", "worker"]
    redis_args = services["redis"]["command"]
    assert redis_args[redis_args.index("--appendonly") + 1] == "yes"
    assert redis_args[redis_args.index("--appendfsync") + 1] in ("everysec", "always")
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["CROWDGATE_STORE"].startswith("redis://redis:")
        assert set(env) <= SETTING_KEYS | OTHER_KEYS, f"{name} sets an unknown variable"


@pytest.mark.parametrize("name, doc", k8s_docs(), ids=[f"{n}:{d['kind']}" for n, d in k8s_docs()])
def test_kubernetes_manifest_is_valid_under_kubernetes_schemas(name, doc) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_web_probes_service_and_config_fit_together() -> None:
    web = by_kind("Deployment", "crowdgate-web")
    pod = web["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["spec"]["replicas"] >= 2
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    service = by_kind("Service")
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    worker = by_kind("Deployment", "crowdgate-worker")
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "crowdgate",
        "worker",
    ]
    config, secret = by_kind("ConfigMap"), by_kind("Secret")
    for deployment in (web, worker):
        refs = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        assert {r.get("configMapRef", r.get("secretRef"))["name"] for r in refs} == {
            config["metadata"]["name"],
            secret["metadata"]["name"],
        }
    assert set(config["data"]) | set(secret["stringData"]) <= SETTING_KEYS | OTHER_KEYS
    assert secret["stringData"]["CROWDGATE_STORE"].startswith("redis+cluster://")
    ingress_paths = {
        p["path"] for r in by_kind("Ingress")["spec"]["rules"] for p in r["http"]["paths"]
    }
    assert "/siteverify" in ingress_paths and not ingress_paths & {"/", "/metrics"}


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in MANIFESTS]
    if shutil.which("kubectl"):
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(K8S)], check=True, capture_output=True, text=True
        ).stdout
        assert len([d for d in yaml.safe_load_all(rendered) if d]) == len(k8s_docs())


def test_dockerfile_is_slim_non_root_and_checks_health() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:[\d.]+-slim", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (DEPLOY.parent / source).exists(), f"COPY {source} names a missing path"


@pytest.fixture
def gunicorn(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "3",
        "TMPDIR": str(tmp_path),
        "CROWDGATE_DATA_DIR": str(tmp_path),
        "CROWDGATE_SECRET_KEY": "deploy-test",
        "CROWDGATE_RATE_LIMIT_ENABLED": "false",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while call_status(base + "/healthz") != 200:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    yield base, log
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(20)


def call_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status
    except OSError:
        return 0


def test_gunicorn_config_serves_json_logs_request_ids_and_summed_metrics(gunicorn) -> None:
    base, log = gunicorn
    body = {"sitekey": TEST_SITEKEY, "hostname": "localhost"}
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: call(base, "/api/v1/challenge", body)[0], range(40)))
    assert statuses == [200] * 40
    challenge = call(base, "/api/v1/challenge", body)[1]["challenge"]
    token = call(base, f"/api/v1/challenge/{challenge}/answer", {"selected": [0]})[1]["token"]
    for _ in range(2):
        call(base, "/siteverify", form={"secret": TEST_SECRET, "response": token})
    request = urllib.request.Request(base + "/healthz", headers={"X-Request-ID": "probe-42"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.headers["X-Request-ID"] == "probe-42"
    request = urllib.request.Request(base + "/healthz", headers={"X-Request-ID": "a b\tc"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["X-Request-ID"])
    with urllib.request.urlopen(base + "/metrics", timeout=5) as reply:
        metrics = reply.read().decode()
    assert 'crowdgate_challenges_total{outcome="issued"} 41.0' in metrics
    assert 'crowdgate_challenges_total{outcome="passed"} 1.0' in metrics
    assert 'crowdgate_siteverify_total{result="success"} 1.0' in metrics
    assert 'crowdgate_siteverify_total{result="timeout-or-duplicate"} 1.0' in metrics
    assert "crowdgate_request_seconds_bucket" in metrics
    assert "crowdgate_store_seconds_bucket" in metrics
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [x for x in lines if x["logger"] == "crowdgate.access"]
    assert any(x["request_id"] == "probe-42" for x in access)
    assert len({x["request_id"] for x in access}) == len(access)
    assert any(x["logger"] == "gunicorn.error" for x in lines), "gunicorn's own lines are JSON"
