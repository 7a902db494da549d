"""The cluster files in cluster/: Ray cluster-launcher YAMLs (validated against the
JSON schema shipped inside the installed ray package), the KubeRay manifests, the
Dockerfile and its lock file, and the security properties they must keep: token
authentication on, no Ray port (dashboard / job API, GCS, client) open to the
internet, SSH not open to the internet, least-privilege identities for every node,
images pinned by digest and Python packages by hash, pods that are not root, hold no
capabilities and run under the default seccomp profile, and a NetworkPolicy that
admits only the cluster's own Ray traffic. Every check has a test that breaks a
config and sees the check catch it."""

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
DIGEST = re.compile(r"^[\w.\-/:]+@sha256:[0-9a-f]{64}$")  # an image reference pinned by digest
#: the only OAuth scopes a GCP worker may have: Cloud Storage objects
GCP_STORAGE_SCOPES = {
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/devstorage.read_write",
}
#: identities the launchers give by default (broad: EC2/S3 full access, compute admin, Contributor)
LAUNCHER_DEFAULT_IDENTITIES = ("ray-autoscaler", "-compute@developer.gserviceaccount.com")


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
    if not DIGEST.match(str(cfg.get("docker", {}).get("image", ""))):
        problems.append("the docker image must be pinned by digest (name@sha256:...)")
    problems += _identity_problems(cfg) + _ssh_problems(cfg)
    for rule in cfg.get("provider", {}).get("security_group", {}).get("IpPermissions", []):
        sources = {r.get("CidrIp") for r in rule.get("IpRanges", [])} | {
            r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])
        }
        lo, hi = rule.get("FromPort", -1), rule.get("ToPort", -1)
        opens_ray = lo == -1 or any(lo <= p <= hi for p in RAY_PORTS)
        if sources & WORLD or (opens_ray and sources):
            problems.append(f"security group rule {rule} opens the cluster beyond itself")
    return problems


def _worker_types(cfg: dict) -> dict:
    return {n: t for n, t in cfg.get("available_node_types", {}).items() if n != cfg.get("head_node_type")}


def _identity_problems(cfg: dict) -> list[str]:
    """Least privilege: every node type has an identity of the operator's, the workers' limited to
    the data (AWS: an instance profile other than the head's; GCP: a service account with storage
    scopes only; Azure: the operator's managed identity, which the launcher gives every node)."""
    provider = cfg.get("provider", {}).get("type")
    types = cfg.get("available_node_types", {})
    head = types.get(cfg.get("head_node_type"), {}).get("node_config", {})
    problems = []
    if provider == "aws":
        head_profile = json.dumps(head.get("IamInstanceProfile"))
        if "IamInstanceProfile" not in head:
            problems.append("the head needs an instance profile of its own (else: ray-autoscaler-v1, EC2+S3 full)")
        for name, t in _worker_types(cfg).items():
            profile = t.get("node_config", {}).get("IamInstanceProfile")
            if not profile or json.dumps(profile) == head_profile:
                problems.append(f"{name}: workers need their own instance profile, limited to the data buckets")
    elif provider == "gcp":
        for name, t in types.items():
            accounts = t.get("node_config", {}).get("serviceAccounts") or [{}]
            email = accounts[0].get("email", "")
            if not email or any(d in email for d in LAUNCHER_DEFAULT_IDENTITIES):
                problems.append(f"{name}: needs a service account of its own (not the launcher's or compute's)")
            if name != cfg.get("head_node_type") and not set(accounts[0].get("scopes", ["?"])) <= GCP_STORAGE_SCOPES:
                problems.append(f"{name}: a worker's service account has storage-object scopes only")
    elif provider == "azure":
        settings = cfg.get("provider", {})
        if not (settings.get("msi_name") and settings.get("msi_resource_group")):
            problems.append("the nodes need the operator's managed identity (msi_name, msi_resource_group)")
    return problems


