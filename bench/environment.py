"""The machine and software a benchmark ran on, so its figures can be read (and doubted) later."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from bench.results import Environment
from emphysema.versions import cpu_facts, package_versions

# Packages whose versions change the figures.
RECORDED_PACKAGES = tuple(
    "numpy onnx onnxruntime onnxruntime-gpu tensorflow-cpu tensorflow keras tritonclient nvidia-pytriton "
    "matplotlib".split()
)


def memory_gib() -> float | None:
    """Total memory in GiB, or None where /proc/meminfo does not exist."""
    meminfo = Path("/proc/meminfo")
    lines = meminfo.read_text(encoding="utf-8").splitlines() if meminfo.is_file() else []
    total = [int(line.split()[1]) for line in lines if line.startswith("MemTotal:")]
    return round(total[0] / 1024**2, 1) if total else None


def load_average() -> tuple[float, ...] | None:
    """The 1, 5 and 15 minute load averages (other work on the machine skews every figure)."""
    try:
        return tuple(round(value, 2) for value in os.getloadavg())
    except OSError:
        return None


def describe_environment() -> Environment:
    """Everything above, plus the OS and the time."""
    return Environment(
        cpu=cpu_facts(),
        memory_gib=memory_gib(),
        os=platform.platform(),
        load_average_at_start=load_average(),
        packages=package_versions(RECORDED_PACKAGES),
        date_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
