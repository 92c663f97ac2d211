"""`emphysema export`: a training run -> a checked ONNX graph -> a new version in the model repository.

Order matters: convert, check parity (and accuracy for fp16/int8), render the config, and only
then write, atomically. A failed check writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from export.settings import INT8_ACTIVATIONS, MODEL_NAMES, PRECISIONS, ExportError, ExportSettings


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What one export produced and measured."""

    version: int
    folder: Path
    parity_max_abs_difference: float
    checks: dict[str, Any]
    size_bytes: int
    seconds: float


def export_run(
    run_folder: str | Path, repository: str | Path, settings: ExportSettings, command: str = ""
) -> ExportResult:
    """Export one training run into the model repository as a new version.

    Args:
        run_folder: ``runs/NAME`` written by ``emphysema train``.
        repository: the Triton model repository root.
        settings: the resolved export settings (model name, precision, batching...).
        command: the command line, recorded in the model card.

    Returns:
        The new version, its folder and the measured checks.

    Raises:
        ExportError: bad run folder, failed parity or accuracy check; nothing is written then.
    """
    import onnx

    from export import onnx_graph, parity, precision, triton_config
    from export import repository as model_repository
    from export.accuracy_gate import check_accuracy
    from export.model_card import build_model_card
    from export.run_folder import load_keras_model, load_part, read_run

    started = time.perf_counter()
    run = read_run(run_folder)
    _step(f"loading {run.folder / 'model.keras'} ({run.architecture}, {run.image_size} px)")
    keras_model = load_keras_model(run)
    _step(f"converting to ONNX (opset {settings.opset})")
    reference = onnx_graph.convert_keras_to_onnx(keras_model, run.image_size, settings.opset)

    part = run.evaluation_part
    _step(f"parity check: Keras vs onnxruntime on up to {settings.parity_samples} {part} scans")
    parity_images, _ = load_part(run, part, limit=settings.parity_samples)
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
        calibration, _ = load_part(run, "train", limit=settings.calibration_samples)
    graph_model = precision.reduce_precision(
        reference, settings.precision, calibration, settings.int8_activations, settings.int8_reduce_range
    )
    if onnx_graph.read_signature(graph_model) != onnx_graph.read_signature(reference):
        raise ExportError(
            f"the {settings.precision} graph changed the model's interface; nothing was written"
        )

    _step(f"evaluating the {settings.precision} graph on the {part} split")
    images, labels = load_part(run, part)
    checks.update(check_accuracy(reference, graph_model, images, labels, settings, part, _step))

    config_text = triton_config.render_config(
        triton_config.build_model_config(graph_model, settings), settings
    )
    signature = onnx_graph.read_signature(graph_model)
    exported_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def write_version(folder: Path, version: int) -> None:
        model_path = folder / "model.onnx"
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
        (folder / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        (folder / "export_settings.json").write_text(
            json.dumps(settings.to_dict(), indent=2) + "\n", encoding="utf-8"
        )

    published = model_repository.publish_version(
        Path(repository),
        settings.model_name,
        write_version,
        {"config.pbtxt": config_text, "labels.txt": model_repository.labels_text()},
    )
    size = (published.folder / "model.onnx").stat().st_size
    return ExportResult(
        published.version, published.folder, difference, checks, size, time.perf_counter() - started
    )


def _step(message: str) -> None:
    print(f"export: {message}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema export` command line; defaults come from ExportSettings."""
    defaults = ExportSettings()
    parser = argparse.ArgumentParser(prog="emphysema export", description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, help="training run folder (runs/NAME)")
    parser.add_argument(
        "--repository",
        type=Path,
        default=Path("model_repository"),
        help="Triton model repository root (default: model_repository)",
    )
    parser.add_argument(
        "--name",
        help=f"model name in the repository, one of {', '.join(MODEL_NAMES)} or your "
        "own (default: the run's architecture)",
    )
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision)
    parser.add_argument(
        "--int8-activations",
        choices=INT8_ACTIVATIONS,
        default=defaults.int8_activations,
        help="int8: portable, TensorRT-ready; uint8: fastest for CPU serving on x86 (default: %(default)s)",
    )
    parser.add_argument(
        "--int8-reduce-range",
        action=argparse.BooleanOptionalAction,
        default=defaults.int8_reduce_range,
        help="int8: 7-bit weights, exact on x86 CPUs without VNNI too (default: %(default)s)",
    )
    parser.add_argument(
        "--int8-check-cpu",
        default=defaults.int8_check_cpu,
        metavar="QEMU_CPU",
        help="int8: also evaluate on this emulated CPU (qemu-x86_64 -cpu; AVX2 without VNNI); "
        "'' to skip (default: %(default)s)",
    )
    parser.add_argument(
        "--tensorrt", action="store_true", help="add the TensorRT FP16 accelerator (GPU Triton)"
    )
    parser.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    parser.add_argument(
        "--queue-delay-us",
        type=int,
        default=defaults.queue_delay_us,
        help="dynamic batching max queue delay in microseconds",
    )
    parser.add_argument("--opset", type=int, default=defaults.opset)
    parser.add_argument(
        "--accuracy-drop-tolerance",
        type=float,
        default=defaults.accuracy_drop_tolerance,
        help="largest accepted fp16/int8 accuracy drop as a fraction (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="export fp16/int8 even past the tolerance")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `emphysema export`; return 0 on success, 1 on a refused or failed export."""
    arguments = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    try:
        from export.run_folder import read_run

        name = arguments.name or read_run(arguments.run).architecture
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
        result = export_run(arguments.run, arguments.repository, settings, command=command)
    except (ExportError, ValueError, OSError) as error:
        print(f"emphysema export: error: {error}", file=sys.stderr)
        return 1
    print(
        f"export: wrote {result.folder / 'model.onnx'} ({result.size_bytes / 1e6:.1f} MB), version "
        f"{result.version}, in {result.seconds:.1f} s; config: {result.folder.parent / 'config.pbtxt'}"
    )
    return 0