def _ssh_problems(cfg: dict) -> list[str]:
    """SSH is not open to the internet: AWS node types name the operator's security group (the
    launcher's own lets SSH in from 0.0.0.0/0); GCP nodes are on a network other than `default`
    (whose rules let SSH and RDP in from anywhere); Azure nodes have no public IP (the launcher's
    network security group lets SSH in from any source)."""
    provider = cfg.get("provider", {})
    types = cfg.get("available_node_types", {})
    problems = []
    if provider.get("type") == "aws":
        for name, t in types.items():
            if not t.get("node_config", {}).get("SecurityGroupIds"):
                problems.append(f"{name}: name the security group that allows SSH from your CIDR only")
    elif provider.get("type") == "gcp":
        for name, t in types.items():
            interfaces = t.get("node_config", {}).get("networkInterfaces") or [{}]
            where = f"{interfaces[0].get('network', '')} {interfaces[0].get('subnetwork', '')}"
            if not where.strip() or re.search(r"(^|/)default\b", where):
                problems.append(f"{name}: must be on the raydas network, not `default`")
    elif provider.get("type") == "azure":
        if not provider.get("use_internal_ips") or provider.get("use_external_head_ip"):
            problems.append("Azure nodes must have no public IP (use_internal_ips: true)")
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


def _drop(key: str, *node_types: str):
    def mutate(c):
        for n in node_types or list(c["available_node_types"]):
            c["available_node_types"][n]["node_config"].pop(key, None)

    return mutate


