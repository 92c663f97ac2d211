"""Where the study benchmark's inputs come from: the phantom study, the served model, the servers.

The study is generated (not timed); the model is the newest ``model.onnx`` of the repository, the
version Triton serves; Triton is the embedded one over the repository, or the one at ``--url``
(a GPU Triton, say); onnxruntime's GPU providers are opened where this build has them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

from bench.settings import BenchError
from bench.study_results import StudyFacts
from bench.study_settings import StudyBenchSettings


def served_onnx(repository: Path, model: str) -> tuple[int, Path]:
    """The version Triton serves (the newest with a model.onnx) and its file, for the in-process path."""
    from export.model_repository import ONNX_FILENAME, onnx_versions

    versions = onnx_versions(repository / model)
    if not versions:
        raise BenchError(
            f"{repository / model}: no exported model.onnx; export a run first (`emphysema export`)"
        )
    return versions[-1], repository / model / str(versions[-1]) / ONNX_FILENAME


def generate_study(settings: StudyBenchSettings, folder: Path) -> StudyFacts:
    """Write the phantom study (DICOM series) into ``folder``; return what it is and how long it took."""
    from study.phantom.command import write_study
    from study.phantom.settings import settings_for_size

    phantom = dataclasses.replace(
        settings_for_size(settings.size), slice_thicknesses_mm=(settings.slice_thickness_mm,)
    )
    started = time.perf_counter()
    truth = write_study(folder, settings.pattern, settings.severity, settings.seed, phantom, nifti=False)
    seconds = round(time.perf_counter() - started, 1)
    return StudyFacts(
        settings.size,
        phantom.matrix,
        settings.pattern,
        settings.severity,
        settings.seed,
        settings.slice_thickness_mm,
        truth.get("laa950_percent"),
        seconds,
    )


@contextlib.contextmanager
def triton_url(settings: StudyBenchSettings, work: Path) -> Iterator[tuple[str, str]]:
    """Yield the gRPC address to measure and what serves there: the given URL, else the embedded Triton."""
    if settings.url is not None:
        yield settings.url, f"the Triton at {settings.url} (started outside the bench)"
        return
    from deploy.embedded import EmbeddedTriton
    from deploy.settings import ServeSettings

    serve = ServeSettings.on_free_ports(supervisor_port=0, threads=settings.threads)
    with EmbeddedTriton(settings.repository, serve, work / "triton") as server:
        yield server.grpc_url, "the embedded Triton (python backend, onnxruntime CPU execution provider)"


def open_gpu_sessions(onnx_path: Path, threads: int, work: Path) -> tuple[dict, dict[str, str]]:
    """An onnxruntime session on each GPU provider that really runs, and why the others did not."""
    from bench.baselines import available_gpu_providers, open_session

    sessions, skipped = {}, {}
    providers = available_gpu_providers()
    if not providers:
        import onnxruntime

        available = ", ".join(onnxruntime.get_available_providers())
        skipped["GPU"] = f"no GPU execution provider in this onnxruntime build (available: {available})"
    for provider in providers:
        session = open_session(onnx_path, threads, provider, work)
        if session.get_providers()[0] == provider:
            sessions[provider] = session
        else:  # no device, or a library missing: onnxruntime fell back
            skipped[provider] = f"onnxruntime fell back to {session.get_providers()[0]}"
    return sessions, skipped
