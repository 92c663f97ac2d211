"""The `emphysema export` command line; every default comes from ExportSettings."""

from __future__ import annotations

import argparse
from pathlib import Path

from export.settings import INT8_ACTIVATIONS, PRECISIONS, SLICE_MAX_BATCH_SIZE, ExportSettings
from imaging.contract import DEFAULT_REPOSITORY


def build_parser() -> argparse.ArgumentParser:
    """The `emphysema export` command line; defaults come from ExportSettings."""
    defaults = ExportSettings()
    parser = argparse.ArgumentParser(prog="emphysema export", description=__doc__.splitlines()[0])
    option = parser.add_argument
    option("--run", required=True, type=Path, help="training run folder, e.g. runs/NAME (required)")
    option(
        "--repository",
        type=Path,
        default=Path(DEFAULT_REPOSITORY),
        help="Triton model repository root (default: %(default)s)",
    )
    option(
        "--model",
        help="served model name, the folder in the repository (default: the run's architecture); "
        "another architecture's name needs --force",
    )
    option("--name", dest="model", default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # the old spelling
    option(
        "--precision",
        choices=PRECISIONS,
        default=defaults.precision,
        help="weights and arithmetic of the graph; fp16 and int8 must pass the accuracy check "
        "(default: %(default)s)",
    )
    option(
        "--int8-activations",
        choices=INT8_ACTIVATIONS,
        default=defaults.int8_activations,
        help="int8: portable, TensorRT-ready; uint8: fastest for CPU serving on x86 (default: %(default)s)",
    )
    option(
        "--int8-reduce-range",
        action=argparse.BooleanOptionalAction,
        default=defaults.int8_reduce_range,
        help="int8: 7-bit weights, exact on x86 CPUs without VNNI too (default: %(default)s)",
    )
    option(
        "--int8-check-cpu",
        default=defaults.int8_check_cpu,
        metavar="QEMU_CPU",
        help="int8: also evaluate on this emulated CPU (qemu-x86_64 -cpu; AVX2 without VNNI); "
        "'' to skip (default: %(default)s)",
    )
    option("--tensorrt", action="store_true", help="add the TensorRT FP16 accelerator (GPU Triton)")
    option(
        "--max-batch-size",
        type=int,
        default=defaults.max_batch_size,
        help="largest batch Triton forms from queued requests and clients send (default: "
        f"{SLICE_MAX_BATCH_SIZE} for a slice model, {defaults.region_max_batch_size} for a region model)",
    )
    option(
        "--queue-delay-us",
        type=int,
        default=defaults.queue_delay_us,
        help="dynamic batching max queue delay in microseconds (default: %(default)s)",
    )
    option(
        "--opset",
        type=int,
        default=defaults.opset,
        help="ONNX opset, pinned for the serving onnxruntime (default: %(default)s)",
    )
    option(
        "--accuracy-drop-tolerance",
        type=float,
        default=defaults.accuracy_drop_tolerance,
        help="largest accepted fp16/int8 accuracy drop as a fraction (default: %(default)s)",
    )
    option(
        "--force",
        action="store_true",
        help="export even past a refusal: fp16/int8 beyond the tolerance, or --model naming "
        "another architecture",
    )
    return parser
