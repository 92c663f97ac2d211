"""External validation: a run's frozen model scored on every slice of another labelled data set.

The most important number a study publishes is the one on a cohort the model never saw (another
hospital, another scanner). The report folder (``RUN/external/NAME`` by default) gets the same
metrics, intervals, per-severity table and files as the run's own evaluation, and never touches
the run's ``metrics.json`` or ``report.md``.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

from evaluation.scorers import keras_scorer, triton_scorer
from evaluation.settings import SETTINGS_FILE, ExternalSettings
from imaging.errors import UsageError
from imaging.samples import Sample
from training.evaluate import write_evaluation
from training.run_folder import Run, RunError, read_run
from training.runs import relative_sample_path, staged_folder, write_text_atomically
from training.skipped_files import decode_samples, read_samples, report_skipped


def evaluate_external(settings: ExternalSettings) -> dict:
    """Score the run's model on every slice of ``settings.data`` and write the report folder.

    Returns:
        The metrics dict written to ``metrics.json`` in ``settings.report_folder``.

    Raises:
        UsageError: the report folder exists (without ``overwrite``) or the data set is the run's own.
        DatasetError: every problem of the data set (with advice when files are unreadable).
        RunError: the data set holds scans the model was trained or validated on.
        TritonError: scoring through Triton failed.
    """
    out = settings.report_folder
    if out.exists() and any(out.iterdir()) and not settings.overwrite:
        raise UsageError(f"{out}: report folder already exists; choose another --out or pass --overwrite")
    run = read_run(settings.run)
    data = settings.data
    if data.resolve() == run.data_root.resolve():
        raise UsageError(
            f"{data} is the data set run {run.folder} was trained on; its held-out scans are scored by "
            f"`emphysema evaluate --run {run.folder}` (leave out --external)"
        )
    skipped: list[str] | None = [] if settings.skip_unreadable else None
    samples = read_samples(data, skipped, "evaluate on", require_all_classes=False)
    refuse_seen_scans(run, samples, data)
    scorer = triton_scorer(run, settings.url, settings.model) if settings.url else keras_scorer(run)
    samples, images = decode_samples(samples, scorer.image_size, run.window, skipped, "evaluate on")
    probabilities = scorer.predict(images)
    facts = {
        "name": f"{run.folder.name} on {data.resolve().name}",
        "architecture": run.architecture,
        "image_size": scorer.image_size,
        "weights": run.settings.resolved_weights,
        "data": str(data.resolve()),
        "external": True,
        "trained_on": str(run.data_root),
        "served": scorer.served,
    }
    bootstrap = (
        run.settings.bootstrap_samples if settings.bootstrap_samples is None else settings.bootstrap_samples
    )
    with staged_folder(out, settings.overwrite) as staging:
        write_text_atomically(staging / SETTINGS_FILE, settings.to_json(run.architecture, bootstrap))
        report_skipped(skipped or [], staging, out)
        return write_evaluation(
            staging, samples, data, probabilities, facts, bootstrap_samples=bootstrap, seed=run.settings.seed
        )


def refuse_seen_scans(run: Run, samples: list[Sample], data: Path) -> None:
    """Refuse a data set holding files identical to the run's training or validation scans.

    Files are matched by their path relative to the data set, then compared byte for byte, so a
    second cohort that reuses the training set's file names (two phantoms) passes, and a copy of
    the training data does not. Skipped when the training data is no longer where the run says.

    Raises:
        RunError: naming how many scans the model has already seen, and the first.
    """
    if not run.data_root.is_dir():
        return
    seen_paths = set(run.split.get("train", [])) | set(run.split.get("validation", []))
    seen = [
        relative
        for sample in samples
        if (relative := relative_sample_path(sample.path, data)) in seen_paths
        and (run.data_root / relative).is_file()
        and filecmp.cmp(sample.path, run.data_root / relative, shallow=False)
    ]
    if seen:
        raise RunError(
            f"{data}: {len(seen)} of {len(samples)} scans are identical to scans run {run.folder} was "
            f"trained or validated on (first: {seen[0]}); an external validation needs patients the model "
            "has not seen"
        )
