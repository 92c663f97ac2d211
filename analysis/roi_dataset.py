"""`emphysema roi-dataset`: cut labelled square ROIs of a physical size from studies with a pattern map.

Input: study folders holding a series and a pattern map (0 outside the lungs, 1 NT, 2 CLE, 3 PSE,
4 PLE): the phantom's ``labels.npz`` (with ``truth.json``) as `emphysema synth-study` writes them,
or a user's ``labels.nii.gz`` or DICOM SEG ``labels.dcm`` (``analysis.label_sources``), given one
by one or as the folder holding them; or one study (DICOM folder, .zip, NIfTI) with ``--labels``.
Output (``DIR``), a data set `emphysema train` reads::

    DIR/CLASS/STUDY_zSSS_rRRR_cCCC.png  16-bit, HU + 1024, the ROI resampled to roi_pixels square
    DIR/manifest.csv                    path,label,patient_id,severity (patient: truth.json's
                                        patient_id, else the study)
    DIR/rois.csv                        path,study,slice,top,left,side_px,lung_share,emphysema_share,
                                        density_shift_hu
    DIR/roi_dataset_settings.json       the resolved settings, field_of_view_mm,
                                        density_reference_hu, the arguments

Each study is first shifted to the density reference (``analysis.density_reference``; the lungs
segmented as `analyze` segments them), unless ``--density-reference-hu none``.

An ROI is kept when lung covers at least ``minimum_lung_share`` of it. It is labelled as
radiologists label regions: NT when emphysema covers at most ``normal_ceiling`` of its lung; the
most frequent emphysema pattern when emphysema covers at least ``emphysema_share`` (a
centrilobular region is mostly normal lung around its lucencies, so a voxel majority would call
it NT); ROIs in between, or mixing patterns, are skipped (``RoiSettings``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from analysis.density_reference import density_shift_hu, shift_hounsfield
from analysis.errors import AnalysisError
from analysis.label_sources import LABEL_FILES, find_labelled_studies, read_labelled_study
from analysis.region_rule import pattern_counts, region_label
from analysis.settings import DEFAULT_ROI_MM, DEFAULT_ROI_PIXELS, RoiSettings
from analysis.tiles import (
    AIR_HU,
    check_in_plane,
    crop,
    lung_slices,
    pixels_for,
    resample_hounsfield,
    tile_slice,
)
from imaging.contract import CLASS_NAMES, ROI_DATASET_SETTINGS
from imaging.errors import UsageError
from imaging.hounsfield import UNSIGNED_HU_OFFSET
from imaging.phantom.files import encode_png
from imaging.staging import check_output_folder, staged_folder
from study.lungs import segment_lungs

SETTINGS_NAME = ROI_DATASET_SETTINGS
ROI_COLUMNS = (
    "path",
    "study",
    "slice",
    "top",
    "left",
    "side_px",
    "lung_share",
    "emphysema_share",
    "density_shift_hu",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema roi-dataset`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema roi-dataset", description=__doc__.split("\n")[0])
    parser.add_argument("studies", nargs="+", type=Path, help="study folders, or a folder of them")
    parser.add_argument(
        "--labels",
        type=Path,
        help="the pattern map of the one STUDY: NIfTI or DICOM SEG (default: the study folder's "
        + ", ".join(LABEL_FILES)
        + ")",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be empty or new)")
    parser.add_argument(
        "--roi-mm", type=float, default=DEFAULT_ROI_MM, help=f"ROI side in mm (default {DEFAULT_ROI_MM:g})"
    )
    parser.add_argument(
        "--roi-pixels",
        type=int,
        default=DEFAULT_ROI_PIXELS,
        help=f"stored ROI side in px (default {DEFAULT_ROI_PIXELS})",
    )
    parser.add_argument(
        "--stride-mm", type=float, help="distance between ROI centres (default: the ROI side)"
    )
    parser.add_argument(
        "--slice-step",
        type=int,
        default=RoiSettings.slice_step,
        help="use every Nth lung slice (default %(default)s)",
    )
    parser.add_argument(
        "--density-reference-hu",
        type=density_reference_argument,
        default=RoiSettings.density_reference_hu,
        help="shift each study so its lung density reference is this many HU, 'none' for raw HU "
        "(default %(default)g)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def density_reference_argument(text: str) -> float | None:
    """``--density-reference-hu``: a number of HU, or ``none``."""
    return None if text.lower() == "none" else float(text)


def label_roi(pattern_crop: np.ndarray, settings: RoiSettings) -> tuple[int, float, float] | None:
    """Return ``(class index, lung share, emphysema share)`` of an ROI, or None when it is skipped."""
    counts = pattern_counts(pattern_crop)
    lung = int(counts.sum())
    lung_share = lung / pattern_crop.size
    if lung_share < settings.minimum_lung_share:
        return None
    label = region_label(counts, settings)
    return None if label is None else (label, lung_share, int(counts[1:].sum()) / lung)


def extract_study(
    folder: Path, out: Path, settings: RoiSettings, labels: Path | None = None
) -> tuple[list[tuple], list[tuple]]:
    """Write one study's ROIs under ``out``; return its manifest rows and ROI rows."""
    study = read_labelled_study(folder, labels)
    hounsfield, shift = study.volume.hounsfield, None
    if settings.density_reference_hu is not None:
        lungs = segment_lungs(study.volume).labels
        shift = density_shift_hu(hounsfield, lungs, settings.density_reference_hu)
        hounsfield = shift_hounsfield(hounsfield, shift)
    spacing, pattern, severity = (
        study.volume.spacing_mm,
        study.pattern,
        study.severity,
    )
    check_in_plane(spacing, settings.roi_mm, hounsfield.shape)
    side, cell = pixels_for(settings.roi_mm, spacing[1]), pixels_for(settings.resolved_stride_mm, spacing[1])
    # Two reconstructions of one phantom patient name one patient_id: one split, never both.
    patient = (study.truth or {}).get("patient_id", study.name)
    manifest, rois = [], []
    for index in lung_slices(pattern > 0, settings.slice_step):
        for tile in tile_slice(pattern[index] > 0, index, cell, side):
            labelled = label_roi(crop(pattern[index], tile.top, tile.left, side, 0), settings)
            if labelled is None:
                continue
            label, lung_share, emphysema_share = labelled
            name = CLASS_NAMES[label]
            path = f"{name}/{study.name}_z{index:03d}_r{tile.top:04d}_c{tile.left:04d}.png"
            pixels = crop(hounsfield[index], tile.top, tile.left, side, AIR_HU)
            pixels = np.rint(resample_hounsfield(pixels, settings.roi_pixels)).astype(np.int16)
            (out / path).parent.mkdir(exist_ok=True)
            (out / path).write_bytes(encode_png(pixels))
            manifest.append((path, name, patient, severity or ""))
            rois.append(
                (
                    path,
                    study.name,
                    index,
                    tile.top,
                    tile.left,
                    side,
                    round(lung_share, 4),
                    round(emphysema_share, 4),
                    "" if shift is None else shift,
                )
            )
    return manifest, rois


