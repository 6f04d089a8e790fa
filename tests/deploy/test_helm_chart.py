"""The Helm chart rendered and validated: `helm lint --strict`, `helm template` with the default
values and with ci/all-options.yaml, every manifest checked by kubeconform against the Kubernetes
schemas offline (generated from the kubernetes-validate package), and what the worker needs from
its pods: probes on /healthz, a web host other workers can reach, time to leave the group.

helm and kubeconform are built from their Go modules by deploy/tools/go-tools.sh (once, into
.cache/tools/bin); without Go these tests skip and say so."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import mode
import pytest
from ruamel.yaml import YAML

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CHURNWATCH_CACHE_DIR", ROOT / ".cache"))
CHART = ROOT / "deploy" / "helm" / "churnwatch"
ALL_OPTIONS = CHART / "ci" / "all-options.yaml"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # the oldest and newest we validate against
RELEASE, NAMESPACE = "cw", "churn"


@pytest.fixture(scope="module")
def tools() -> Path:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed: helm and kubeconform cannot be built, the chart is not rendered")
    proc = subprocess.run(
        [str(ROOT / "deploy" / "tools" / "go-tools.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def schemas() -> Path:
    spec = importlib.util.spec_from_file_location("k8s_schemas", ROOT / "deploy" / "tools" / "k8s_schemas.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = CACHE / "k8s-schemas"
    for version in KUBERNETES_VERSIONS:
        module.generate(version, out)
    return out


def helm(tools: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELM_CACHE_HOME": str(CACHE / "helm"), "HELM_CONFIG_HOME": str(CACHE / "helm")}
    return subprocess.run(
        [str(tools / "helm"), *args], capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )


def render(tools: Path, values: Path | None) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    proc = helm(tools, *args, *(["-f", str(values)] if values else []))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module", params=["default", "all-options"])
def rendered(request: pytest.FixtureRequest, tools: Path) -> tuple[str, str, list[dict[str, Any]]]:
    text = render(tools, ALL_OPTIONS if request.param == "all-options" else None)
    docs = [d for d in YAML(typ="safe").load_all(text) if d]
    return request.param, text, docs


def kind(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == name]
    assert len(found) == 1, f"one {name} expected"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = kind(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c["env"]}


def kubeconform(tools: Path, schemas: Path, manifest: Path, version: str) -> subprocess.CompletedProcess[str]:
    location = str(schemas / "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}")
    return subprocess.run(
        [
            str(tools / "kubeconform"),
            "-strict",
            "-summary",
            "-kubernetes-version",
            version,
            "-schema-location",
            location + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("values", [None, ALL_OPTIONS], ids=["default", "all-options"])
def test_helm_lint_strict(tools: Path, values: Path | None) -> None:
    proc = helm(tools, "lint", "--strict", str(CHART), *(["-f", str(values)] if values else []))
    assert proc.returncode == 0 and "0 chart(s) failed" in proc.stdout, proc.stdout + proc.stderr


def test_lint_refuses_values_outside_the_chart_schema(tools: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text("kafka: {bootstrap: kafka:9092, securityProtocol: SASL_SSLX}\nreplicaz: 3\n")
    proc = helm(tools, "lint", "--strict", str(CHART), "-f", str(bad))
    assert proc.returncode != 0
    assert "securityProtocol" in proc.stdout + proc.stderr and "replicaz" in proc.stdout + proc.stderr


def test_every_manifest_is_valid_kubernetes(
    rendered: tuple[str, str, list[dict[str, Any]]], tools: Path, schemas: Path, tmp_path: Path
) -> None:
    name, text, docs = rendered
    kinds = {"StatefulSet", "Service"} | ({"Deployment"} if name == "all-options" else set())  # + notify
    assert {d["kind"] for d in docs} == kinds
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(text)
    for version in KUBERNETES_VERSIONS:
        proc = kubeconform(tools, schemas, manifest, version)
        summary = f"{len(docs)} resources found in 1 file - Valid: {len(docs)}, Invalid: 0, Errors: 0, Skipped: 0"
        assert proc.returncode == 0 and summary in proc.stdout, f"Kubernetes {version}:\n{proc.stdout}{proc.stderr}"


def test_the_validation_catches_a_wrong_field(tools: Path, schemas: Path, tmp_path: Path) -> None:
    docs = [d for d in YAML(typ="safe").load_all(render(tools, None)) if d]
    broken = copy.deepcopy(docs)
    probe = container(broken)["readinessProbe"]
    sts = kind(broken, "StatefulSet")
    sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {**probe, "periodSecond": 5}
    manifest = tmp_path / "broken.yaml"
    with manifest.open("w") as fh:
        YAML(typ="safe").dump_all(broken, fh)
    proc = kubeconform(tools, schemas, manifest, KUBERNETES_VERSIONS[-1])
    assert proc.returncode != 0 and "periodSecond" in proc.stdout


def test_probes_point_at_healthz_on_the_web_port(rendered: tuple[str, str, list[dict[str, Any]]]) -> None:
    _, _, docs = rendered
    c = container(docs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert env_of(c)["CHURNWATCH_WEB_PORT"]["value"] == str(ports["http"])
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["port"] in ("http", ports["http"]), probe
    service = kind(docs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] in ("http", ports["http"])


def test_workers_reach_each_other_through_the_headless_service(
    rendered: tuple[str, str, list[dict[str, Any]]],
) -> None:
    _, _, docs = rendered
    sts, service = kind(docs, "StatefulSet"), kind(docs, "Service")
    spec = service["spec"]
    assert spec["clusterIP"] == "None" and spec.get("publishNotReadyAddresses") is True
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"].items() <= labels.items()
    env = container(docs)["env"]
    names = [e["name"] for e in env]
    host = next(e for e in env if e["name"] == "CHURNWATCH_WEB_HOST")["value"]
    # the pod's DNS name in the headless Service: <pod>.<service>.<namespace>.svc
    assert host == f"$(POD_NAME).{service['metadata']['name']}.$(POD_NAMESPACE).svc"
    # Kubernetes expands $(VAR) only from variables defined before it
    for var, field in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        assert names.index(var) < names.index("CHURNWATCH_WEB_HOST")
        assert env[names.index(var)]["valueFrom"]["fieldRef"]["fieldPath"] == field


def test_a_terminating_pod_has_time_to_leave_its_group(rendered: tuple[str, str, list[dict[str, Any]]]) -> None:
    _, _, docs = rendered
    pod = kind(docs, "StatefulSet")["spec"]["template"]["spec"]
    grace = pod["terminationGracePeriodSeconds"]
    session = float(env_of(container(docs))["CHURNWATCH_SESSION_TIMEOUT_SECONDS"]["value"])
    # on SIGTERM Faust stops its services (each may take up to mode's shutdown_timeout), flushes the
    # state, commits and leaves the group: SIGKILL must not come first
    assert grace > mode.Service.shutdown_timeout
    assert grace > session


def test_secrets_come_from_secrets_and_every_option_is_wired(rendered: tuple[str, str, list[dict[str, Any]]]) -> None:
    name, _, docs = rendered
    c = container(docs)
    env = env_of(c)
    for var in ("CHURNWATCH_KAFKA_SASL_PASSWORD", "CHURNWATCH_REDIS_URL", "CHURNWATCH_API_TOKEN"):
        assert "value" not in env.get(var, {}), f"{var} must come from a Secret"
    pod = kind(docs, "StatefulSet")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["data"] == env["CHURNWATCH_DATA_DIR"]["value"] and env["CHURNWATCH_STORE"]["value"] == "rocksdb://"
    if name == "default":
        assert not {"CHURNWATCH_KAFKA_SASL_USERNAME", "CHURNWATCH_API_TOKEN_FILE", "CHURNWATCH_RULES"} & set(env)
        return
    assert env["CHURNWATCH_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    for var, key in (("CHURNWATCH_KAFKA_SASL_USERNAME", "username"), ("CHURNWATCH_KAFKA_SASL_PASSWORD", "password")):
        assert env[var]["valueFrom"]["secretKeyRef"] == {"name": "churnwatch-kafka", "key": key}
    assert env["CHURNWATCH_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "churnwatch-redis", "key": "url"}
    for var, volume, source in (
        ("CHURNWATCH_API_TOKEN_FILE", "api-token", "churnwatch-api-token"),
        ("CHURNWATCH_KAFKA_SSL_CAFILE", "ca", "churnwatch-ca"),
        ("CHURNWATCH_REDIS_SSL_CAFILE", "ca", "churnwatch-ca"),
    ):
        path = Path(env[var]["value"])
        assert str(path.parent) == mounts[volume] and volumes[volume]["secret"]["secretName"] == source
        assert path.name in {i["path"] for i in volumes[volume]["secret"]["items"]}
    rules = Path(env["CHURNWATCH_RULES"]["value"])
    assert str(rules.parent) == mounts["rules"] and volumes["rules"]["configMap"]["name"] == "churnwatch-rules"
    claim = kind(docs, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast-ssd" and claim["resources"]["requests"]["storage"] == "50Gi"


def test_notify_runs_as_its_own_deployment_when_enabled(rendered: tuple[str, str, list[dict[str, Any]]]) -> None:
    name, _, docs = rendered
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    if name == "default":
        assert deployments == []  # off unless notify.enabled
        return
    (notify,) = deployments
    assert notify["spec"]["replicas"] == 2
    pod = notify["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"][:2] == ["notify", "--routes"]
    routes = Path(c["args"][2])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert str(routes.parent) == mounts["routes"]
    assert volumes["routes"]["secret"]["secretName"] == "churnwatch-notify-routes"
    assert routes.name in {i["path"] for i in volumes["routes"]["secret"]["items"]}
    assert c["envFrom"] == [{"secretRef": {"name": "churnwatch-notify-env"}}]  # the routing file's ${VAR}s
    env = env_of(c)
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    assert env["CHURNWATCH_NOTIFY_PORT"]["value"] == str(port) == "7071"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "value" not in env["CHURNWATCH_KAFKA_SASL_PASSWORD"]
    assert env["CHURNWATCH_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "churnwatch-kafka"
    assert str(Path(env["CHURNWATCH_KAFKA_SSL_CAFILE"]["value"]).parent) == mounts["ca"]
