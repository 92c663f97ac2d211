"""Write the runtime twin of an ONNX model repository for the embedded (python-backend) Triton.

The committed repository is written for the GPU container: backend `onnxruntime`, `KIND_GPU`,
perhaps a TensorRT accelerator. The Triton build in the nvidia-pytriton wheel has only the
python backend, so each model gets a twin with the same name, tensors, labels, `max_batch_size`,
dynamic batching, version policy and warmup, but backend `python` on `KIND_CPU`, whose
`model.py` (deploy/twin_model.py) runs the very same `model.onnx` with onnxruntime. The twin is
written to a work folder, never into the committed repository.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tritonclient.grpc import model_config_pb2

from deploy.errors import ServeError
from export.model_repository import (
    CONFIG_FILENAME,
    ONNX_FILENAME,
    model_folders,
    onnx_versions,
    read_model_config,
    write_model_config,
)

TWIN_MODEL_SOURCE = Path(__file__).with_name("twin_model.py")
TWIN_MODEL_FILENAME = "model.py"  # what the python backend loads from each version folder
# Model-folder entries that are the GPU server's business only.
GPU_ONLY_ENTRIES = frozenset({"trt_cache"})


@dataclass(frozen=True)
class TwinRepository:
    """The result of writing a twin.

    Attributes:
        path: the twin repository folder (pass it to `--model-repository`).
        models: model name -> versions served.
        skipped: model name -> why it was left out (e.g. no exported version yet).
    """

    path: Path
    models: dict[str, tuple[int, ...]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def twin_config(
    config: model_config_pb2.ModelConfig, threads: int, memory_arena: bool = True
) -> model_config_pb2.ModelConfig:
    """Turn a GPU/onnxruntime model configuration into its python-backend CPU twin.

    Names, tensors, labels, batching, version policy and warmup are kept; what only the
    onnxruntime backend or a GPU understands is replaced or dropped.

    Args:
        config: the committed configuration (not modified).
        threads: onnxruntime intra-op threads for the one CPU instance.
        memory_arena: keep onnxruntime's CPU memory arena (faster; memory stays at the peak).

    Returns:
        A new configuration.
    """
    twin = model_config_pb2.ModelConfig()
    twin.CopyFrom(config)
    twin.platform = ""
    twin.backend = "python"
    twin.default_model_filename = ""  # the python backend then loads <version>/model.py
    del twin.instance_group[:]
    # One stub process (the python backend runs one process per instance); it gets every core.
    twin.instance_group.add(count=1, kind=model_config_pb2.ModelInstanceGroup.KIND_CPU)
    twin.optimization.ClearField("execution_accelerators")
    twin.optimization.ClearField("cuda")
    twin.parameters["intra_op_thread_count"].string_value = str(threads)
    twin.parameters["cpu_memory_arena"].string_value = "true" if memory_arena else "false"
    return twin


def write_twin(
    repository: Path, destination: Path, threads: int, memory_arena: bool = True
) -> TwinRepository:
    """Write the twin of every model in `repository` that has at least one exported ONNX version.

    Args:
        repository: the ONNX model repository (`model_repository/`).
        destination: an absent or empty folder for the twin.
        threads: onnxruntime intra-op threads per model.
        memory_arena: keep onnxruntime's CPU memory arena in every model.

    Returns:
        What was written and what was skipped.

    Raises:
        RepositoryError: when the repository is missing, has no models, or a config is unreadable.
        ServeError: when no model has an ONNX file.
    """
    repository = repository.resolve()
    model_directories = model_folders(repository)
    destination.mkdir(parents=True, exist_ok=True)
    result = TwinRepository(path=destination)
    for model_directory in model_directories:
        versions = onnx_versions(model_directory)
        if not versions:
            result.skipped[model_directory.name] = f"no <version>/{ONNX_FILENAME} under {model_directory}"
            continue
        config = read_model_config(model_directory / CONFIG_FILENAME)
        twin = twin_config(config, threads, memory_arena)
        _write_model(model_directory, destination / model_directory.name, twin, versions)
        result.models[model_directory.name] = versions
    if not result.models:
        reasons = "; ".join(f"{name}: {why}" for name, why in result.skipped.items())
        raise ServeError(
            f"{repository}: no model has an exported ONNX version to serve ({reasons}). "
            "Run `emphysema export` first."
        )
    return result


def _write_model(
    source: Path, target: Path, config: model_config_pb2.ModelConfig, versions: tuple[int, ...]
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    write_model_config(target / CONFIG_FILENAME, config)
    for entry in source.iterdir():
        # labels.txt, warmup/ data files and the like are shared as they are; hidden entries
        # (an export still in progress) are not part of the model.
        hidden = entry.name.startswith(".")
        if hidden or entry.name == CONFIG_FILENAME or entry.name.isdigit() or entry.name in GPU_ONLY_ENTRIES:
            continue
        (target / entry.name).symlink_to(entry)
    for version in versions:
        version_directory = target / str(version)
        version_directory.mkdir()
        # Link, never copy, the ONNX (and any external-data files next to it): it may be 100+ MB.
        for entry in (source / str(version)).iterdir():
            if entry.name != TWIN_MODEL_FILENAME:
                (version_directory / entry.name).symlink_to(entry)
        shutil.copyfile(TWIN_MODEL_SOURCE, version_directory / TWIN_MODEL_FILENAME)
