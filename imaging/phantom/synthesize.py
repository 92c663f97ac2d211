"""`emphysema synth`: write the synthetic HRCT phantom data set.

Output (``DIR``)::

    DIR/CLASS/PATIENT_sNN.png    16-bit, HU + 1024 (or .dcm: CT DICOM, RescaleIntercept -1024)
    DIR/manifest.csv             path,label,patient_id,severity (paths relative to DIR)
    DIR/contact_sheet.png        classes x severities in the lung window
    DIR/synth_settings.json      the resolved phantom settings and the arguments

The data set is written into a temporary folder next to ``DIR`` and renamed into place at the
end, so an interrupted run leaves no half-written data set. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from imaging.classes import SEVERITIES
from imaging.contract import CLASS_NAMES
from imaging.dataset import PHANTOM_SETTINGS_NAME
from imaging.errors import UsageError
from imaging.hounsfield import UNSIGNED_HU_OFFSET
from imaging.phantom.cohort import PatientPlan, plan_cohort, slice_generator
from imaging.phantom.files import encode_dicom, encode_png, write_contact_sheet
from imaging.phantom.generator import PhantomSettings, generate_slice
from imaging.staging import check_output_folder, staged_folder

MANIFEST_COLUMNS = ("path", "label", "patient_id", "severity")
EXTENSIONS = {"png": ".png", "dicom": ".dcm"}


def parse_class_balance(text: str) -> dict[str, float]:
    """Parse ``NT=2,CLE=1,PSE=1,PLE=1`` into class weights (missing classes get weight 0)."""
    weights = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, separator, value = part.partition("=")
        label = name.strip().upper()
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not separator or label not in CLASS_NAMES or weight < 0:
            raise argparse.ArgumentTypeError(
                f"bad class balance {part!r}: use CLASS=WEIGHT pairs like NT=2,CLE=1,PSE=1,PLE=1 "
                f"(classes {', '.join(CLASS_NAMES)}, weights >= 0)"
            )
        weights[label] = weight
    if not weights or sum(weights.values()) <= 0:
        raise argparse.ArgumentTypeError(f"class balance {text!r} gives every class weight 0")
    return weights


def positive_integer(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the ``emphysema synth`` argument parser."""
    parser = argparse.ArgumentParser(prog="emphysema synth", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder, empty or new (required)")
    parser.add_argument(
        "--patients", type=positive_integer, default=40, help="number of patients (default 40)"
    )
    parser.add_argument(
        "--slices-per-patient", type=positive_integer, default=4, help="slices per patient (default 4)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed: same seed, same data set (default 0)"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=PhantomSettings().image_size,
        help="image side in pixels (default %(default)s)",
    )
    parser.add_argument(
        "--format", choices=sorted(EXTENSIONS), default="png", help="file format (default png)"
    )
    parser.add_argument(
        "--class-balance",
        type=parse_class_balance,
        default=None,
        help="relative patient counts per class, e.g. NT=2,CLE=1,PSE=1,PLE=1 (default: balanced)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _file_name(plan: PatientPlan, slice_index: int, slices: int, image_format: str) -> str:
    digits = max(2, len(str(slices - 1)))
    return f"{plan.label}/{plan.patient_id}_s{slice_index:0{digits}d}{EXTENSIONS[image_format]}"


def write_dataset(
    folder: Path, arguments: argparse.Namespace, settings: PhantomSettings
) -> list[PatientPlan]:
    """Generate every slice into ``folder`` with its manifest, contact sheet and settings."""
    plans = plan_cohort(arguments.patients, arguments.seed, arguments.class_balance, settings)
    for label in sorted({plan.label for plan in plans}):
        (folder / label).mkdir()  # only classes with patients: an empty class folder is an error
    rows, examples = [], {}
    total = len(plans) * arguments.slices_per_patient
    progress = tqdm(total=total, desc="Synthesizing slices", unit="slice", disable=arguments.quiet)
    nt_column = 0
    for plan in plans:
        for slice_index in range(arguments.slices_per_patient):
            rng = slice_generator(arguments.seed, plan.index, slice_index)
            hounsfield = generate_slice(plan.label, plan.severity, plan.traits, rng, settings)
            relative = _file_name(plan, slice_index, arguments.slices_per_patient, arguments.format)
            if arguments.format == "png":
                data = encode_png(hounsfield)
            else:
                identity = {
                    "patient_id": plan.patient_id,
                    "seed": arguments.seed,
                    "slice_index": slice_index,
                    "pixel_spacing_mm": settings.pixel_spacing_mm,
                    "kernel": plan.traits.kernel,
                    "slice_thickness_mm": settings.slice_thickness_mm,
                    "slice_interval_mm": settings.slice_interval_mm,
                }
                data = encode_dicom(hounsfield, identity)
            (folder / relative).write_bytes(data)
            rows.append((relative, plan.label, plan.patient_id, plan.severity or ""))
            # The contact sheet shows each patient's first slice; NT fills its row with patients.
            key = (
                plan.label,
                SEVERITIES[nt_column] if plan.label == "NT" and nt_column < 4 else plan.severity,
            )
            if slice_index == 0 and key[1] is not None and key not in examples:
                caption = (
                    f"{plan.label} {plan.severity or 'normal'} | {plan.patient_id} | {plan.traits.kernel}"
                )
                examples[key] = (hounsfield, caption)
                nt_column += plan.label == "NT"
            progress.update()
    progress.close()
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)
    write_contact_sheet(folder / "contact_sheet.png", examples)
    (folder / PHANTOM_SETTINGS_NAME).write_text(_settings_json(arguments, settings, plans), encoding="utf-8")
    return plans


def _settings_json(arguments: argparse.Namespace, settings: PhantomSettings, plans: list[PatientPlan]) -> str:
    severities = collections.defaultdict(collections.Counter)
    for plan in plans:
        severities[plan.label][plan.severity or "none"] += 1
    record = {
        "arguments": {
            "patients": arguments.patients,
            "slices_per_patient": arguments.slices_per_patient,
            "seed": arguments.seed,
            "size": arguments.size,
            "format": arguments.format,
            "class_balance": arguments.class_balance,
        },
        "storage": {"unsigned_16_bit": f"HU + {UNSIGNED_HU_OFFSET}", "hounsfield_offset": UNSIGNED_HU_OFFSET},
        "patients_per_class_and_severity": {
            label: dict(sorted(severities[label].items())) for label in CLASS_NAMES
        },
        "phantom": dataclasses.asdict(settings),
    }
    return json.dumps(record, indent=2) + "\n"


def _summary(out: Path) -> str:
    from imaging.dataset import read_dataset, summarize  # reads the result back, as training will

    return summarize(read_dataset(out, require_all_classes=False))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``emphysema synth``; a bad --size or an unusable --out is a ``UsageError``."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        settings = PhantomSettings().with_image_size(arguments.size)
    except UsageError as error:
        parser.error(str(error))
    out: Path = arguments.out
    check_output_folder(out, arguments.overwrite)
    started = time.perf_counter()
    with staged_folder(out) as staging:
        plans = write_dataset(staging, arguments, settings)
    elapsed = time.perf_counter() - started
    print(f"Wrote {len(plans) * arguments.slices_per_patient} synthetic slices to {out} in {elapsed:.1f} s")
    print(_summary(out))
    print(f"Contact sheet: {out / 'contact_sheet.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
