"""Run a graph on an emulated AVX2-only CPU, so an int8 export is checked on the kernels it may meet.

onnxruntime picks its integer kernels from the CPU it runs on (CPUID). On x86 CPUs without VNNI,
the u8 x s8 kernels add pairs of products in 16 bits (``vpmaddubsw``), which saturates when both
the activations and the 8-bit weights are large: a graph that is exact on an AVX-512 VNNI machine
lost 25 accuracy points on an AVX2-only one. The exporter therefore evaluates an int8 graph twice:
on this machine, and under user-mode QEMU with a CPU model that has AVX2 but neither AVX-512 nor
VNNI (``qemu-x86_64 -cpu Haswell``; onnxruntime then reads that CPU's CPUID and dispatches its AVX2
kernels). QEMU's CPUID does not depend on the host, so the result is the same on every machine.

Run as ``python -m export.emulated_cpu MODEL IMAGES OUT`` inside QEMU (``predict_on_emulated_cpu``
does that); it only needs numpy and onnxruntime.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

from export.settings import ExportError

QEMU_BINARY = "qemu-x86_64"
# Emulation runs several times slower than the machine; this bounds a stuck check.
EMULATION_TIMEOUT_SECONDS = 1800


def emulation_unavailable_reason() -> str | None:
    """Why the emulated check cannot run here, or None when it can."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"the emulated x86 check needs an x86-64 machine, this is {platform.machine()}"
    if shutil.which(QEMU_BINARY) is None:
        return f"{QEMU_BINARY} is not installed (Debian package qemu-user)"
    return None


def predict_on_emulated_cpu(graph_model: onnx.ModelProto, images: np.ndarray, cpu_model: str) -> np.ndarray:
    """Run uint8 images through the graph inside ``qemu-x86_64 -cpu cpu_model``; return probabilities.

    Raises:
        ExportError: QEMU is missing, or the emulated run failed or timed out.
    """
    reason = emulation_unavailable_reason()
    if reason:
        raise ExportError(reason)
    with tempfile.TemporaryDirectory(prefix="emphysema-emulated-") as folder:
        model_path, images_path, output_path = (
            Path(folder) / name for name in ("model.onnx", "images.npy", "probabilities.npy")
        )
        onnx.save(graph_model, str(model_path))
        np.save(images_path, images)
        command = [QEMU_BINARY, "-cpu", cpu_model, sys.executable, "-m", "export.emulated_cpu"]
        try:
            finished = subprocess.run(
                [*command, str(model_path), str(images_path), str(output_path)],
                capture_output=True,
                text=True,
                timeout=EMULATION_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ExportError(f"the emulated {cpu_model} check took over {error.timeout:.0f} s") from None
        if finished.returncode != 0 or not output_path.is_file():
            last_line = (finished.stderr.strip().splitlines() or ["no output"])[-1]
            raise ExportError(
                f"the emulated {cpu_model} check failed (exit status {finished.returncode}): {last_line}"
            )
        return np.load(output_path)


def main(argv: list[str]) -> int:
    """Inside QEMU: MODEL IMAGES OUT -> probabilities saved to OUT."""
    from export.parity import predict_onnx

    model_path, images_path, output_path = argv
    np.save(output_path, predict_onnx(onnx.load(model_path), np.load(images_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