def _write_csv(path: Path, header: Sequence[str], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema roi-dataset``; 0 on success."""
    arguments = build_parser().parse_args(argv)
    settings = RoiSettings(
        arguments.roi_mm,
        arguments.roi_pixels,
        arguments.stride_mm,
        arguments.slice_step,
        density_reference_hu=arguments.density_reference_hu,
    )
    if arguments.labels is not None:
        if len(arguments.studies) != 1:
            raise UsageError("--labels goes with exactly one STUDY")
        if not arguments.labels.is_file():
            raise UsageError(f"{arguments.labels}: no such label file (check --labels)")
        studies = list(arguments.studies)
    else:
        studies = find_labelled_studies(arguments.studies)
    check_output_folder(arguments.out, arguments.overwrite)
    manifest, rois = [], []
    with staged_folder(arguments.out) as staging:
        for folder in tqdm(studies, desc="Cutting ROIs", unit="study", disable=arguments.quiet):
            study_manifest, study_rois = extract_study(folder, staging, settings, arguments.labels)
            manifest += study_manifest
            rois += study_rois
        if not manifest:
            raise AnalysisError("no ROI had enough lung: lower --roi-mm or check the pattern maps")
        _write_csv(staging / "manifest.csv", ("path", "label", "patient_id", "severity"), manifest)
        _write_csv(staging / "rois.csv", ROI_COLUMNS, rois)
        record = {
            "field_of_view_mm": settings.roi_mm,
            "density_reference_hu": settings.density_reference_hu,
            "settings": dataclasses.asdict(settings),
            "storage": {
                "unsigned_16_bit": f"HU + {UNSIGNED_HU_OFFSET}",
                "hounsfield_offset": UNSIGNED_HU_OFFSET,
            },
            "studies": [folder.name for folder in studies],
        }
        (staging / SETTINGS_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    counts = {name: sum(row[1] == name for row in manifest) for name in CLASS_NAMES}
    where = f"{len(studies)} studies to {arguments.out}"
    print(f"Wrote {len(manifest)} ROIs of {settings.roi_mm:g} mm from {where}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
