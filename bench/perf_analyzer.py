"""Drive Triton's perf_analyzer as a subprocess and parse the CSV it writes.

perf_analyzer comes from the tritonclient 2.50.0 wheel (bench/install_perf_analyzer.sh puts it in
the virtual environment's bin). It links against libb64 (Debian libb64-0d) and libcudart.so.12,
which the PyPI wheel nvidia-cuda-runtime-cu12 provides; that wheel's lib folder is put on
LD_LIBRARY_PATH for the subprocess only. Results are read from the `-f` CSV (`bench.perf_csv`),
never from the screen.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.perf_csv import parse_perf_csv
from bench.settings import BenchError

BINARY_NAME = "perf_analyzer"
INSTALL_HINT = (
    "install it with `make install` (runs bench/install_perf_analyzer.sh), which puts the "
    "tritonclient 2.50.0 wheel's perf_analyzer into .venv/bin"
)


@dataclasses.dataclass(frozen=True)
class PerfAnalyzer:
    """A located, working perf_analyzer: its binary, what `--version` printed, its environment."""

    binary: Path
    environment: dict[str, str]  # with LD_LIBRARY_PATH to libcudart
    version: str


def cuda_runtime_library_folder() -> Path:
    """Return the lib folder of the nvidia-cuda-runtime-cu12 wheel (libcudart.so.12).

    Raises:
        BenchError: when the wheel is not installed.
    """
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError(
            "perf_analyzer needs libcudart.so.12 from the nvidia-cuda-runtime-cu12 wheel: "
            "pip install 'nvidia-cuda-runtime-cu12~=12.0' (part of the project's bench extra)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def locate_perf_analyzer() -> PerfAnalyzer:
    """Find perf_analyzer (the venv's bin first, then PATH) and check that it starts.

    Raises:
        BenchError: when it is missing or cannot start (a shared library is missing), with the fix.
    """
    candidate = Path(sys.executable).parent / BINARY_NAME
    found = candidate if candidate.is_file() else shutil.which(BINARY_NAME)
    if found is None:
        raise BenchError(f"{BINARY_NAME} not found in {candidate.parent} or on PATH; {INSTALL_HINT}")
    environment = dict(os.environ)
    environment["LD_LIBRARY_PATH"] = os.pathsep.join(
        filter(None, [str(cuda_runtime_library_folder()), environment.get("LD_LIBRARY_PATH", "")])
    )
    try:
        command = [str(found), "--version"]
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    except OSError as error:
        raise BenchError(f"{found}: cannot be executed ({error}); {INSTALL_HINT}") from error
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        hint = " (install the Debian package libb64-0d)" if "libb64" in output else ""
        raise BenchError(f"{found} does not start{hint}: {output[-500:]}")
    return PerfAnalyzer(binary=Path(found), environment=environment, version=output.splitlines()[-1])


def write_input_data(images: np.ndarray, input_name: str, path: Path) -> Path:
    """Write perf_analyzer's `--input-data` JSON: one request per uint8 image, its bytes in base64."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise BenchError(f"perf_analyzer input must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
    encoded = [base64.b64encode(np.ascontiguousarray(image).tobytes()).decode("ascii") for image in images]
    entries = [{input_name: {"b64": data, "shape": list(images.shape[1:])}} for data in encoded]
    path.write_text(json.dumps({"data": entries}), encoding="utf-8")
    return path


def measure_concurrency(
    analyzer: PerfAnalyzer,
    model: str,
    url: str,
    concurrency: int,
    input_data: Path,
    csv_path: Path,
    attempts: list[tuple[int, int]],
    max_trials: int,
) -> tuple[dict[str, Any], int, int]:
    """Measure ``model`` at one concurrency level over gRPC, trying each (window ms, stability %) in turn.

    perf_analyzer fails, writing no CSV, when its windows never agree; the next attempt is looser.
    Its screen output goes to the CSV's ``.log`` for people (every attempt's), never parsed.

    Returns:
        The CSV row (`parse_perf_csv`), and the window and stability that held.

    Raises:
        BenchError: when every attempt failed or timed out, quoting the last failure.
    """
    failure = ""
    for window_ms, stability in attempts:
        command = [str(analyzer.binary), "-m", model, "-i", "grpc", "-u", url]
        command += ["--concurrency-range", f"{concurrency}:{concurrency}", "--input-data", str(input_data)]
        command += ["--measurement-interval", str(window_ms), "--max-trials", str(max_trials)]
        command += ["--stability-percentage", str(stability), "-f", str(csv_path)]
        # Each window waits for its slowest request; allow every trial plus generous start-up.
        timeout = max_trials * window_ms / 1000 * 4 + 120
        try:
            done = subprocess.run(
                command, env=analyzer.environment, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            failure = f"did not finish within {timeout:.0f} s: {' '.join(command)}"
            continue
        with csv_path.with_suffix(".log").open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
        if done.returncode == 0:
            return parse_perf_csv(csv_path)[0], window_ms, stability
        tail = (done.stdout + done.stderr).strip()[-800:]
        failure = f"exit {done.returncode}; full log {csv_path.with_suffix('.log')}: {tail}"
    raise BenchError(f"perf_analyzer could not measure {model} at concurrency {concurrency}: {failure}")
