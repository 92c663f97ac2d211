"""Analyse one study: read, segment and quantify it, tile and classify its lungs, summarise, write.

The files (``report.json``, ``overlay.png``, ``pattern_map.npz``) are written into a folder beside
the destination and renamed into place only when all are complete: a failure leaves nothing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.errors import AnalysisError
from analysis.field_of_view import resolve_field_of_view
from analysis.overlay import write_montage
from analysis.pattern_map import build_pattern_map
from analysis.settings import AnalysisSettings
from analysis.summary import summarise
from analysis.tiles import check_in_plane
from client.triton import TritonClassifier
from study.quantify import quantify
from study.reader import read_study

REPORT_NAME = "report.json"
OVERLAY_NAME = "overlay.png"
MAP_NAME = "pattern_map.npz"
DISCLAIMER = "research use only: not a medical device, not for diagnosis"


def analyse_study(
    path: Path,
    destination: Path,
    classifier: TritonClassifier,
    model: str,
    settings: AnalysisSettings,
    quiet: bool,
) -> dict:
    """Analyse the study at ``path`` into the new folder ``destination``; return its report."""
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
    )
    classified = time.perf_counter()
    report = {
        "study": path.name,
        "disclaimer": DISCLAIMER,
        "model": {
            "name": info.name,
            "versions": list(info.versions),
            "image_size": info.image_size,
            "field_of_view_mm": field.millimetres,
            "field_of_view_source": field.source,
        },
        "settings": dataclasses.asdict(settings),
        "tiles": {
            "count": pattern_map.tiles,
            "edge_tiles_filled": pattern_map.filled_tiles,
            "side_px": pattern_map.tile_side_px,
            "cell_px": pattern_map.cell_px,
            "analysed_slices": len(pattern_map.analysed_slices),
        },
        "patterns": summarise(pattern_map.labels, masks.labels, settings.predominance_points),
        "quantification": quantification,
        "warnings": [*quantification["warnings"], *([field.warning] if field.warning else [])],
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        write_montage(
            staging / OVERLAY_NAME,
            volume.hounsfield,
            pattern_map.labels,
            list(pattern_map.analysed_slices),
            settings.overlay_slices,
        )
        # The map for later outputs (DICOM SEG) and checks: labels lowest slice first, as the volume.
        np.savez_compressed(
            staging / MAP_NAME,
            labels=pattern_map.labels,
            analysed_slices=np.array(pattern_map.analysed_slices),
        )
        report["seconds"] = {
            "read": round(read - started, 3),
            "segment_and_quantify": round(segmented - read, 3),
            "tile_and_classify": round(classified - segmented, 3),
            "write": round(time.perf_counter() - classified, 3),
        }
        (staging / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        staging.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report
