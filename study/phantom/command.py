"""`emphysema synth-study`: write synthetic chest-CT studies (DICOM series) with ground truth.

Output (``DIR``)::

    DIR/study-NNN/dicom/IM-NNNN.dcm   one CT file per slice (RescaleIntercept -1024)
    DIR/study-NNN/image.nii.gz        the same volume as NIfTI (with --nifti)
    DIR/study-NNN/labels.npz          anatomy and pattern label volumes (lowest slice first)
    DIR/study-NNN/truth.json          lung volumes, pattern shares and LAA-950 per region
    DIR/studies.csv                   study,pattern,severity,kernel,slice_thickness_mm,slices
    DIR/synth_study_settings.json     the resolved settings and the arguments

Studies cycle through the patterns (NT, CLE, PSE, PLE, CLE+PSE) and severities unless fixed.
The folder is built beside DIR and renamed into place at the end. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from imaging.classes import SEVERITIES
from imaging.phantom.settings import DEFAULT_KERNELS
from imaging.phantom.synthesize import positive_integer
from imaging.staging import check_output_folder, staged_folder
from study.phantom.chest import draw_chest
from study.phantom.dicom_series import write_series
from study.phantom.render import render_study
from study.phantom.settings import STUDY_PATTERNS, STUDY_SIZES, StudySettings, settings_for_size
from study.phantom.truth import build_truth, write_labels
from study.volume import Volume

CSV_COLUMNS = ("study", "pattern", "severity", "kernel", "slice_thickness_mm", "slices")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema synth-study`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema synth-study", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be empty or new)")
    parser.add_argument("--studies", type=positive_integer, default=5, help="number of studies (default 5)")
    parser.add_argument(
        "--pattern", choices=STUDY_PATTERNS, help="one pattern for every study (default: cycle)"
    )
    parser.add_argument(
        "--severity", choices=SEVERITIES, help="one severity for every study (default: cycle)"
    )
    parser.add_argument(
        "--size",
        choices=sorted(STUDY_SIZES),
        default="small",
        help="matrix: small 128 (tests), medium 256, full 512 (benchmarks); default small",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed: same seed, same studies (default 0)"
    )
    parser.add_argument(
        "--kernel",
        choices=[kernel.name for kernel in DEFAULT_KERNELS],
        help="reconstruct every study with this kernel (default: one drawn per patient); the same "
        "--seed on another --kernel gives the same patients, as two reconstructions of one scan",
    )
    parser.add_argument("--nifti", action="store_true", help="also write image.nii.gz per study")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def plan_studies(arguments: argparse.Namespace) -> list[tuple[str, str | None, int]]:
    """Return ``(pattern, severity, seed)`` per study; the seed mixes the run seed and the index."""
    plans = []
    for index in range(arguments.studies):
        pattern = arguments.pattern or STUDY_PATTERNS[index % len(STUDY_PATTERNS)]
        severity = arguments.severity or SEVERITIES[(index // len(STUDY_PATTERNS) + index) % len(SEVERITIES)]
        seed = int(np.random.SeedSequence([arguments.seed, index]).generate_state(1)[0])
        plans.append((pattern, None if pattern == "NT" else severity, seed))
    return plans


def write_study(
    folder: Path,
    pattern: str,
    severity: str | None,
    seed: int,
    settings: StudySettings,
    nifti: bool,
    kernel: str | None = None,
) -> dict:
    """Render one study into ``folder`` (DICOM series, labels, truth); return its truth record."""
    chest = draw_chest(pattern, severity, seed, settings, kernel)
    rendered = render_study(chest, settings, settings.margin_below_mm)
    details = {
        "kernel": chest.kernel,
        "thickness": chest.slice_thickness_mm,
        "interval": chest.slice_interval_mm,
        "spacing": chest.pixel_spacing_mm,
    }
    patient_id = f"SYN{seed % 10**8:08d}"
    write_series(
        folder / "dicom",
        rendered.hounsfield,
        rendered.grid.origin,
        rendered.positions,
        patient_id,
        str(seed),
        details,
    )
    spacing = (chest.slice_interval_mm, chest.pixel_spacing_mm, chest.pixel_spacing_mm)
    if nifti:
        from study.nifti import write_nifti

        origin = (*rendered.grid.origin, float(rendered.positions[0]))
        write_nifti(folder / "image.nii.gz", Volume(rendered.hounsfield, spacing, origin))
    write_labels(folder / "labels.npz", rendered)
    # The patient id lets roi-dataset keep two reconstructions of one patient in one split.
    truth = {"patient_id": patient_id, **build_truth(chest, rendered, spacing)}
    (folder / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema synth-study``; 0 on success, 2 on bad arguments or an unusable --out."""
    arguments = build_parser().parse_args(argv)
    settings = settings_for_size(arguments.size)
    check_output_folder(arguments.out, arguments.overwrite)
    started = time.perf_counter()
    plans = plan_studies(arguments)
    with staged_folder(arguments.out) as staging:
        rows = []
        for index, (pattern, severity, seed) in enumerate(
            tqdm(plans, desc="Synthesizing studies", unit="study", disable=arguments.quiet)
        ):
            name = f"study-{index:03d}"
            truth = write_study(
                staging / name, pattern, severity, seed, settings, arguments.nifti, arguments.kernel
            )
            scanner = truth["scanner"]
            rows.append(
                (
                    name,
                    pattern,
                    severity or "",
                    scanner["kernel"],
                    scanner["slice_thickness_mm"],
                    scanner["shape"][0],
                )
            )
        with (staging / "studies.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            writer.writerows(rows)
        record = {
            "arguments": {
                key: str(value) if isinstance(value, Path) else value
                for key, value in vars(arguments).items()
                if key not in {"out", "quiet"}
            },
            "settings": dataclasses.asdict(settings),
        }
        (staging / "synth_study_settings.json").write_text(
            json.dumps(record, indent=2) + "\n", encoding="utf-8"
        )
    print(
        f"Wrote {len(plans)} synthetic studies ({arguments.size}) to {arguments.out} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
