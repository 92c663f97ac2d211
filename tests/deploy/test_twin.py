"""Unit tests of the runtime twin: config transformation and the repository writer (no server)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from deploy.errors import ServeError
from deploy.twin import twin_config, write_twin
from export.model_repository import RepositoryError, read_model_config

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
COMMITTED_MODELS = ("inceptionv3", "resnet50", "efficientnetb0", "simple_cnn")


def _contract_view(config: pb.ModelConfig) -> dict:
    """What the client relies on: everything but the backend, instances, accelerators and parameters."""
    return {
        "name": config.name,
        "max_batch_size": config.max_batch_size,
        "inputs": [(t.name, t.data_type, tuple(t.dims), t.format) for t in config.input],
        "outputs": [(t.name, t.data_type, tuple(t.dims), t.label_filename) for t in config.output],
        "dynamic_batching": text_format.MessageToString(config.dynamic_batching),
        "has_dynamic_batching": config.HasField("dynamic_batching"),
        "version_policy": text_format.MessageToString(config.version_policy),
        "warmup": [text_format.MessageToString(w) for w in config.model_warmup],
    }


def _check_twin_of(config: pb.ModelConfig) -> pb.ModelConfig:
    original = text_format.MessageToString(config)
    twin = twin_config(config, threads=3)
    assert text_format.MessageToString(config) == original, "the committed config must not be modified"
    assert _contract_view(twin) == _contract_view(config)
    assert twin.backend == "python" and twin.platform == "" and twin.default_model_filename == ""
    assert [(g.count, g.kind) for g in twin.instance_group] == [(1, pb.ModelInstanceGroup.KIND_CPU)]
    assert not twin.optimization.HasField("execution_accelerators")
    assert not twin.optimization.HasField("cuda")
    assert twin.parameters["intra_op_thread_count"].string_value == "3"
    # The twin config must survive a text round trip, since Triton reads it from disk.
    assert text_format.Parse(text_format.MessageToString(twin), pb.ModelConfig()) == twin
    return twin


def test_twin_config_keeps_contract_and_drops_gpu_parts(tiny_repository):
    config = read_model_config(tiny_repository.path / tiny_repository.model_name / "config.pbtxt")
    assert config.instance_group[0].kind == pb.ModelInstanceGroup.KIND_GPU
    twin = _check_twin_of(config)
    assert twin.dynamic_batching.max_queue_delay_microseconds > 0
    assert twin.model_warmup[0].inputs["image"].zero_data


def test_twin_config_of_platform_style_config():
    config = text_format.Parse(
        'name: "m" platform: "onnxruntime_onnx" default_model_filename: "model.onnx" max_batch_size: 4 '
        'input { name: "image" data_type: TYPE_UINT8 dims: [8, 8, 1] } '
        'output { name: "probabilities" data_type: TYPE_FP32 dims: [4] label_filename: "labels.txt" } '
        "instance_group { count: 2 kind: KIND_GPU gpus: [0, 1] } dynamic_batching { } "
        "optimization { cuda { graphs: true } execution_accelerators { "
        '  gpu_execution_accelerator { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } '
        '  cpu_execution_accelerator { name: "openvino" } } }',
        pb.ModelConfig(),
    )
    _check_twin_of(config)


@pytest.mark.parametrize("model_name", COMMITTED_MODELS)
def test_committed_gpu_configs_parse_and_twin(model_name):
    path = REPOSITORY_ROOT / "model_repository" / model_name / "config.pbtxt"
    config = read_model_config(path)
    assert config.name == model_name
    assert [t.name for t in config.input] == ["image"] and config.input[0].data_type == pb.TYPE_UINT8
    assert [t.name for t in config.output] == ["probabilities"] and list(config.output[0].dims) == [4]
    assert config.output[0].label_filename == "labels.txt"
    assert (path.parent / "labels.txt").is_file()
    assert config.max_batch_size > 0 and config.HasField("dynamic_batching")
    _check_twin_of(config)


def test_write_twin_layout(tiny_repository, tmp_path):
    twin = write_twin(tiny_repository.path, tmp_path / "twin", threads=2)
    name = tiny_repository.model_name
    assert twin.models == {name: (1,)} and twin.skipped == {}
    model = tmp_path / "twin" / name
    assert (model / "labels.txt").read_text() == (tiny_repository.path / name / "labels.txt").read_text()
    assert (model / "1" / "model.onnx").resolve() == tiny_repository.onnx_path.resolve()
    assert "class TritonPythonModel" in (model / "1" / "model.py").read_text()
    assert read_model_config(model / "config.pbtxt").backend == "python"
    # The committed repository is left exactly as it was.
    assert sorted(p.name for p in (tiny_repository.path / name).iterdir()) == [
        "1",
        "config.pbtxt",
        "labels.txt",
    ]


def test_write_twin_skips_models_without_onnx(tiny_repository, tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository.path, repository)
    (repository / "resnet50").mkdir()
    (repository / "resnet50" / "config.pbtxt").write_text('name: "resnet50"')
    twin = write_twin(repository, tmp_path / "twin", threads=1)
    assert list(twin.models) == [tiny_repository.model_name]
    assert "resnet50" in twin.skipped and "model.onnx" in twin.skipped["resnet50"]
    assert not (tmp_path / "twin" / "resnet50").exists()


def test_write_twin_refuses_missing_repository(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(RepositoryError, match=rf"{missing}.*does not exist"):
        write_twin(missing, tmp_path / "twin", threads=1)


def test_write_twin_refuses_a_file(tmp_path):
    a_file = tmp_path / "model_repository"
    a_file.write_text("not a folder")
    with pytest.raises(RepositoryError, match="is not a folder"):
        write_twin(a_file, tmp_path / "twin", threads=1)


def test_write_twin_refuses_empty_repository(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RepositoryError, match=r"empty.*config\.pbtxt"):
        write_twin(tmp_path / "empty", tmp_path / "twin", threads=1)


def test_write_twin_refuses_repository_without_onnx(tiny_repository, tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository.path, repository)
    shutil.rmtree(repository / tiny_repository.model_name / "1")
    with pytest.raises(ServeError, match=r"no model has an exported ONNX.*emphysema export"):
        write_twin(repository, tmp_path / "twin", threads=1)


def test_unparsable_config_names_the_file(tiny_repository, tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository.path, repository)
    config = repository / tiny_repository.model_name / "config.pbtxt"
    config.write_text("name: 'x' max_batch_size: lots")
    with pytest.raises(RepositoryError, match=rf"{config}: not a valid Triton model configuration"):
        write_twin(repository, tmp_path / "twin", threads=1)


@pytest.mark.slow
@pytest.mark.parametrize("tensorrt", [False, True])
def test_tiny_config_is_what_export_renders(tiny_repository, tensorrt):
    """The fixture's config.pbtxt is the export stage's, and the twin of any export config is sound."""
    import onnx

    from export.settings import ExportSettings
    from export.triton_config import build_model_config

    settings = ExportSettings(
        model_name=tiny_repository.model_name,
        max_batch_size=tiny_repository.max_batch_size,
        queue_delay_us=10_000,
        tensorrt=tensorrt,
    )
    exported = build_model_config(onnx.load(tiny_repository.onnx_path), settings)
    if not tensorrt:
        fixture = read_model_config(tiny_repository.path / tiny_repository.model_name / "config.pbtxt")
        assert text_format.MessageToString(fixture) == text_format.MessageToString(exported)
    _check_twin_of(exported)
