"""The result view of one analysed study: figures, slices with the pattern overlay, zones, files.

Key figures, a slice scroller with the pattern overlay, the zone chart, the quantification table
and a download of every file the analysis wrote. It only displays a
:class:`web.study_run.StudyResult`; the study page and the PACS page share it.
"""

from __future__ import annotations

import mimetypes
import re

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw

from analysis.density_reference import describe_shift
from analysis.output_files import DISCLAIMER
from analysis.overlay import PATTERN_COLOURS, overlay_slice
from imaging.contract import CLASS_NAMES
from imaging.hounsfield import hounsfield_window
from web.study_run import StudyResult

# The Okabe-Ito colours of the overlay, as the chart's series colours.
PATTERN_HEX = ["#{:02x}{:02x}{:02x}".format(*map(int, colour)) for colour in PATTERN_COLOURS]
ZONE_REGIONS = tuple(
    f"{lung}{zone}Third" for lung in ("Right", "Left") for zone in ("Upper", "Middle", "Lower")
)
TABLE_REGIONS = ("WholeLung", "RightLung", "LeftLung", *ZONE_REGIONS)
EXTRA_MIME = {".json": "application/json", ".dcm": "application/dicom", ".npz": "application/octet-stream"}


def region_title(name: str) -> str:
    """``"RightUpperThird"`` -> ``"Right upper third"``."""
    words = re.findall(r"[A-Z][a-z]*", name)
    return " ".join([words[0], *(word.lower() for word in words[1:])])


def legend_image(height: int = 22) -> np.ndarray:
    """A strip naming each pattern beside a swatch of its overlay colour."""
    canvas = Image.new("RGB", (70 * len(CLASS_NAMES), height), "white")
    draw = ImageDraw.Draw(canvas)
    for position, name in enumerate(CLASS_NAMES):
        left = 4 + position * 70
        fill = tuple(map(int, PATTERN_COLOURS[position]))
        draw.rectangle([left, 5, left + 12, height - 5], fill=fill, outline="black")
        draw.text((left + 17, 5), name, fill="black")
    return np.asarray(canvas)


def key_figures(result: StudyResult) -> None:
    """Dominant pattern, emphysema share, zone predominance, the model and every warning."""
    patterns = result.report["patterns"]
    whole = patterns["regions"]["WholeLung"]
    quantified = result.report["quantification"]["regions"]["WholeLung"]
    columns = st.columns(4)
    columns[0].metric("Dominant pattern", whole["dominant"] or "-")
    emphysema = whole["emphysema_percent"]
    columns[1].metric("Emphysema (CLE+PSE+PLE)", "-" if emphysema is None else f"{emphysema:.1f} %")
    columns[2].metric("Zone predominance", patterns["zones"]["predominance"])
    columns[3].metric("LAA-950", f"{quantified['laa950_percent']:.1f} %")
    model = result.report["model"]
    st.caption(
        f"{result.name}: model {model['name']} (version {', '.join(model['versions']) or '?'}), "
        f"{result.report['tiles']['count']} regions of {model['field_of_view_mm']:g} mm classified on "
        f"{result.report['tiles']['analysed_slices']} of {result.slice_count} slices; "
        + describe_shift(model["density_reference_hu"], result.report["tiles"]["density_shift_hu"])
        + "."
    )
    for warning in result.report["warnings"]:
        st.warning(warning, icon=":material/info:")
    st.warning(f"For {DISCLAIMER}.", icon=":material/warning:")


def slice_scroller(result: StudyResult) -> None:
    """One analysed slice at a time, from the apex down, with the pattern map in colour."""
    count = len(result.slice_numbers)
    if count == 0:
        st.info("No slice was analysed.")
        return
    position = (
        st.slider("Slice (from the top)", 1, count, (count + 1) // 2, key="study_slice") if count > 1 else 1
    )
    index = count - position  # the stored slices run lowest first
    show_overlay = st.toggle("Pattern overlay", value=True, key="study_overlay")
    if show_overlay:
        image = overlay_slice(result.hounsfield[index], result.labels[index])
    else:
        image = hounsfield_window(result.hounsfield[index].astype(np.float32))
    number = result.slice_count - result.slice_numbers[index]
    caption = f"Slice {number} of {result.slice_count} from the top (lung window W1500/L-600)"
    st.image(image, caption=caption, width="stretch")
    st.image(legend_image(), width=280)


def zone_chart(report: dict) -> None:
    """The share of each pattern in every lung third, as stacked bars in the overlay's colours."""
    regions = report["patterns"]["regions"]
    rows = [
        {
            "region": region_title(name),
            **{p: regions[name]["pattern_percent"].get(p, 0.0) for p in CLASS_NAMES},
        }
        for name in ZONE_REGIONS
        if regions.get(name, {}).get("voxels")
    ]
    st.markdown("##### Pattern share per lung third")
    if not rows:
        st.info("No lung third holds analysed lung.")
        return
    chart = pd.DataFrame(rows)
    st.bar_chart(
        chart,
        x="region",
        y=list(CLASS_NAMES),
        # Streamlit names the axes before turning the chart horizontal: y is the value axis.
        x_label="",
        y_label="% of the third's analysed lung",
        color=PATTERN_HEX,
        horizontal=True,
        sort=False,
        height=300,
    )
    zones = report["patterns"]["zones"]
    st.caption(
        f"Emphysema in the upper third {zones['upper_emphysema_percent']:.1f} %, lower third "
        f"{zones['lower_emphysema_percent']:.1f} %: predominance **{zones['predominance']}** "
        f"(margin {zones['margin_points']:g} points)."
    )


def quantification_table(report: dict) -> pd.DataFrame:
    """Volume, density figures and pattern shares per region, as the page shows them."""
    measured, patterns = report["quantification"]["regions"], report["patterns"]["regions"]
    rows = []
    for name in TABLE_REGIONS:
        if name not in measured:
            continue
        figures, shares = measured[name], patterns.get(name, {})
        rows.append(
            {
                "region": region_title(name),
                "volume (mL)": figures["volume_ml"],
                "mean HU": figures["mean_hu"],
                "LAA-950 (%)": figures["laa950_percent"],
                "LAA-910 (%)": figures["laa910_percent"],
                "Perc15 (HU)": figures["perc15_hu"],
                "emphysema (%)": shares.get("emphysema_percent"),
                "dominant": shares.get("dominant"),
                **{f"{p} (%)": shares.get("pattern_percent", {}).get(p) for p in CLASS_NAMES},
            }
        )
    return pd.DataFrame(rows)


def downloads(result: StudyResult) -> None:
    """A download button for every file the analysis wrote (report, overlay, map, and any others)."""
    st.markdown("##### Result files")
    prefix = re.sub(r"[^A-Za-z0-9._-]+", "_", result.name).strip("_") or "study"
    for path, data in result.files.items():
        suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
        mime = EXTRA_MIME.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        st.download_button(
            f"{path} ({len(data) / 1024:.0f} KiB)",
            data,
            file_name=f"{prefix}_{path.replace('/', '_')}",
            mime=mime,
            key=f"download_{path}",
        )


def show_study_result(result: StudyResult) -> None:
    """The whole result view."""
    st.subheader(f"Study analysis: {result.name}", anchor=False)
    key_figures(result)
    image_column, chart_column = st.columns([1, 1])
    with image_column:
        slice_scroller(result)
    with chart_column:
        zone_chart(result.report)
    st.markdown("##### Quantification")
    st.dataframe(quantification_table(result.report), hide_index=True)
    downloads(result)
