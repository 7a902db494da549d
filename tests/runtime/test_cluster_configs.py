"""The cluster files in cluster/: Ray cluster-launcher YAMLs (validated against the
JSON schema shipped inside the installed ray package), the KubeRay manifests and the
Dockerfile, and the security properties they must keep: token authentication on,
no Ray port (dashboard / job API, GCS, client) open to the internet, no credentials."""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
import shlex
import tomllib

import jsonschema
import pytest
import yaml
from helpers import REPO

from raydas.config import load_config

CLUSTER = os.path.join(REPO, "cluster")
LAUNCHER = {"aws": "aws.yaml", "gcp": "gcp.yaml", "azure": "azure.yaml"}
RAY_PORTS = {6379, 8265, 10001, 8076, 52365}  # GCS, dashboard/job API, client, object manager, agent
WORLD = {"0.0.0.0/0", "::/0", "*", "Internet", "any"}


def _load(name: str) -> dict:
    with open(os.path.join(CLUSTER, name)) as fh:
        return yaml.safe_load(fh)


def _ray_schema() -> dict:
    return json.loads(importlib.resources.files("ray").joinpath("autoscaler", "ray-schema.json").read_text())


def _ray_start_commands(cfg: dict) -> list[str]:
    return [
        c
        for key in ("head_start_ray_commands", "worker_start_ray_commands")
        for c in cfg.get(key, [])
        if "ray start" in c
    ]


def launcher_problems(cfg: dict) -> list[str]:
    """What in a cluster-launcher config breaks raydas's layout or security rules ([] if nothing)."""
    problems = []
    types = cfg.get("available_node_types", {})
    head = types.get(cfg.get("head_node_type"), {})
    if head.get("resources", {}).get("CPU") != 0:
        problems.append("the head must declare CPU: 0 so that nothing is scheduled on it")
    gpu = [t for n, t in types.items() if t.get("resources", {}).get("GPU", 0) >= 1]
    if not gpu or any(t.get("min_workers", 0) != 0 for t in gpu):
        problems.append("a GPU worker type scaling from zero (min_workers: 0, resources GPU) is needed")
    cpu = [
        t
        for n, t in types.items()
        if n != cfg.get("head_node_type")
        and not t.get("resources", {}).get("GPU")
        and t.get("resources", {}).get("CPU", 1) > 0
    ]
    if not cpu:
        problems.append("a CPU ingest worker type is needed")
    if not cfg.get("docker", {}).get("image"):
        problems.append("nodes run the raydas docker image")
    starts = _ray_start_commands(cfg)
    if not starts or any("RAY_AUTH_MODE=token" not in c for c in starts):
        problems.append("every `ray start` must run with RAY_AUTH_MODE=token")
    if "~/.ray/auth_token" not in cfg.get("file_mounts", {}):
        problems.append("the token file must reach every node through file_mounts")
    for c in starts:
        args = shlex.split(c.split(";")[-1])
        if "--head" in args and "--dashboard-host=127.0.0.1" not in args:
            problems.append("the head's dashboard must listen on loopback (reach it with `ray dashboard`)")
        if any(a.endswith("0.0.0.0") or a.endswith("::") for a in args):
            problems.append(f"`{c}` binds a Ray service to every interface")
    for rule in cfg.get("provider", {}).get("security_group", {}).get("IpPermissions", []):
        sources = {r.get("CidrIp") for r in rule.get("IpRanges", [])} | {
            r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])
        }
        lo, hi = rule.get("FromPort", -1), rule.get("ToPort", -1)
        opens_ray = lo == -1 or any(lo <= p <= hi for p in RAY_PORTS)
        if sources & WORLD or (opens_ray and sources):
            problems.append(f"security group rule {rule} opens the cluster beyond itself")
    return problems


@pytest.mark.parametrize("provider", sorted(LAUNCHER))
def test_launcher_yaml_passes_rays_schema(provider):
    cfg = _load(LAUNCHER[provider])
    jsonschema.validate(cfg, _ray_schema())
    assert cfg["provider"]["type"] == provider
    # and Ray's own check, after merging in the provider's defaults (as `ray up` does)
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(cfg)))


def test_rays_schema_catches_a_typo():
    cfg = copy.deepcopy(_load("aws.yaml"))
    cfg["available_node_types"]["gpu_worker"]["min_worker"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, _ray_schema())