OPEN_CLUSTERS = [
    (
        "aws",
        lambda c: c["provider"].__setitem__(
            "security_group",
            {
                "GroupName": "x",
                "IpPermissions": [
                    {"FromPort": 8265, "ToPort": 8265, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            },
        ),
    ),
    (
        "aws",
        lambda c: c["provider"].__setitem__(
            "security_group",
            {
                "GroupName": "x",
                "IpPermissions": [
                    {"FromPort": 6379, "ToPort": 6379, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}
                ],
            },
        ),
    ),
    (
        "aws",
        lambda c: c.__setitem__(
            "head_start_ray_commands", ["ray start --head --port=6379 --num-cpus=0 --dashboard-host=0.0.0.0"]
        ),
    ),
    ("aws", lambda c: c.__setitem__("worker_start_ray_commands", ["ray start --address=$RAY_HEAD_IP:6379"])),
    ("aws", lambda c: c["file_mounts"].clear()),
    ("aws", lambda c: c["available_node_types"]["head"].__setitem__("resources", {})),
    ("aws", lambda c: c["available_node_types"]["gpu_worker"].__setitem__("min_workers", 1)),
    # images by tag only
    ("aws", lambda c: c["docker"].__setitem__("image", "ghcr.io/example/raydas:0.1.0-gpu")),
    ("gcp", lambda c: c["docker"].__setitem__("image", "ghcr.io/example/raydas@sha256:abc")),
    # identities: the launcher's broad defaults, or the head's for workers
    ("aws", _drop("IamInstanceProfile", "gpu_worker")),
    ("aws", _drop("IamInstanceProfile", "head")),
    (
        "aws",
        lambda c: c["available_node_types"]["cpu_ingest"]["node_config"].__setitem__(
            "IamInstanceProfile", c["available_node_types"]["head"]["node_config"]["IamInstanceProfile"]
        ),
    ),
    ("gcp", _drop("serviceAccounts", "cpu_ingest")),
    (
        "gcp",
        lambda c: c["available_node_types"]["gpu_worker"]["node_config"]["serviceAccounts"][0].__setitem__(
            "scopes", ["https://www.googleapis.com/auth/cloud-platform"]
        ),
    ),
    (
        "gcp",
        lambda c: c["available_node_types"]["head"]["node_config"]["serviceAccounts"][0].__setitem__(
            "email", "ray-autoscaler-sa-v1@my-project.iam.gserviceaccount.com"
        ),
    ),
    ("azure", lambda c: c["provider"].pop("msi_name")),
    # SSH open to the internet
    ("aws", _drop("SecurityGroupIds", "cpu_ingest")),
    ("gcp", _drop("networkInterfaces", "head")),
    (
        "gcp",
        lambda c: c["available_node_types"]["gpu_worker"]["node_config"]["networkInterfaces"][0].__setitem__(
            "subnetwork", "projects/my-project/regions/us-central1/subnetworks/default"
        ),
    ),
    ("azure", lambda c: c["provider"].__setitem__("use_internal_ips", False)),
    ("azure", lambda c: c["provider"].__setitem__("use_external_head_ip", True)),
]


@pytest.mark.parametrize("provider,mutate", OPEN_CLUSTERS)
def test_the_security_checks_catch_an_open_cluster(provider, mutate):
    cfg = copy.deepcopy(_load(LAUNCHER[provider]))
    assert launcher_problems(cfg) == []
    mutate(cfg)
    assert launcher_problems(cfg)


# --- the IAM policies the AWS instance profiles carry ------------------------------------------
def _policy(name: str) -> list[dict]:
    with open(os.path.join(CLUSTER, "iam", name)) as fh:
        return json.load(fh)["Statement"]


def _listed(value) -> list[str]:
    return value if isinstance(value, list) else [value]


WORKER_ROLE = "arn:aws:iam::123456789012:role/raydas-worker"


def policy_problems(statements: list[dict], role: str) -> list[str]:
    """What in an instance profile's policy is more than raydas's nodes need: S3 only on the
    data buckets, and for the head alone the EC2 calls of the autoscaler, stopping only this
    cluster's instances, and passing only the workers' role."""
    problems = []
    for st in statements:
        actions, resources = _listed(st.get("Action", [])), _listed(st.get("Resource", []))
        if st.get("Effect") != "Allow" or "NotAction" in st or "NotResource" in st:
            problems.append(f"{st.get('Sid')}: allow statements with Action and Resource only")
        for action in actions:
            service, _, verb = action.partition(":")
            if "*" in verb:
                problems.append(f"{st.get('Sid')}: {action} is a wildcard action")
            if service == "s3" and not all(r.startswith("arn:aws:s3:::my-das-") for r in resources):
                problems.append(f"{st.get('Sid')}: S3 only on the data buckets, not {resources}")
            if service != "s3" and role == "worker":
                problems.append(f"{st.get('Sid')}: a worker needs S3 only, not {action}")
            if service == "ec2" and verb in ("TerminateInstances", "StopInstances", "StartInstances"):
                if "ec2:ResourceTag/ray-cluster-name" not in json.dumps(st.get("Condition", {})):
                    problems.append(f"{st.get('Sid')}: {action} only on this cluster's instances")
            if service == "iam" and (verb != "PassRole" or resources != [WORKER_ROLE]):
                problems.append(f"{st.get('Sid')}: iam:PassRole of the workers' role only")
            if service not in ("s3", "ec2", "iam"):
                problems.append(f"{st.get('Sid')}: {action} is not needed")
    return problems


@pytest.mark.parametrize("role", ["head", "worker"])
def test_the_aws_instance_profiles_are_least_privilege(role):
    statements = _policy(f"aws-{role}-policy.json")
    assert policy_problems(statements, role) == []
    s3 = {r for st in statements for r in _listed(st["Resource"]) if r.startswith("arn:aws:s3")}
    assert s3 == {
        "arn:aws:s3:::my-das-data",
        "arn:aws:s3:::my-das-data/*",
        "arn:aws:s3:::my-das-results",
        "arn:aws:s3:::my-das-results/*",
    }
    writes = {r for st in statements if "s3:PutObject" in st["Action"] for r in _listed(st["Resource"])}
    assert writes == {"arn:aws:s3:::my-das-results/*"}  # the recordings are only read
    types = _load("aws.yaml")["available_node_types"]
    profiles = {n: t["node_config"]["IamInstanceProfile"]["Arn"] for n, t in types.items()}
    assert {p.rsplit("/", 1)[-1] for n, p in profiles.items() if (n == "head") == (role == "head")} == {
        f"raydas-{role}"
    }


@pytest.mark.parametrize(
    "role,statement",
    [
        ("worker", {"Sid": "x", "Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::my-das-data/*"]}),
        ("worker", {"Sid": "x", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}),
        ("worker", {"Sid": "x", "Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"}),
        ("head", {"Sid": "x", "Effect": "Allow", "Action": ["ec2:TerminateInstances"], "Resource": "*"}),
        ("head", {"Sid": "x", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"}),
        ("head", {"Sid": "x", "Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"}),
        ("head", {"Sid": "x", "Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": "*"}),
    ],
)
def test_the_policy_check_catches_broad_grants(role, statement):
    assert policy_problems(_policy(f"aws-{role}-policy.json") + [statement], role)


# --- KubeRay ----------------------------------------------------------------------------------
def _docs(name: str) -> list[dict]:
    with open(os.path.join(CLUSTER, "kuberay", name)) as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def _cluster_spec(doc: dict) -> dict:
    return doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]


def _pod_templates(spec: dict) -> list[tuple[str, dict]]:
    groups = [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec["workerGroupSpecs"]]
    return [(name, g["template"]["spec"]) for name, g in groups]


def _all_pod_templates(doc: dict) -> list[tuple[str, dict]]:
    """Every pod template of a RayCluster or RayJob (its submitter's included), with its labels."""
    spec = _cluster_spec(doc)
    groups = [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec["workerGroupSpecs"]]
    templates = [(name, g["template"]) for name, g in groups]
    if doc["kind"] == "RayJob":
        templates.append(("submitter", doc["spec"].get("submitterPodTemplate", {"spec": {"containers": []}})))
    return templates


def _locked_down(container_sc: dict, pod_sc: dict) -> list[str]:
    """What a container's effective security context lacks (the container's settings win)."""

    def setting(key):
        return container_sc.get(key, pod_sc.get(key))

    problems = []
    if setting("runAsNonRoot") is not True or setting("runAsUser") in (None, 0):
        problems.append("runs as root (runAsNonRoot: true and a non-zero runAsUser)")
    if container_sc.get("allowPrivilegeEscalation") is not False or container_sc.get("privileged"):
        problems.append("may gain privileges (allowPrivilegeEscalation: false)")
    if "ALL" not in container_sc.get("capabilities", {}).get("drop", []) or container_sc.get("capabilities", {}).get(
        "add"
    ):
        problems.append("keeps Linux capabilities (capabilities: drop: [ALL])")
    if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("has no RuntimeDefault seccomp profile")
    return problems


def kuberay_problems(docs: list[dict]) -> list[str]:
    """What in a KubeRay manifest breaks raydas's rules: images pinned by digest; pods that are
    not root, hold no capabilities and run under RuntimeDefault seccomp (the autoscaler sidecar
    too); one NetworkPolicy selecting every pod and admitting only the cluster's own pods, plus
    the KubeRay operator on the dashboard / job API port."""
    problems = []
    (ray_doc,) = [d for d in docs if d["kind"] in ("RayCluster", "RayJob")]
    spec = _cluster_spec(ray_doc)
    labels = []
    for group, template in _all_pod_templates(ray_doc):
        pod = template["spec"]
        labels.append(template.get("metadata", {}).get("labels", {}))
        if not pod["containers"]:
            problems.append(f"{group}: no pod template")
        for c in pod["containers"]:
            if not DIGEST.match(c.get("image", "")):
                problems.append(f"{group}/{c['name']}: image not pinned by digest")
            problems += [
                f"{group}/{c['name']}: {p}"
                for p in _locked_down(c.get("securityContext", {}), pod.get("securityContext", {}))
            ]
    if spec.get("enableInTreeAutoscaling"):
        head_pod = spec["headGroupSpec"]["template"]["spec"].get("securityContext", {})
        sidecar = spec.get("autoscalerOptions", {}).get("securityContext", {})
        problems += [f"autoscaler sidecar: {p}" for p in _locked_down(sidecar, head_pod)]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    if len(policies) != 1:
        return problems + ["one NetworkPolicy must guard the cluster's pods"]
    policy = policies[0]["spec"]
    selector = policy.get("podSelector", {}).get("matchLabels", {})
    if not selector or any(not (selector.items() <= lab.items()) for lab in labels):
        problems.append("the NetworkPolicy must select every pod of the cluster")
    if "Ingress" not in policy.get("policyTypes", []):
        problems.append("the NetworkPolicy must restrict ingress")
    for rule in policy.get("ingress", []):
        peers = rule.get("from", [])
        if not peers:
            problems.append("an ingress rule without `from` admits everyone")
        for peer in peers:
            own = peer.get("podSelector", {}).get("matchLabels") == selector and "namespaceSelector" not in peer
            operator = peer.get("podSelector", {}).get("matchLabels") == {
                "app.kubernetes.io/name": "kuberay-operator"
            } and [p.get("port") for p in rule.get("ports", [])] == [8265]
            if not (own or operator):
                problems.append(f"ingress from {peer} (ports {rule.get('ports')}) is not the cluster's own traffic")
    return problems


@pytest.mark.parametrize("name,kind", [("raycluster.yaml", "RayCluster"), ("rayjob.yaml", "RayJob")])
def test_kuberay_manifest(name, kind):
    docs = _docs(name)
    ray_docs = [d for d in docs if d["kind"] == kind]
    assert len(ray_docs) == 1 and ray_docs[0]["apiVersion"] == "ray.io/v1"
    assert not {d["kind"] for d in docs} & {"Ingress", "Secret"}  # nothing exposed, no secrets in files
    assert kuberay_problems(docs) == []
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
    assert images == {_load("aws.yaml")["docker"]["image"]}  # one image everywhere, pinned


def _set(path: str, value):
    """A mutation setting ``path`` (dotted, list indexes as numbers) of the Ray document."""

    def mutate(docs):
        node = next(d for d in docs if d["kind"] in ("RayCluster", "RayJob"))
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            node.pop(last)
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


def _add_peer(peer: dict, ports=None):
    def mutate(docs):
        policy = next(d for d in docs if d["kind"] == "NetworkPolicy")
        policy["spec"]["ingress"].append({"from": [peer], **({"ports": ports} if ports else {})})

    return mutate


HEAD = "spec.headGroupSpec.template.spec"
WORKER = "spec.workerGroupSpecs.1.template.spec"
OPEN_PODS = [
    _set(f"{HEAD}.securityContext.runAsNonRoot", None),
    _set(f"{HEAD}.securityContext.runAsUser", 0),
    _set(f"{WORKER}.securityContext.seccompProfile", {"type": "Unconfined"}),
    _set(f"{WORKER}.containers.0.securityContext", {"allowPrivilegeEscalation": False}),  # capabilities kept
    _set(f"{WORKER}.containers.0.securityContext.privileged", True),
    _set(f"{HEAD}.containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]}),
    _set(f"{HEAD}.containers.0.image", "ghcr.io/example/raydas:0.1.0-gpu"),
    _set("spec.autoscalerOptions.securityContext", None),
    _set("spec.workerGroupSpecs.0.template.metadata", None),  # a pod the NetworkPolicy does not select
    _add_peer({"ipBlock": {"cidr": "0.0.0.0/0"}}),
    _add_peer({"namespaceSelector": {}}),
    _add_peer(
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}}}
    ),
    lambda docs: docs.remove(next(d for d in docs if d["kind"] == "NetworkPolicy")),
    lambda docs: next(d for d in docs if d["kind"] == "NetworkPolicy")["spec"].__setitem__("policyTypes", ["Egress"]),
]


