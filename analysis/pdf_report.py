"""The two-page PDF report of one analysed study (matplotlib's PDF backend, no pyplot state).

Page 1: the disclaimer, the key figures per lung and third (volume, LAA-950, Perc15, the share of
each pattern, the dominant pattern), the zone predominance, the warnings and a bar chart of the
pattern shares per third. Page 2: the overlay montage and the HU histogram of the lungs. Patient
identifiers appear only when asked for (``patient``); the PDF's metadata never holds them.
Numbers are printed as ``format_figure`` writes them, so a reader (or a test) finds them as text.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.image
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analysis.density_reference import describe_shift
from analysis.output_files import DISCLAIMER
from analysis.overlay import PATTERN_COLOURS
from imaging.contract import CLASS_NAMES

A4_INCHES = (8.27, 11.69)
HISTOGRAM_RANGE_HU = (-1024, 0)
HISTOGRAM_BIN_HU = 8
# column -> (heading, source ("q" quantification, "p" patterns), key, decimals)
TABLE_COLUMNS = (
    ("Volume mL", "q", "volume_ml", 0),
    ("LAA-950 %", "q", "laa950_percent", 1),
    ("Perc15 HU", "q", "perc15_hu", 0),
    *((f"{name} %", "p", name, 1) for name in CLASS_NAMES),
    ("Dominant", "p", "dominant", None),
)


def format_figure(value, decimals: int | None) -> str:
    """A figure as the report prints it: fixed decimals, ``-`` when missing."""
    if value is None:
        return "-"
    return str(value) if decimals is None else f"{float(value):.{decimals}f}"


def lung_histogram(hounsfield: np.ndarray, lungs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(bin edges, voxel counts)`` of the lung voxels' HU over the lung range."""
    edges = np.arange(HISTOGRAM_RANGE_HU[0], HISTOGRAM_RANGE_HU[1] + HISTOGRAM_BIN_HU, HISTOGRAM_BIN_HU)
    counts, _ = np.histogram(hounsfield[lungs > 0], bins=edges)
    return edges, counts


def _row(region: str, report: dict) -> list[str]:
    shares = report["patterns"]["regions"][region]
    measured = report["quantification"]["regions"].get(region, {})
    cells = [region]
    for _, source, key, decimals in TABLE_COLUMNS:
        if source == "q":
            cells.append(format_figure(measured.get(key), decimals))
        elif key == "dominant":
            cells.append(format_figure(shares["dominant"], None))
        else:
            cells.append(format_figure(shares["pattern_percent"].get(key), decimals))
    return cells


def _summary_lines(report: dict, patient: dict | None) -> list[str]:
    model = report["model"]
    whole = report["patterns"]["regions"]["WholeLung"]
    zones = report["patterns"]["zones"]
    lines = [f"Study: {report['study']}"]
    if patient:
        lines.append("Patient: " + ", ".join(f"{key} {value}" for key, value in patient.items()))
    lines += [
        f"Model: {model['name']} version {','.join(model['versions'])}, field of view "
        f"{model['field_of_view_mm']:g} mm ({model['field_of_view_source']}); "
        f"{report['tiles']['count']} tiles; "
        + describe_shift(model["density_reference_hu"], report["tiles"]["density_shift_hu"]),
        f"Dominant pattern: {whole['dominant']}; dominant emphysema pattern: "
        f"{whole['dominant_emphysema'] or 'none'}",
        f"Zone predominance: {zones['predominance']} (upper thirds "
        f"{format_figure(zones['upper_emphysema_percent'], 1)} % emphysema, lower thirds "
        f"{format_figure(zones['lower_emphysema_percent'], 1)} %)",
    ]
    return lines


