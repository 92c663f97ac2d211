"""The configurations the bench serves, and the small model repository that holds them.

The bench builds its own repository next to its results (never touching the committed one): one
model per configuration — the fp32 export with dynamic batching as committed, the same graph with
dynamic batching removed, and the int8 export if there is one — each with its `config.pbtxt`
derived from the committed config and symlinks to the exported graph.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.served_results import Level, ServedResult
from export.model_repository import (
    CONFIG_FILENAME,
    ONNX_FILENAME,
    read_model_config,
    write_model_config,
)


@dataclasses.dataclass(frozen=True)
class ServedVariant:
    """One configuration Triton serves during the bench, as ``served_name`` in the bench repository."""

    key: str  # in results.json, e.g. FP32_BATCHING
    served_name: str
    onnx_path: Path
    version: int  # the export's, in the committed repository
    precision: str
    dynamic_batching: bool
    image_latency_ms: float = 0.0  # one image in process: sizes perf_analyzer's windows

    @property
    def label(self) -> str:
        """A human name, e.g. ``"fp32, dynamic batching on"``."""
        return f"{self.precision}, dynamic batching {'on' if self.dynamic_batching else 'off'}"


def write_bench_repository(model_directory: Path, variants: list[ServedVariant], destination: Path) -> Path:
    """Write a repository with one model per variant, configs derived from the committed one.

    Args:
        model_directory: the committed ``model_repository/<model>`` folder.
        variants: the configurations to serve.
        destination: an absent or empty folder.

    Returns:
        ``destination``.
    """
    committed = read_model_config(model_directory / CONFIG_FILENAME)
    for variant in variants:
        config = type(committed)()
        config.CopyFrom(committed)
        config.name = variant.served_name
        config.ClearField("version_policy")  # the bench repository holds exactly one version
        if not variant.dynamic_batching:
            config.ClearField("dynamic_batching")  # Triton's default scheduler: one request per execution
        target = destination / variant.served_name
        (target / "1").mkdir(parents=True)
        write_model_config(target / CONFIG_FILENAME, config)
        for entry in model_directory.iterdir():  # labels.txt, warmup data and the like
            if entry.name != CONFIG_FILENAME and not entry.name.isdigit() and not entry.name.startswith("."):
                (target / entry.name).symlink_to(entry.resolve())
        (target / "1" / ONNX_FILENAME).symlink_to(variant.onnx_path.resolve())
    return destination


def served_result(repository: Path, variant: ServedVariant, levels: list[Level]) -> ServedResult:
    """A served variant's measured levels, with the batching facts read back from its config."""
    config = read_model_config(repository / variant.served_name / CONFIG_FILENAME)
    batching = config.HasField("dynamic_batching")
    return ServedResult(
        label=variant.label,
        served_name=variant.served_name,
        version=variant.version,
        precision=variant.precision,
        onnx=str(variant.onnx_path),
        max_batch_size=config.max_batch_size,
        dynamic_batching=batching,
        max_queue_delay_us=config.dynamic_batching.max_queue_delay_microseconds if batching else None,
        levels=tuple(levels),
    )