@pytest.mark.parametrize("mutate", OPEN_PODS)
def test_the_kuberay_checks_catch_an_open_cluster(mutate):
    docs = _docs("raycluster.yaml")
    assert kuberay_problems(docs) == []
    mutate(docs)
    assert kuberay_problems(docs)


def test_the_kuberay_checks_catch_an_open_submitter():
    docs = _docs("rayjob.yaml")
    job = next(d for d in docs if d["kind"] == "RayJob")
    job["spec"]["submitterPodTemplate"]["spec"]["containers"][0]["securityContext"] = {}
    assert kuberay_problems(docs)
    job["spec"].pop("submitterPodTemplate")  # KubeRay's default submitter pod: not locked down
    assert kuberay_problems(docs)


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
def _lock() -> dict[str, tuple[str, list[str]]]:
    """cluster/requirements.lock: name -> (pinned version, its sha256 hashes)."""
    text = open(os.path.join(CLUSTER, "requirements.lock")).read()
    entries = {}
    for block in re.split(r"\n(?=\S)", text):
        if block.startswith("#") or not block.strip():
            continue
        head = block.split("\\")[0].strip()
        name, _, version = head.partition("==")
        entries[re.sub(r"[-_.]+", "-", name.split("[")[0].lower())] = (
            version,
            re.findall(r"--hash=sha256:([0-9a-f]{64})", block),
        )
    return entries


