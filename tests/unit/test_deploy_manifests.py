"""The deployment files, checked without Docker or a cluster.

- deploy/compose.yaml: the services the issue asks for, started in the right
  order (conditions on depends_on), with health checks, and nginx mounting the
  same deploy/nginx/quire.conf that tests/e2e/test_nginx_cluster.py runs;
- deploy/k8s/: every resource of the kustomize base is valid against
  Kubernetes' own JSON schemas (kubernetes-validate ships them: no network),
  and holds what running Quire needs (probes, one worker, the db-init Job...);
- the Dockerfile: non-root, `quire` as entrypoint, a health check.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX_CONF = DEPLOY / "nginx" / "quire.conf"
#: The Kubernetes version the manifests are validated against (strict: an
#: unknown field is an error, as `kubectl apply --validate=strict` says).
K8S_VERSION = "1.30.0"


# ------------------------------------------------------------------ compose
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_runs_postgres_db_init_two_apis_a_worker_and_nginx(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "db-init", "api-1", "api-2", "worker", "nginx"}
    assert services["db-init"]["command"] == ["db", "init", "--migrate"]
    for name in ("api-1", "api-2", "worker"):
        assert services[name]["environment"]["QUIRE_LOG_FORMAT"] == "json"
    assert services["db-init"]["restart"] == "no"  # one-shot
    assert services["worker"]["command"] == ["worker"]
    for api in ("api-1", "api-2"):
        command = services[api]["command"]
        assert command[0] == "serve"
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert command[command.index("--port") + 1] == "8000"


def test_compose_starts_each_service_after_what_it_needs(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]

    def after(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name]["depends_on"].items()}

    assert after("db-init") == {"postgres": "service_healthy"}
    for name in ("api-1", "api-2", "worker"):
        assert after(name) == {"db-init": "service_completed_successfully"}
    assert after("nginx") == {"api-1": "service_healthy", "api-2": "service_healthy"}
    # Every condition "service_healthy" names a service that has a health check.
    for name, service in services.items():
        for dep, cond in after(name).items() if "depends_on" in service else []:
            if cond == "service_healthy":
                check = services[dep]["healthcheck"]
                assert not check.get("disable") and check["test"], dep


def test_compose_apis_share_one_database_and_the_worker_holds_the_key(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    urls = {
        services[n]["environment"]["QUIRE_DATABASE_URL"]
        for n in ("db-init", "api-1", "api-2", "worker")
    }
    assert len(urls) == 1
    assert "@postgres:5432/" in urls.pop()
    key = services["worker"]["environment"]["QUIRE_SIGNING_KEY_PATH"]
    for name in ("db-init", "worker"):  # db init creates it, the worker signs
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"]}
        assert str(Path(key).parent) in mounts
        assert mounts[str(Path(key).parent)] in compose["volumes"]
    assert "/readyz" in " ".join(services["api-1"]["healthcheck"]["test"])


def test_compose_nginx_mounts_the_file_the_cluster_test_runs(
    compose: dict[str, Any],
) -> None:
    nginx = compose["services"]["nginx"]
    source, target, *_ = nginx["volumes"][0].split(":")
    assert (DEPLOY / source).resolve() == NGINX_CONF
    assert target == "/etc/nginx/conf.d/default.conf"
    listen = re.search(r"^\s*listen (\d+);", NGINX_CONF.read_text(), re.M)
    assert listen is not None
    assert nginx["ports"] == [f"{listen.group(1)}:{listen.group(1)}"]


def test_nginx_config_upgrades_websockets_and_balances_without_stickiness() -> None:
    conf = NGINX_CONF.read_text()
    upstream = re.search(r"upstream quire_api \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server (\S+)", upstream.group(1), re.M)
    assert servers == ["api-1:8000", "api-2:8000"]  # the compose service names
    for sticky in ("ip_hash", "hash ", "sticky", "least_conn"):
        assert sticky not in upstream.group(1)
    live = re.search(r"location ~ \^/v1/packets/\[\^/\]\+/live\$ \{(.*?)\}", conf, re.S)
    assert live is not None
    assert "proxy_set_header Upgrade $http_upgrade;" in live.group(1)
    assert "proxy_set_header Connection $quire_connection;" in live.group(1)
    assert "proxy_http_version 1.1;" in conf


# --------------------------------------------------------------- kubernetes
def k8s_resources() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    on_disk = sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert sorted(listed) == on_disk, "kustomization.yaml lists every manifest"
    return [
        (f"{name}#{i}", doc)
        for name in listed
        for i, doc in enumerate(yaml.safe_load_all((K8S / name).read_text()))
        if doc
    ]


@pytest.mark.parametrize(("where", "resource"), k8s_resources())
def test_every_k8s_resource_is_valid_against_the_kubernetes_schema(
    where: str, resource: dict[str, Any]
) -> None:
    kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    """The check above can fail: a misspelt probe field is an error."""
    (_, deployment), *_ = [r for r in k8s_resources() if r[1]["kind"] == "Deployment"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGett"] = container["readinessProbe"].pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def by_kind() -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["kind"], r["metadata"]["name"]): r for _, r in k8s_resources()}


def pod(resource: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def test_k8s_api_has_probes_resources_a_service_an_ingress_and_a_pdb() -> None:
    kinds = by_kind()
    api = kinds[("Deployment", "quire-api")]
    (container,) = pod(api)["containers"]
    assert container["args"][0] == "serve"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"].keys() == {"cpu", "memory"}
    labels = api["spec"]["template"]["metadata"]["labels"]
    service = kinds[("Service", "quire-api")]
    assert service["spec"]["selector"].items() <= labels.items()
    pdb = kinds[("PodDisruptionBudget", "quire-api")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] >= 1
    ingress = kinds[("Ingress", "quire")]
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "quire-api"
    assert not any("affinity" in k for k in notes)  # no sticky sessions


def test_k8s_worker_is_one_replica_and_db_init_is_a_job() -> None:
    kinds = by_kind()
    worker = kinds[("Deployment", "quire-worker")]
    assert worker["spec"]["replicas"] == 1
    assert worker["spec"]["strategy"]["type"] == "Recreate"
    assert pod(worker)["containers"][0]["args"] == ["worker"]
    job = kinds[("Job", "quire-db-init")]
    assert pod(job)["containers"][0]["args"] == ["db", "init", "--migrate"]
    assert pod(job)["restartPolicy"] == "OnFailure"


def test_k8s_settings_come_from_the_configmap_and_the_secret() -> None:
    kinds = by_kind()
    config = kinds[("ConfigMap", "quire-settings")]["data"]
    secret = kinds[("Secret", "quire-secrets")]["stringData"]
    key_path = Path(config["QUIRE_SIGNING_KEY_PATH"])
    assert config["QUIRE_LOG_FORMAT"] == "json"
    assert "signing-key.pem" in secret and "QUIRE_DATABASE_URL" in secret
    for name in (
        ("Deployment", "quire-api"),
        ("Deployment", "quire-worker"),
        ("Job", "quire-db-init"),
    ):
        spec = pod(kinds[name])
        (container,) = spec["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": "quire-settings"}}]
        (url,) = container["env"]
        assert url["valueFrom"]["secretKeyRef"]["name"] == "quire-secrets"
        assert spec["securityContext"]["runAsNonRoot"] is True
        if name[1] != "quire-api":  # the processes that read the signing key
            mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            assert mount["signing-key"] == str(key_path.parent)


# --------------------------------------------------------------- Dockerfile
def test_dockerfile_runs_quire_as_a_non_root_user_with_a_health_check() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM"))]
    assert re.match(r"FROM python:3\.1[1-9]-slim$", final)
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] != "USER root" and not user[-1].startswith("USER 0")
    assert 'ENTRYPOINT ["quire"]' in lines
    assert any(line.startswith('CMD ["serve"') for line in lines)
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert "pip install ." in (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for package in ("workspace", "projections", "release", "api"):
        assert f"!{package}/" in ignored  # the context holds the package
