"""The quantify report as a screen table and as one CSV row per study."""

from __future__ import annotations

import csv
from pathlib import Path

REGIONS = (
    "WholeLung",
    "RightLung",
    "LeftLung",
    "RightUpperThird",
    "RightMiddleThird",
    "RightLowerThird",
    "LeftUpperThird",
    "LeftMiddleThird",
    "LeftLowerThird",
)
MEASURES = ("volume_ml", "mean_hu", "laa950_percent", "laa910_percent", "laa856_percent", "perc15_hu")
CSV_COLUMNS = ["study", "input", "status", "error", "kernel", "slice_thickness_mm"] + [
    f"{region}_{measure}" for region in REGIONS for measure in MEASURES
]


def format_table(report: dict) -> str:
    """Return a fixed-width table of every region, with the scanner line and the warnings."""
    scanner = report["scanner"]
    thickness = scanner["slice_thickness_mm"]
    lines = [
        f"{report['study']}  {report['input']}",
        f"kernel {scanner['kernel'] or 'unknown'}, slice thickness "
        f"{'unknown' if thickness is None else f'{thickness:g} mm'}, {scanner['shape'][0]} slices",
        f"{'Region':<18}{'Volume L':>9}{'MLD HU':>9}"
        + "".join(f"{title:>11}" for title in ("LAA-950 %", "LAA-910 %", "LAA-856 %", "Perc15 HU")),
    ]
    for region in REGIONS:
        values = report["regions"][region]
        if not values["voxels"]:
            lines.append(f"{region:<18}{'empty':>9}")
            continue
        lines.append(
            f"{region:<18}{values['volume_ml'] / 1000:>9.2f}{values['mean_hu']:>9.1f}"
            f"{values['laa950_percent']:>11.2f}{values['laa910_percent']:>11.2f}{values['laa856_percent']:>11.2f}{values['perc15_hu']:>11.1f}"
        )
    lines += [f"warning: {warning}" for warning in report["warnings"]]
    return "\n".join(lines) + "\n"


def csv_row(name: str, path: Path, report: dict | None, error: str) -> list:
    """One CSV row: identity, status, scanner and every region's measures (blank when failed)."""
    if report is None:
        return [name, str(path), "failed", error] + [""] * (len(CSV_COLUMNS) - 4)
    scanner = report["scanner"]
    row = [name, str(path), "ok", "", scanner["kernel"] or "", scanner["slice_thickness_mm"] or ""]
    for region in REGIONS:
        row += [report["regions"][region][measure] for measure in MEASURES]
    return row


def write_csv(path: Path, rows: list[list]) -> None:
    """Write the header and the rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