@pytest.mark.parametrize("provider", sorted(LAUNCHER))
def test_launcher_layout_and_security(provider):
    cfg = _load(LAUNCHER[provider])
    assert launcher_problems(cfg) == []
    types = cfg["available_node_types"]
    assert types["gpu_worker"]["resources"]["GPU"] == 1 and types["gpu_worker"]["min_workers"] == 0
    assert cfg["docker"]["image"] == _load("aws.yaml")["docker"]["image"]  # one image everywhere
    text = open(os.path.join(CLUSTER, LAUNCHER[provider])).read()
    assert not re.search(r"(?i)(aws_secret|secret_access_key|password|sas_token|AccountKey)\s*[:=]", text)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["provider"].__setitem__(
            "security_group",
            {
                "GroupName": "x",
                "IpPermissions": [
                    {"FromPort": 8265, "ToPort": 8265, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            },
        ),
        lambda c: c["provider"].__setitem__(
            "security_group",
            {
                "GroupName": "x",
                "IpPermissions": [
                    {"FromPort": 6379, "ToPort": 6379, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}
                ],
            },
        ),
        lambda c: c.__setitem__(
            "head_start_ray_commands", ["ray start --head --port=6379 --num-cpus=0 --dashboard-host=0.0.0.0"]
        ),
        lambda c: c.__setitem__("worker_start_ray_commands", ["ray start --address=$RAY_HEAD_IP:6379"]),
        lambda c: c["file_mounts"].clear(),
        lambda c: c["available_node_types"]["head"].__setitem__("resources", {}),
        lambda c: c["available_node_types"]["gpu_worker"].__setitem__("min_workers", 1),
    ],
)
def test_the_security_checks_catch_an_open_cluster(mutate):
    cfg = copy.deepcopy(_load("aws.yaml"))
    mutate(cfg)
    assert launcher_problems(cfg)


# --- KubeRay ----------------------------------------------------------------------------------
def _docs(name: str) -> list[dict]:
    with open(os.path.join(CLUSTER, "kuberay", name)) as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def _cluster_spec(doc: dict) -> dict:
    return doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]


def _pod_templates(spec: dict) -> list[tuple[str, dict]]:
    groups = [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec["workerGroupSpecs"]]
    return [(name, g["template"]["spec"]) for name, g in groups]


@pytest.mark.parametrize("name,kind", [("raycluster.yaml", "RayCluster"), ("rayjob.yaml", "RayJob")])
def test_kuberay_manifest(name, kind):
    docs = _docs(name)
    ray_docs = [d for d in docs if d["kind"] == kind]
    assert len(ray_docs) == 1 and ray_docs[0]["apiVersion"] == "ray.io/v1"
    assert not {d["kind"] for d in docs} & {"Ingress", "Secret"}  # nothing exposed, no secrets in files
    spec = _cluster_spec(ray_docs[0])
    assert spec["authOptions"] == {"mode": "token"}
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"
    images = set()
    for group, pod in _pod_templates(spec):
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod["containers"]:
            images.add(c["image"])
            shm = [m for m in c["volumeMounts"] if m["mountPath"] == "/dev/shm"]
            assert len(shm) == 1, group
            assert volumes[shm[0]["name"]]["emptyDir"]["medium"] == "Memory", group
            for env in c.get("env", []):
                assert "value" not in env or not re.search(r"(?i)key|secret|token|password", env["name"]), env
    gpu = [
        g
        for g in spec["workerGroupSpecs"]
        if any("nvidia.com/gpu" in c["resources"]["limits"] for c in g["template"]["spec"]["containers"])
    ]
    assert gpu and all(g["minReplicas"] == 0 for g in gpu)
    cpu = [g for g in spec["workerGroupSpecs"] if g not in gpu]
    assert cpu  # a CPU ingest group
    assert images == {_load("aws.yaml")["docker"]["image"]}


def test_rayjob_runs_raydas_on_a_valid_config():
    docs = _docs("rayjob.yaml")
    job = next(d for d in docs if d["kind"] == "RayJob")
    assert job["spec"]["entrypoint"].startswith("python -m raydas run ")
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    path = job["spec"]["entrypoint"].split()[4]
    mount = next(
        m
        for c in job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]
        for m in c["volumeMounts"]
        if path.startswith(m["mountPath"])
    )
    assert os.path.basename(path) in config_map["data"] and mount["readOnly"] is True
    cfg = load_config(json.loads(config_map["data"][os.path.basename(path)]))  # raydas accepts it
    assert cfg.output.startswith("s3://") and cfg.ray.device == "gpu"
    packaged = cfg.processing.replace("/home/ray/raydas/", "")
    assert os.path.exists(os.path.join(REPO, packaged))  # the graph the image ships


# --- the image ---------------------------------------------------------------------------------
def test_dockerfile_builds_the_image_the_configs_name():
    import ray

    text = open(os.path.join(CLUSTER, "Dockerfile")).read()
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert base.startswith(f"rayproject/ray:{ray.__version__}-py311")  # same Ray as the submitting side
    assert re.search(r"pip install[^\n]*\"\.\[gpu,s3\]\"", text)
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        extras = tomllib.load(fh)["project"]["optional-dependencies"]
    assert {"gpu", "s3"} <= set(extras)
    for src in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+$", text, re.M):
        for item in src.split():
            assert os.path.exists(os.path.join(REPO, item)), item
    assert not re.search(r"(?im)^\s*(ENV|ARG)\s+\S*(SECRET|TOKEN|PASSWORD|ACCESS_KEY)", text)
    ignored = open(os.path.join(REPO, ".dockerignore")).read().split()
    assert ".venv/" in ignored and "**/auth_token" in ignored
