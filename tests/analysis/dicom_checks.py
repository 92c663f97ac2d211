"""Shared checks of the DICOM and PDF results: the validator, and a constructed analysis without Triton."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom

from analysis.field_of_view import FieldOfView
from analysis.pattern_map import PatternMap
from analysis.settings import AnalysisSettings
from analysis.study_analysis import study_report, write_analysis
from analysis.study_outputs import dicom_outputs
from analysis.summary import summarise
from client.contract import ModelInfo
from study.quantify import quantify
from study.volume import Volume

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "analysis"
MODEL = ModelInfo(
    name="simple_cnn", versions=("1", "2"), image_size=64, max_batch_size=8, field_of_view_mm=40.0
)
# HU bins -> pattern label, so a source image's own pixels say what its SEG frame must hold,
# whatever flips the reader made: (upper bound HU, label), first match wins; above all: 0.
HU_BINS = ((-950, 4), (-900, 3), (-800, 2), (-500, 1))


def labels_from_hounsfield(hounsfield: np.ndarray) -> np.ndarray:
    """The constructed pattern map: a label per voxel from its HU alone."""
    labels = np.zeros(hounsfield.shape, dtype=np.uint8)
    for upper, label in reversed(HU_BINS):
        labels[hounsfield < upper] = label
    return labels


def source_hounsfield(path: Path) -> tuple[str, np.ndarray]:
    """A source CT file's SOP Instance UID and HU in its stored pixel order."""
    dataset = pydicom.dcmread(path)
    return str(dataset.SOPInstanceUID), dataset.pixel_array * float(dataset.RescaleSlope) + float(
        dataset.RescaleIntercept
    )


def analyse_without_triton(volume: Volume, destination: Path, settings: AnalysisSettings) -> dict:
    """Write a study's results from the constructed map, as `analyze` would from Triton's answers."""
    quantification, masks = quantify(volume)
    labels = labels_from_hounsfield(volume.hounsfield)
    pattern_map = PatternMap(labels, tuple(range(volume.shape[0])), tiles=0, tile_side_px=0, cell_px=0)
    field = FieldOfView(MODEL.field_of_view_mm, "model")
    patterns = summarise(labels, masks.labels, settings.predominance_points)
    report = study_report(destination.name, MODEL, field, settings, pattern_map, patterns, quantification)
    report["dicom"] = dicom_outputs(volume, report, settings)
    write_analysis(destination, report, volume, masks.labels, pattern_map, settings, {})
    return report


def validator_errors(path: Path) -> tuple[list[str], list[str]]:
    """Run Debian's dicom3tools ``dciodvfy``; return its Error (and Abort) lines and its Warning lines."""
    assert shutil.which("dciodvfy"), "dciodvfy missing: apt-get install dicom3tools"
    assert path.is_file(), path
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    lines = (result.stdout + result.stderr).splitlines()
    errors = [line for line in lines if line.startswith(("Error", "Abort"))]
    return errors, [line for line in lines if line.startswith("Warning")]


def pdf_text(path: Path) -> str:
    """The PDF's text as poppler's ``pdftotext`` extracts it."""
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def render_pages(path: Path, prefix: str) -> list[Path]:
    """Render every page to PNG under test-artifacts/analysis with ``pdftoppm``; return the files."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{prefix}-*.png"):
        old.unlink()
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(path), str(ARTIFACTS / prefix)], check=True, timeout=120
    )
    return sorted(ARTIFACTS.glob(f"{prefix}-*.png"))


def expected_row(region: str, report: dict) -> list[str]:
    """A region's row of the PDF's key-figure table, formatted here from report.json."""
    measured = report["quantification"]["regions"][region]
    shares = report["patterns"]["regions"][region]
    return [
        region,
        f"{measured['volume_ml']:.0f}",
        f"{measured['laa950_percent']:.1f}",
        f"{measured['perc15_hu']:.0f}",
        *(f"{shares['pattern_percent'][pattern]:.1f}" for pattern in ("NT", "CLE", "PSE", "PLE")),
        shares["dominant"],
    ]


def check_pdf_report(path: Path, report: dict, patient: pydicom.Dataset | None, prefix: str) -> str:
    """Render the pages into test-artifacts; check the page count, the figures and the disclaimer.

    With ``patient`` (a source header), its name and ID must not be in the text. Returns the text.
    """
    pages = render_pages(path, prefix)
    assert len(pages) == 2 and all(page.stat().st_size > 10_000 for page in pages)
    text = pdf_text(path)
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip():  # the table's row comes first; the zone chart's tick labels later
            rows.setdefault(line.split()[0], line.split())
    for region in report["patterns"]["regions"]:
        assert rows[region] == expected_row(region, report), region
    whole = report["patterns"]["regions"]["WholeLung"]
    assert f"Dominant pattern: {whole['dominant']}" in text
    assert f"Zone predominance: {report['patterns']['zones']['predominance']}" in text
    assert report["disclaimer"] in text and report["disclaimer"].upper() in text
    if patient is not None:
        for identifier in (str(patient.PatientID), str(patient.PatientName)):
            assert identifier not in text
        assert str(patient.PatientName).split("^")[0] not in text
    return text
