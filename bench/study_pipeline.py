"""The study benchmark run: one phantom study analysed end to end, then served against in-process ROIs.

Order: generate the phantom study (not timed); serve the model (the embedded Triton over the
repository, or the Triton at ``--url``); analyse the study exactly as `emphysema analyze` does
(`analysis.study_analysis.analyse_study`), keeping the per-step seconds it reports and the ROIs
it sent; classify an even sample of those ROIs through Triton and through onnxruntime in process
(and a GPU provider where onnxruntime has one) at the same batch sizes; assess the goals.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import tempfile
import time
from pathlib import Path

from bench.environment import load_average
from bench.study_results import (
    IN_PROCESS,
    SERVED,
    Comparison,
    EndToEnd,
    OnnxFacts,
    StudyBenchResults,
    StudyEnvironment,
)
from bench.study_settings import STEPS, StudyBenchSettings
from bench.study_sources import generate_study, open_gpu_sessions, served_onnx, triton_url
from emphysema.versions import cpu_facts, package_versions

RECORDED_PACKAGES = ("numpy", "onnxruntime", "onnxruntime-gpu", "tritonclient", "nvidia-pytriton", "pillow")


def _say(quiet: bool):
    def step(message: str) -> None:
        if not quiet:
            print(f"bench study: {message}", flush=True)

    return step


def analyse_timed(study: Path, destination: Path, classifier, model: str) -> EndToEnd:
    """Analyse the study as `emphysema analyze` does; its wall time and the seconds of each step."""
    from analysis.settings import AnalysisSettings
    from analysis.study_analysis import analyse_study

    settings = AnalysisSettings()
    started = time.perf_counter()
    report = analyse_study(study, destination, classifier, model, settings, quiet=True)
    wall = time.perf_counter() - started
    scanner = report["quantification"]["scanner"]
    return EndToEnd(
        wall_seconds=round(wall, 3),
        steps={name: report["seconds"][name] for name in STEPS},
        tiles=report["tiles"],
        model=report["model"],
        analysis_settings=dataclasses.asdict(settings),
        shape=tuple(scanner["shape"]),
        spacing_mm=tuple(scanner["spacing_mm"]),
        dominant=report["patterns"]["regions"]["WholeLung"]["dominant"],
    )


def comparison_paths(session, gpu_sessions: dict, classifier, model: str) -> dict:
    """Every path compared on the same ROIs: name -> (batch size -> classify function)."""
    from bench.study_throughput import in_process_path, served_path

    paths = {
        IN_PROCESS: lambda batch: in_process_path(session, batch),
        SERVED: lambda batch: served_path(classifier, model, batch),
    }
    for provider, gpu_session in gpu_sessions.items():
        paths[f"onnxruntime {provider}"] = lambda batch, gpu_session=gpu_session: in_process_path(
            gpu_session, batch
        )
    return paths


def measure_study(
    settings: StudyBenchSettings, url: str, served_by: str, work: Path, step
) -> tuple[EndToEnd, Comparison]:
    """Analyse the study in ``work`` through the Triton at ``url``, then compare the paths on its ROIs."""
    from bench.baselines import open_session
    from bench.study_throughput import RecordingClassifier, compare_paths, evenly_spaced, label_agreement
    from client.settings import TritonSettings
    from client.triton import TritonClassifier

    version, onnx_path = served_onnx(settings.repository, settings.model)
    client_settings = TritonSettings(url=url, model=settings.model)
    with TritonClassifier(client_settings) as client:
        info = client.model_info(settings.model)
        step(f"analysing it end to end through {served_by}")
        recorder = RecordingClassifier(client)
        runs = [analyse_timed(work / "study", work / "analysis-1", recorder, settings.model)]
        rois, served_labels = recorder.recorded()
        for run in range(2, settings.end_to_end_runs + 1):  # the same study again: load only slows a run
            runs.append(analyse_timed(work / "study", work / f"analysis-{run}", client, settings.model))
        end_to_end = min(runs, key=lambda measured: measured.wall_seconds)
        end_to_end = dataclasses.replace(end_to_end, all_wall_seconds=tuple(run.wall_seconds for run in runs))
        sample = evenly_spaced(len(rois), settings.comparison_rois)
        session = open_session(onnx_path, settings.threads)
        gpu_sessions, gpu_skipped = open_gpu_sessions(onnx_path, settings.threads, work)
        batch_sizes = settings.batch_sizes_for(info.max_batch_size)
        step(f"{len(sample)} of its {len(rois)} ROIs through each path, batch sizes {list(batch_sizes)}")
        paths = comparison_paths(session, gpu_sessions, client, settings.model)
        batches, labels = compare_paths(paths, rois[sample], batch_sizes, settings.rounds)
    # The analysis's own labels for the sampled ROIs: a third path over the same inputs.
    labels["analysis"] = [served_labels[index] for index in sample]
    comparison = Comparison(
        rois=len(sample),
        batches=batches,
        served_by=served_by,
        request_concurrency=client_settings.concurrency,
        max_batch_size=info.max_batch_size,
        onnx=OnnxFacts(settings.model, version, settings.threads),
        label_agreement_with_in_process=label_agreement(labels, IN_PROCESS),
        gpu_skipped=gpu_skipped,
    )
    return end_to_end, comparison


def run_study_bench(settings: StudyBenchSettings, command: str, quiet: bool = False) -> StudyBenchResults:
    """Measure one study end to end and the served / in-process ROI throughput; return the results.

    Raises:
        BenchError: no exported model in the repository.
        EmphysemaError: the analysis or Triton failed (their own messages).
    """
    step = _say(quiet)
    started = time.perf_counter()
    served_onnx(settings.repository, settings.model)  # fail before generating the study
    environment = StudyEnvironment(
        cpu=cpu_facts(),
        load_average_at_start=tuple(load_average() or ()),
        nice=os.nice(0),
        packages=package_versions(RECORDED_PACKAGES),
        date_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    with tempfile.TemporaryDirectory(prefix="emphysema-bench-study-") as scratch:
        work = Path(scratch)
        step(f"generating a {settings.size} phantom study ({settings.pattern}, {settings.severity})")
        study = generate_study(settings, work / "study")
        with triton_url(settings, work) as (url, served_by):
            end_to_end, comparison = measure_study(settings, url, served_by, work, step)
    environment = dataclasses.replace(environment, load_average_at_end=tuple(load_average() or ()))
    duration = round(time.perf_counter() - started, 1)
    return StudyBenchResults(command, settings, environment, study, end_to_end, comparison, duration)
