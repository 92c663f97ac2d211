"""Locate the real `tritonserver` binary inside the nvidia-pytriton wheel and prepare it to run.

The wheel ships Triton 2.51 with only the python backend. The backend needs a
`triton_python_backend_stub` built for the running Python next to `libtriton_python.so`, but the
wheel keeps the stubs in a separate per-version folder (and site-packages may be read-only), so
we assemble a writable backends folder for each server, the same way PyTriton itself does.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import ServeError

INSTALL_HINT = "Install the serving extra: pip install -e '.[serve,cpu]'"


@dataclass(frozen=True)
class TritonDistribution:
    """Paths of the Triton build that ships inside the nvidia-pytriton wheel.

    Attributes:
        root: the `pytriton/tritonserver` folder.
        binary: the `tritonserver` executable.
        libraries: the folder of shared libraries the binary links against.
        python_backend: the wheel's python backend folder (`libtriton_python.so`, utils).
        stub: the python-backend stub for the running Python version.
    """

    root: Path
    binary: Path
    libraries: Path
    python_backend: Path
    stub: Path


def locate_triton() -> TritonDistribution:
    """Find the tritonserver binary, its libraries and the stub for this Python.

    Returns:
        The distribution's paths.

    Raises:
        ServeError: when nvidia-pytriton is not installed or lacks a stub for this Python.
    """
    # find_spec, not import: importing pytriton pulls in its whole proxy stack for nothing.
    spec = importlib.util.find_spec("pytriton")
    if spec is None or spec.origin is None:
        raise ServeError(f"the embedded Triton server needs the nvidia-pytriton package. {INSTALL_HINT}")
    package = Path(spec.origin).parent
    root = package / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    libraries = package.parent / "nvidia_pytriton.libs"
    if not libraries.is_dir():  # editable PyTriton checkouts keep them here instead
        libraries = root / "external_libs"
    distribution = TritonDistribution(
        root=root,
        binary=root / "bin" / "tritonserver",
        libraries=libraries,
        python_backend=root / "backends" / "python",
        stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
    )
    if not distribution.binary.is_file():
        raise ServeError(f"tritonserver binary not found at {distribution.binary}. {INSTALL_HINT}")
    if not distribution.stub.is_file():
        raise ServeError(
            f"nvidia-pytriton has no python-backend stub for Python {version} "
            f"(looked for {distribution.stub}); use Python 3.10-3.12."
        )
    return distribution


def prepare_backends(distribution: TritonDistribution, directory: Path) -> Path:
    """Assemble a writable backends folder: the wheel's python backend plus this Python's stub.

    Args:
        distribution: where the wheel's Triton lives.
        directory: an empty or absent folder to fill; becomes `--backend-directory`.

    Returns:
        The backends folder.
    """
    python_backend = directory / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    for source in (
        distribution.python_backend / "libtriton_python.so",
        distribution.python_backend / "triton_python_backend_utils.py",
        distribution.stub,
    ):
        shutil.copy2(source, python_backend / source.name)
    return directory


def triton_environment(
    distribution: TritonDistribution, base: dict[str, str] | None = None
) -> dict[str, str]:
    """Return the environment Triton and its python-backend stubs must run in.

    The stub embeds an interpreter that finds its packages (numpy, onnxruntime) through the
    `python3` first on PATH, so this virtual environment's bin goes first. `sys.executable` is
    deliberately not resolved: resolving a venv's symlink would point at the system Python.

    Args:
        distribution: where the wheel's Triton lives.
        base: the environment to extend; defaults to `os.environ`.

    Returns:
        A new environment mapping.
    """
    environment = dict(os.environ if base is None else base)
    interpreter_bin = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join(filter(None, [interpreter_bin, environment.get("PATH", "")]))
    environment["LD_LIBRARY_PATH"] = os.pathsep.join(
        filter(None, [environment.get("LD_LIBRARY_PATH", ""), str(distribution.libraries)])
    )
    return environment
