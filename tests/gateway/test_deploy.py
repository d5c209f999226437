"""The container image and Kubernetes manifests hold together: probes hit real routes, labels
and selectors match, ports agree, the autoscaler scales the Deployment."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from vigil.gateway.app import create_app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _documents() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "gateway.yaml").read_text()))
    return {d["kind"]: d for d in docs if d}


def _routes(tmp_path: Path) -> set[str]:
    return {getattr(r, "path", "") for r in create_app(tmp_path).routes}


def test_manifests_have_the_required_kinds_and_versions() -> None:
    docs = _documents()
    assert {k: d["apiVersion"] for k, d in docs.items()} == {
        "Deployment": "apps/v1",
        "Service": "v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
        "PersistentVolumeClaim": "v1",
    }


def test_deployment_probes_ports_and_labels(tmp_path: Path) -> None:
    docs = _documents()
    deployment = docs["Deployment"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [container] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    routes = _routes(tmp_path)
    for probe, path in (("readinessProbe", "/v1/ready"), ("livenessProbe", "/v1/health")):
        http = container[probe]["httpGet"]
        assert http["path"] == path and path in routes
        assert http["port"] in ports
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"]["cpu"]  # the autoscaler needs a CPU request
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts == {v["name"] for v in pod["spec"]["volumes"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["VIGIL_HOME"] in {m["mountPath"] for m in container["volumeMounts"]}
    tls = {m["mountPath"] for m in container["volumeMounts"] if m["name"] == "tls"}
    assert all(
        Path(env[k]).parent.as_posix() in tls
        for k in ("VIGIL_GATEWAY_TLS_CERT", "VIGIL_GATEWAY_TLS_KEY")
    )
    service = docs["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert all(p["targetPort"] in ports for p in service["spec"]["ports"])
    claim = next(v for v in pod["spec"]["volumes"] if v["name"] == "store")
    assert (
        claim["persistentVolumeClaim"]["claimName"]
        == docs["PersistentVolumeClaim"]["metadata"]["name"]
    )


def test_autoscaler_targets_the_deployment() -> None:
    docs = _documents()
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    target = hpa["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        docs["Deployment"]["metadata"]["name"],
    )
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_dockerfile_runs_the_gateway_unprivileged(tmp_path: Path) -> None:
    lines = [
        line.strip()
        for line in re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text()).splitlines()
        if line.strip() and not line.startswith("#")
    ]
    instructions = [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in lines]
    kinds = [k for k, _ in instructions]
    assert kinds[0] == "FROM" and "USER" in kinds and "ENTRYPOINT" in kinds
    user = next(v for k, v in instructions if k == "USER")
    assert user not in ("root", "0")
    for _, value in (i for i in instructions if i[0] == "COPY"):
        *sources, _ = shlex.split(value)
        assert all((ROOT / s).exists() for s in sources), sources
    entry = next(v for k, v in instructions if k == "ENTRYPOINT")
    assert entry.startswith('["vigil", "gateway"')
    exposed = int(next(v for k, v in instructions if k == "EXPOSE"))
    container = _documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert exposed == container["ports"][0]["containerPort"] and f'"{exposed}"' in entry
    health = next(v for k, v in instructions if k == "HEALTHCHECK")
    assert "/v1/health" in health and "/v1/health" in _routes(tmp_path)