def test_the_lock_file_pins_every_package_by_version_and_hash():
    import ray
    from packaging.requirements import Requirement

    lock = _lock()
    text = open(os.path.join(CLUSTER, "requirements.lock")).read()
    assert "uv pip compile pyproject.toml --extra gpu --extra s3" in text  # how to regenerate it
    assert len(lock) > 20
    for name, (version, hashes) in lock.items():
        assert re.fullmatch(r"[0-9][\w.+!-]*", version), name  # an exact version
        assert hashes, name  # and its hashes
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["gpu"] + project["optional-dependencies"]["s3"]
    for spec in map(Requirement, wanted):  # every dependency of the image, at a version raydas accepts
        name = re.sub(r"[-_.]+", "-", spec.name.lower())
        assert name in lock and spec.specifier.contains(lock[name][0], prereleases=True), spec
    assert lock["ray"][0] == ray.__version__  # the same Ray as the submitting side


def test_dockerfile_builds_the_image_the_configs_name():
    import ray

    text = open(os.path.join(CLUSTER, "Dockerfile")).read()
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert base.startswith(f"rayproject/ray:{ray.__version__}-py311")  # same Ray as the submitting side
    # pinned by digest: a literal one, or one the build must be given (an ARG without a default)
    digest = re.search(r"@(\S+)$", base).group(1)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest) or re.search(
        rf"^ARG\s+{re.escape(digest.strip('${}'))}\s*$", text, re.M
    ), base
    assert re.search(r"^RUN pip install [^\n]*--require-hashes -r cluster/requirements\.lock", text, re.M)
    assert re.search(r"^RUN pip install [^\n]*--no-deps[^\n]* \.", text, re.M)  # raydas, its dependencies locked
    assert not re.search(r"pip install(?![^\n]*(--require-hashes|--no-deps))", text)  # nothing else unpinned
    user = re.findall(r"^USER\s+(\S+)", text, re.M)[-1]
    assert re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", user)  # not root, by number (Kubernetes checks runAsNonRoot)
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        extras = tomllib.load(fh)["project"]["optional-dependencies"]
    assert {"gpu", "s3"} <= set(extras)
    for src in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+$", text, re.M):
        for item in src.split():
            assert os.path.exists(os.path.join(REPO, item)), item
    assert not re.search(r"(?im)^\s*(ENV|ARG)\s+\S*(SECRET|TOKEN|PASSWORD|ACCESS_KEY)", text)
    ignored = open(os.path.join(REPO, ".dockerignore")).read().split()
    assert ".venv/" in ignored and "**/auth_token" in ignored
    assert not any(
        re.fullmatch(p.rstrip("/").replace("**/", "").replace("*", ".*"), "requirements.lock") for p in ignored
    )