def _first_page(report: dict, patient: dict | None) -> Figure:
    figure = Figure(figsize=A4_INCHES)
    figure.text(0.06, 0.955, "Emphysema pattern analysis", fontsize=17, weight="bold")
    figure.text(0.06, 0.935, DISCLAIMER.upper(), fontsize=9, color="firebrick", weight="bold")
    for index, line in enumerate(_summary_lines(report, patient)):
        figure.text(0.06, 0.905 - index * 0.019, line, fontsize=9)
    regions = list(report["patterns"]["regions"])
    table_axes = figure.add_axes((0.04, 0.54, 0.92, 0.25))
    table_axes.axis("off")
    table_axes.set_title("Key figures per lung and third", fontsize=11, loc="left")
    table = table_axes.table(
        cellText=[_row(region, report) for region in regions],
        colLabels=["Region", *(heading for heading, *_ in TABLE_COLUMNS)],
        loc="upper left",
        cellLoc="right",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    table.scale(1.0, 1.35)
    table.auto_set_column_width(list(range(len(TABLE_COLUMNS) + 1)))
    notes = [f"Warning: {warning}" for warning in report.get("warnings", [])]
    if report.get("dicom", {}).get("note"):
        notes.append(f"Note: {report['dicom']['note']}")
    lines = [line for note in notes for line in textwrap.wrap(note, 130, subsequent_indent="    ")]
    for index, line in enumerate(lines[:8]):
        figure.text(0.06, 0.515 - index * 0.014, line, fontsize=7, color="dimgray")
    _zone_chart(figure.add_axes((0.2, 0.095, 0.72, 0.28)), report)
    return figure


def _zone_chart(axes, report: dict) -> None:
    thirds = [name for name in report["patterns"]["regions"] if name.endswith("Third")]
    left = np.zeros(len(thirds))
    for index, pattern in enumerate(CLASS_NAMES):
        shares = np.array(
            [report["patterns"]["regions"][name]["pattern_percent"].get(pattern, 0.0) for name in thirds]
        )
        axes.barh(thirds, shares, left=left, color=PATTERN_COLOURS[index] / 255, label=pattern)
        left += shares
    axes.set_xlim(0, 100)
    axes.invert_yaxis()
    axes.set_xlabel("share of the third's analysed lung volume (%)")
    axes.set_title("Pattern share per lung third", fontsize=11, loc="left")
    axes.legend(ncols=len(CLASS_NAMES), loc="lower center", bbox_to_anchor=(0.5, 1.06), frameon=False)


def _second_page(report: dict, overlay: np.ndarray, histogram: tuple[np.ndarray, np.ndarray]) -> Figure:
    figure = Figure(figsize=A4_INCHES)
    figure.text(0.06, 0.955, "Pattern overlay and lung attenuation", fontsize=15, weight="bold")
    image_axes = figure.add_axes((0.06, 0.42, 0.88, 0.5))
    image_axes.imshow(overlay)
    image_axes.axis("off")
    image_axes.set_title(
        "Analysed slices, highest first (NT green, CLE vermilion, PSE blue, PLE yellow)", fontsize=9
    )
    edges, counts = histogram
    whole = report["quantification"]["regions"]["WholeLung"]
    axes = figure.add_axes((0.1, 0.08, 0.84, 0.26))
    axes.stairs(counts, edges, fill=True, color="0.6")
    axes.axvline(-950, color="firebrick", linestyle="--", label="-950 HU (LAA-950)")
    if whole.get("perc15_hu") is not None:
        axes.axvline(whole["perc15_hu"], color="navy", linestyle=":", label="Perc15")
    axes.set_xlabel("HU")
    axes.set_ylabel("lung voxels")
    axes.set_title("HU histogram of the lungs", fontsize=11, loc="left")
    axes.legend(fontsize=8)
    return figure


def write_pdf_report(
    path: Path,
    report: dict,
    overlay_png: Path,
    histogram: tuple[np.ndarray, np.ndarray],
    patient: dict | None = None,
) -> None:
    """Write the two-page report; ``patient`` (name, ID, birth date) only when asked for."""
    overlay = matplotlib.image.imread(overlay_png)
    pages = (_first_page(report, patient), _second_page(report, overlay, histogram))
    # Type 3 fonts (matplotlib's default, set here against a user's matplotlibrc) keep the text
    # extractable and write four times faster than TrueType subsets; no creation date keeps the
    # bytes reproducible.
    with matplotlib.rc_context({"pdf.fonttype": 3}):
        with PdfPages(path, metadata={"Title": "Emphysema pattern analysis", "CreationDate": None}) as pdf:
            for figure in pages:
                figure.text(0.5, 0.02, DISCLAIMER, ha="center", fontsize=8, color="firebrick")
                pdf.savefig(figure)
