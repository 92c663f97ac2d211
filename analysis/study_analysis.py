"""Analyse one study: read, segment and quantify it, tile and classify its lungs, summarise, write.

The files (``analysis.output_files``: report.json and .pdf, overlay, pattern map, and for a DICOM
study the SEG, SR and encapsulated PDF) are written into a folder beside the destination and
renamed into place only when all are complete: a failure leaves nothing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from analysis.density_reference import large_shift_warning
from analysis.errors import AnalysisError
from analysis.field_of_view import FieldOfView, resolve_field_of_view
from analysis.output_files import DISCLAIMER, REPORT_JSON
from analysis.pattern_map import PatternMap, build_pattern_map
from analysis.settings import AnalysisSettings
from analysis.study_outputs import dicom_outputs, write_study_outputs
from analysis.summary import summarise
from analysis.tiles import check_in_plane
from client.contract import ModelInfo
from client.triton import TritonClassifier
from study.quantify import quantify
from study.reader import read_study
from study.volume import Volume


def analyse_study(
    path: Path,
    destination: Path,
    classifier: TritonClassifier,
    model: str,
    settings: AnalysisSettings,
    quiet: bool,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Analyse the study at ``path`` into the new folder ``destination``; return its report.

    ``progress(done, total)`` follows the tiles classified (see :func:`build_pattern_map`).
    """
    started = time.perf_counter()
    info = classifier.model_info(model)
    volume = read_study(path)
    read = time.perf_counter()
    quantification, masks = quantify(volume)
    segmented = time.perf_counter()
    if not masks.labels.any():
        raise AnalysisError(f"{path.name}: no lungs found")
    field = resolve_field_of_view(info, settings.field_of_view_mm, volume.spacing_mm[1])
    check_in_plane(volume.spacing_mm, field.millimetres, volume.shape)
    pattern_map = build_pattern_map(
        volume.hounsfield,
        masks.labels,
        volume.spacing_mm[1],
        field.millimetres,
        settings.stride_mm,
        settings.slice_step,
        classifier,
        info,
        quiet,
        0.0 if field.source == "slice-level" else settings.minimum_lung_share,
        progress,
    )
    mapped = time.perf_counter()
    patterns = summarise(pattern_map.labels, masks.labels, settings.predominance_points)
    report = study_report(path.name, info, field, settings, pattern_map, patterns, quantification)
    report["dicom"] = dicom_outputs(volume, report, settings)
    # The steps add up to the study's time: tile is the map's own share plus the field-of-view
    # checks; summarise includes painting the tile labels onto the map.
    map_seconds = pattern_map.seconds
    seconds = {
        "read": round(read - started, 3),
        "segment": round(segmented - read, 3),
        "tile": round(mapped - segmented - map_seconds["inference"] - map_seconds["paint"], 3),
        "inference": round(map_seconds["inference"], 3),
        "summarise": round(map_seconds["paint"] + time.perf_counter() - mapped, 3),
    }
    write_analysis(destination, report, volume, masks.labels, pattern_map, settings, seconds)
    return report


def study_report(
    name: str,
    info: ModelInfo,
    field: FieldOfView,
    settings: AnalysisSettings,
    pattern_map: PatternMap,
    patterns: dict,
    quantification: dict,
) -> dict:
    """Return ``report.json``'s content (without the DICOM block and the timings)."""
    warnings = (field.warning, large_shift_warning(pattern_map.density_shift_hu))
    return {
        "study": name,
        "disclaimer": DISCLAIMER,
        "model": {
            "name": info.name,
            "versions": list(info.versions),
            "version": info.version,
            "image_size": info.image_size,
            "field_of_view_mm": field.millimetres,
            "field_of_view_source": field.source,
            "density_reference_hu": info.density_reference_hu,
        },
        "settings": dataclasses.asdict(settings),
        "tiles": {
            "count": pattern_map.tiles,
            "edge_tiles_filled": pattern_map.filled_tiles,
            "side_px": pattern_map.tile_side_px,
            "cell_px": pattern_map.cell_px,
            "analysed_slices": len(pattern_map.analysed_slices),
            "density_shift_hu": pattern_map.density_shift_hu,
        },
        "patterns": patterns,
        "quantification": quantification,
        "warnings": [*quantification["warnings"], *filter(None, warnings)],
    }


def write_analysis(
    destination: Path,
    report: dict,
    volume: Volume,
    lungs: np.ndarray,
    pattern_map: PatternMap,
    settings: AnalysisSettings,
    seconds: dict,
) -> None:
    """Write every file of one study into ``destination`` (new), all or nothing."""
    writing = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        write_study_outputs(staging, report, volume, lungs, pattern_map, settings)
        report["seconds"] = {**seconds, "write": round(time.perf_counter() - writing, 3)}
        (staging / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        staging.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
