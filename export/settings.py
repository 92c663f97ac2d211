"""The export stage's settings: one frozen dataclass whose defaults are the single source of truth."""

from __future__ import annotations

import dataclasses
from typing import Any

from imaging.errors import EmphysemaError, UsageError

# The name of the dynamic first dimension, so the graph reads [batch, H, W, 1] instead of unk__NNN.
BATCH_DIMENSION = "batch"

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
# int8 activations: signed and symmetric is what TensorRT's explicit quantization accepts; unsigned
# is what onnxruntime's x86 integer kernels (VNNI, u8 x s8) fuse into QLinearConv on a CPU.
INT8_ACTIVATIONS: tuple[str, ...] = ("int8", "uint8")
# A slice model's max_batch_size; the committed CPU bench (bench/results) served InceptionV3 at it.
SLICE_MAX_BATCH_SIZE = 32


class ExportError(EmphysemaError):
    """An export that cannot be done or would be wrong; the message says which file and why."""


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    """Everything that decides what an export writes.

    Attributes:
        model_name: the model's folder in the repository (the name clients ask Triton for).
        precision: weights and arithmetic of the exported graph: fp32, fp16 or int8 (static QDQ).
        opset: the ONNX opset, pinned so the graph loads in the Triton container's onnxruntime.
        max_batch_size: the largest batch Triton forms (and clients send); the ONNX batch
            dimension is dynamic. None: by the kind of model (``resolved_for``),
            ``SLICE_MAX_BATCH_SIZE`` for a slice model, ``region_max_batch_size`` for a region model.
        region_max_batch_size: a region (ROI) model's ``max_batch_size`` when none is given. A
            64 px ROI is a twelfth of a 224 px slice and a study sends thousands: the served path
            reached 0.92x in process at 32 and 0.96x at 128, side by side in the committed study
            bench (docs/bench.md).
        queue_delay_us: how long dynamic batching may hold a request to form a larger batch.
        instance_count: model instances per GPU.
        tensorrt: add the onnxruntime TensorRT FP16 execution accelerator block.
        tensorrt_cache_root: a writable folder in the serving container (the repository itself
            is mounted read-only); the engine cache goes to ``<root>/<model_name>``.
        tensorrt_optimal_batch: the batch size TensorRT tunes its engine for (clipped to max).
        tensorrt_workspace_bytes: TensorRT builder workspace.
        parity_samples: scans run through both Keras and onnxruntime for the parity check.
        parity_tolerance: the largest allowed max |Keras - onnxruntime| for an fp32 export.
        accuracy_drop_tolerance: the largest allowed accuracy drop (fraction, 0.01 = 1 point)
            of an fp16/int8 graph against the fp32 graph on the evaluation split.
        calibration_samples: training scans used to calibrate int8 activation ranges.
        int8_activations: int8 (portable, TensorRT-ready) or uint8 (fastest on an x86 CPU served
            by onnxruntime; measured 2.5x fp32 in process where int8 activations gave 1.07x).
        int8_reduce_range: quantize weights to 7 bits. onnxruntime's x86 integer kernels on CPUs
            without VNNI add pairs of u8 x s8 products in 16 bits, which saturates with 8-bit
            weights: the tiny test model fell from 100 % to 75 % on an AVX2-only CPU and stayed at
            100 % with 7-bit weights (onnxruntime's documented remedy), on both kinds of CPU.
        int8_check_cpu: the QEMU CPU model an int8 graph is evaluated on as well (AVX2, no AVX-512,
            no VNNI), so the accuracy gate sees the kernels an older server would run; empty to skip.
        force: write an fp16/int8 export even when its accuracy drop exceeds the tolerance.
    """

    model_name: str = "inceptionv3"
    precision: str = "fp32"
    opset: int = 17
    max_batch_size: int | None = None
    region_max_batch_size: int = 128
    queue_delay_us: int = 500
    instance_count: int = 1
    tensorrt: bool = False
    tensorrt_cache_root: str = "/trt_cache"
    tensorrt_optimal_batch: int = 8
    tensorrt_workspace_bytes: int = 1 << 30
    parity_samples: int = 16
    parity_tolerance: float = 1e-4
    accuracy_drop_tolerance: float = 0.01
    calibration_samples: int = 64
    int8_activations: str = "int8"
    int8_reduce_range: bool = True
    int8_check_cpu: str = "Haswell"
    force: bool = False

    def __post_init__(self) -> None:
        if not self.model_name or not all(c.isalnum() or c in "_-" for c in self.model_name):
            raise UsageError(
                f"model name {self.model_name!r} must be letters, digits, '_' or '-' (it is a folder name)"
            )
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.int8_activations not in INT8_ACTIVATIONS:
            raise UsageError(
                f"int8_activations must be one of {', '.join(INT8_ACTIVATIONS)}, "
                f"got {self.int8_activations!r}"
            )
        if self.tensorrt and self.precision == "int8" and self.int8_activations != "int8":
            raise UsageError("TensorRT takes only signed, symmetric int8 activations: drop --tensorrt or "
                              "--int8-activations uint8")  # fmt: skip
        if not 13 <= self.opset <= 21:
            raise UsageError(f"opset must be between 13 and 21, got {self.opset}")
        for name in (
            "region_max_batch_size",
            "instance_count",
            "tensorrt_optimal_batch",
            "parity_samples",
            "calibration_samples",
            "tensorrt_workspace_bytes",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_batch_size is not None and self.max_batch_size < 1:
            raise UsageError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.queue_delay_us < 0:
            raise UsageError(f"queue_delay_us must be >= 0, got {self.queue_delay_us}")
        if not self.parity_tolerance > 0:
            raise UsageError(f"parity_tolerance must be positive, got {self.parity_tolerance}")
        if not 0 <= self.accuracy_drop_tolerance <= 1:
            raise UsageError(
                f"accuracy_drop_tolerance is a fraction in [0, 1], got {self.accuracy_drop_tolerance}"
            )

    def resolved_for(self, field_of_view_mm: float | None) -> ExportSettings:
        """These settings with ``max_batch_size`` chosen for a slice (None) or a region model."""
        if self.max_batch_size is not None:
            return self
        chosen = SLICE_MAX_BATCH_SIZE if field_of_view_mm is None else self.region_max_batch_size
        return dataclasses.replace(self, max_batch_size=chosen)

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved settings as a JSON-ready dictionary."""
        return dataclasses.asdict(self)
