"""The accuracy gate: an exported graph may not lose accuracy against the fp32 graph it came from.

fp16 and int8 graphs are evaluated on the run's held-out split and refused when they lose more than
the tolerance. An int8 graph is evaluated twice, on this CPU and on an emulated AVX2-only CPU
without VNNI (export/emulated_cpu.py), because onnxruntime's integer kernels differ between the two.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from emphysema.versions import cpu_facts
from export import emulated_cpu, parity
from export.settings import ExportSettings


def check_accuracy(
    reference: onnx.ModelProto,
    graph_model: onnx.ModelProto,
    images: np.ndarray,
    labels: np.ndarray,
    settings: ExportSettings,
    part: str,
    step: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate the exported graph against the fp32 one; refuse a reduced graph that loses accuracy.

    An int8 graph is evaluated on this CPU and, under QEMU, on an AVX2-only CPU without VNNI, whose
    integer kernels round differently (export/emulated_cpu.py); the gate applies to both.

    Returns:
        The ``checks`` entries for the model card: ``evaluation`` (this CPU) and, for int8,
        ``evaluation_emulated_cpu``.
    """
    reference_probabilities = parity.predict_onnx(reference, images)
    change = parity.compare_accuracy(
        reference_probabilities, parity.predict_onnx(graph_model, images), labels
    )
    here = cpu_facts()
    checks = {
        "evaluation": {
            **change.as_record(part, settings.accuracy_drop_tolerance, settings.force),
            "cpu": here["model"],
            "instruction_set": here["instruction_set"],
        }
    }
    if settings.precision == "fp32":
        return checks
    step(
        f"{settings.precision} accuracy {change.reference_accuracy:.4f} -> {change.accuracy:.4f} on "
        f"{here['instruction_set']} (change {change.change:+.4f}, agreement {change.agreement:.3f})"
    )
    parity.require_accuracy(
        change, settings.accuracy_drop_tolerance, settings.precision, settings.force, here["instruction_set"]
    )
    if settings.precision != "int8" or not settings.int8_check_cpu:
        return checks
    cpu = settings.int8_check_cpu
    reason = emulated_cpu.emulation_unavailable_reason()
    if reason:
        step(f"warning: int8 not checked on an emulated {cpu} CPU (AVX2 without VNNI): {reason}")
        checks["evaluation_emulated_cpu"] = {"cpu": cpu, "skipped": reason}
        return checks
    step(f"evaluating the int8 graph on an emulated {cpu} CPU (AVX2 without VNNI; slower)")
    started = time.perf_counter()
    emulated = parity.compare_accuracy(
        reference_probabilities, emulated_cpu.predict_on_emulated_cpu(graph_model, images, cpu), labels
    )
    checks["evaluation_emulated_cpu"] = {
        **emulated.as_record(part, settings.accuracy_drop_tolerance, settings.force),
        "cpu": f"QEMU {cpu}",
        "instruction_set": "AVX2 without VNNI",
        "seconds": round(time.perf_counter() - started, 1),
    }
    step(
        f"int8 accuracy {emulated.reference_accuracy:.4f} -> {emulated.accuracy:.4f} on AVX2 without VNNI "
        f"(emulated {cpu}; change {emulated.change:+.4f}, agreement {emulated.agreement:.3f})"
    )
    parity.require_accuracy(
        emulated, settings.accuracy_drop_tolerance, "int8", settings.force, f"AVX2 without VNNI (QEMU {cpu})"
    )
    return checks
