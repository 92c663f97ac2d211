"""`emphysema export`: a training run -> a checked ONNX graph -> a new version in the model repository.

Order matters: convert, check parity (and accuracy for fp16/int8), render the config, and only
then write, atomically. A failed check writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from export.arguments import build_parser
from export.settings import ExportError, ExportSettings
from imaging.contract import ARCHITECTURES
from imaging.errors import UsageError
from training.run_folder import Run, read_run


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What one export produced and measured."""

    version: int
    folder: Path
    parity_max_abs_difference: float
    checks: dict[str, Any]
    size_bytes: int
    seconds: float


def export_run(run: Run, repository: str | Path, settings: ExportSettings, command: str = "") -> ExportResult:
    """Export one training run into the model repository as a new version.

    Args:
        run: the training run (``training.run_folder.read_run``).
        repository: the Triton model repository root.
        settings: the resolved export settings (model name, precision, batching...).
        command: the command line, recorded in the model card.

    Returns:
        The new version, its folder and the measured checks.

    Raises:
        UsageError: the model name is another architecture's and ``settings.force`` is False.
        ExportError: failed parity or accuracy check; nothing is written then.
        RunError: a split or model file the run folder cannot provide.
    """
    check_model_name(settings.model_name, run.architecture, settings.force)
    settings = settings.resolved_for(run.settings.field_of_view_mm)
    import onnx

    from export import model_repository, onnx_graph, parity, precision, publishing, triton_config
    from export.accuracy_gate import check_accuracy
    from export.model_card import build_model_card

    started = time.perf_counter()
    _step(f"loading {run.folder / 'model.keras'} ({run.architecture}, {run.image_size} px)")
    keras_model = run.load_model()
    _step(f"converting to ONNX (opset {settings.opset})")
    reference = onnx_graph.convert_keras_to_onnx(keras_model, run.image_size, settings.opset)

    part = run.evaluation_part
    _step(f"parity check: Keras vs onnxruntime on up to {settings.parity_samples} {part} scans")
    parity_images, _ = run.load_part(part, limit=settings.parity_samples)
    difference = parity.measure_parity(keras_model, reference, parity_images)
    parity.require_parity(difference, settings.parity_tolerance)
    checks: dict[str, Any] = {
        "parity": {
            "split": part,
            "samples": len(parity_images),
            "graph": "fp32",
            "max_abs_difference": difference,
            "tolerance": settings.parity_tolerance,
        }
    }
    _step(f"parity max |Keras - onnxruntime| = {difference:.2e} (tolerance {settings.parity_tolerance:.0e})")

    calibration = None
    if settings.precision == "int8":
        _step(f"calibrating int8 on up to {settings.calibration_samples} train scans")
        calibration, _ = run.load_part("train", limit=settings.calibration_samples)
    graph_model = precision.reduce_precision(
        reference, settings.precision, calibration, settings.int8_activations, settings.int8_reduce_range
    )
    if onnx_graph.read_signature(graph_model) != onnx_graph.read_signature(reference):
        raise ExportError(
            f"the {settings.precision} graph changed the model's interface; nothing was written"
        )

    _step(f"evaluating the {settings.precision} graph on the {part} split")
    images, labels = run.load_part(part)
    checks.update(check_accuracy(reference, graph_model, images, labels, settings, part, _step))

    # A region model's field of view and density reference travel with it: clients tile studies
    # at this size and shift them to this reference.
    field_of_view_mm, reference_hu = run.settings.field_of_view_mm, run.settings.density_reference_hu
    if field_of_view_mm is not None:
        reference = "raw HU" if reference_hu is None else f"density reference {reference_hu:g} HU"
        _step(f"region model: field of view {field_of_view_mm:g} mm, {reference} (config and model card)")
    config_text = triton_config.render_config(
        triton_config.build_model_config(graph_model, settings, field_of_view_mm, reference_hu), settings
    )
    signature = onnx_graph.read_signature(graph_model)
    exported_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def write_version(folder: Path, version: int) -> None:
        model_path = folder / model_repository.ONNX_FILENAME
        onnx.save(graph_model, str(model_path))
        card = build_model_card(
            run=run,
            model_path=model_path,
            version=version,
            checks=checks,
            signature=signature,
            opset=settings.opset,
            settings=settings.to_dict(),
            exported_at=exported_at,
            command=command,
        )
        card["export_seconds"] = round(time.perf_counter() - started, 2)
        model_repository.write_model_card(folder, card)
        (folder / "export_settings.json").write_text(
            json.dumps(settings.to_dict(), indent=2) + "\n", encoding="utf-8"
        )

    published = publishing.publish_version(
        Path(repository),
        settings.model_name,
        write_version,
        {
            model_repository.CONFIG_FILENAME: config_text,
            model_repository.LABELS_FILENAME: model_repository.labels_text(),
        },
    )
    size = (published.folder / model_repository.ONNX_FILENAME).stat().st_size
    return ExportResult(
        published.version, published.folder, difference, checks, size, time.perf_counter() - started
    )


def check_model_name(name: str, architecture: str, force: bool) -> None:
    """Refuse to serve one architecture under another's name: clients would trust the wrong model.

    Raises:
        UsageError: ``name`` is an architecture other than ``architecture`` and ``force`` is False.
    """
    if name in ARCHITECTURES and name != architecture and not force:
        raise UsageError(
            f"--model {name} is the name of another architecture, but this run trained {architecture}; "
            f"export it as --model {architecture} (predict and the app find it when it is the only "
            f"model served), or pass --force to serve a {architecture} under the name {name}"
        )


def _step(message: str) -> None:
    print(f"export: {message}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema export`; a refused or failed export raises (`emphysema.cli` reports it)."""
    arguments = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    run = read_run(arguments.run)
    name = arguments.model or run.architecture
    settings = ExportSettings(
        model_name=name,
        precision=arguments.precision,
        int8_activations=arguments.int8_activations,
        int8_reduce_range=arguments.int8_reduce_range,
        int8_check_cpu=arguments.int8_check_cpu,
        opset=arguments.opset,
        max_batch_size=arguments.max_batch_size,
        queue_delay_us=arguments.queue_delay_us,
        tensorrt=arguments.tensorrt,
        accuracy_drop_tolerance=arguments.accuracy_drop_tolerance,
        force=arguments.force,
    )
    command = " ".join(["emphysema export", *(sys.argv[1:] if argv is None else argv)])
    result = export_run(run, arguments.repository, settings, command=command)
    print(
        f"export: wrote {result.folder / 'model.onnx'} ({result.size_bytes / 1e6:.1f} MB), version "
        f"{result.version}, in {result.seconds:.1f} s; config: {result.folder.parent / 'config.pbtxt'}"
    )
    return 0
