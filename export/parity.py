"""Checks that an exported graph computes what the Keras model computes, before anything is written."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import onnx
import onnxruntime

from export.settings import ExportError


@dataclasses.dataclass(frozen=True)
class AccuracyChange:
    """How a reduced-precision graph compares with the fp32 graph on held-out scans.

    Attributes:
        samples: scans evaluated.
        reference_accuracy: accuracy of the fp32 graph.
        accuracy: accuracy of the reduced graph.
        agreement: fraction of scans where both graphs predict the same class.
        max_abs_difference: largest probability difference between the two graphs.
    """

    samples: int
    reference_accuracy: float
    accuracy: float
    agreement: float
    max_abs_difference: float

    @property
    def change(self) -> float:
        """Accuracy change (negative is a drop), as a fraction."""
        return self.accuracy - self.reference_accuracy

    def as_record(self, split: str, tolerance: float, forced: bool) -> dict[str, Any]:
        """The figures as recorded in model_card.json."""
        return {
            "split": split,
            "samples": self.samples,
            "fp32_accuracy": self.reference_accuracy,
            "accuracy": self.accuracy,
            "accuracy_change": self.change,
            "agreement_with_fp32": self.agreement,
            "max_abs_difference_to_fp32": self.max_abs_difference,
            "tolerance": tolerance,
            "forced": forced,
        }


def create_session(graph_model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session on an in-memory graph (single thread pool, shared machines)."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only; ORT warns about unused initializers otherwise
    return onnxruntime.InferenceSession(
        graph_model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )


def predict_onnx(graph_model: onnx.ModelProto, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Run uint8 images ``(N, S, S, 1)`` through the graph; return probabilities ``(N, classes)``."""
    session = create_session(graph_model)
    input_name = session.get_inputs()[0].name
    outputs = [
        session.run(None, {input_name: images[start : start + batch_size]})[0]
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32)


def measure_parity(keras_model, graph_model: onnx.ModelProto, images: np.ndarray) -> float:
    """Return max |Keras - onnxruntime| over the probabilities of the same uint8 batch."""
    keras_probabilities = np.asarray(keras_model.predict(images, batch_size=16, verbose=0), dtype=np.float32)
    onnx_probabilities = predict_onnx(graph_model, images)
    if keras_probabilities.shape != onnx_probabilities.shape:
        raise ExportError(
            f"Keras gives shape {keras_probabilities.shape} but the ONNX graph gives "
            f"{onnx_probabilities.shape}"
        )
    return float(np.max(np.abs(keras_probabilities - onnx_probabilities)))


def require_parity(difference: float, tolerance: float) -> None:
    """Raise ExportError when the fp32 graph differs from Keras by more than ``tolerance``."""
    if not np.isfinite(difference) or difference > tolerance:
        raise ExportError(
            f"parity check failed: max |Keras - onnxruntime| = {difference:.3g} > {tolerance:.3g}; "
            "the ONNX graph does not compute what the Keras model computes, nothing was written"
        )


def compare_accuracy(
    reference_probabilities: np.ndarray, reduced_probabilities: np.ndarray, labels: np.ndarray
) -> AccuracyChange:
    """Compare the fp32 and the reduced-precision graph's probabilities on the same labelled scans."""
    reference_classes = reference_probabilities.argmax(axis=1)
    reduced_classes = reduced_probabilities.argmax(axis=1)
    return AccuracyChange(
        samples=len(labels),
        reference_accuracy=float(np.mean(reference_classes == labels)),
        accuracy=float(np.mean(reduced_classes == labels)),
        agreement=float(np.mean(reference_classes == reduced_classes)),
        max_abs_difference=float(np.max(np.abs(reference_probabilities - reduced_probabilities))),
    )


def require_accuracy(
    change: AccuracyChange, tolerance: float, precision: str, force: bool, where: str = "this CPU"
) -> None:
    """Refuse a reduced-precision export that loses more than ``tolerance`` accuracy, unless forced."""
    if -change.change > tolerance and not force:
        raise ExportError(
            f"{precision} export refused: accuracy {change.reference_accuracy:.4f} -> {change.accuracy:.4f} "
            f"on {change.samples} held-out scans on {where}, a drop of {-change.change:.4f} "
            f"> tolerance {tolerance:.4f}. "
            "Use fp32, raise --accuracy-drop-tolerance, or pass --force to export it anyway"
        )
