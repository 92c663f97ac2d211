"""Deterministic UIDs for the DICOM results, so re-analysing a study re-creates the same instances.

Every Series and SOP Instance UID is derived (pydicom ``generate_uid(entropy_srcs=...)``, a hash
under pydicom's root) from the source SeriesInstanceUID, the model's name and versions, the
resolved field of view and the settings that change the figures. The same study analysed the
same way gives the same UIDs, so a PACS that already holds them stores nothing twice; any change
to the model or the analysis gives new ones. The PDF also depends on the presentation settings
(overlay slices, patient details), which leave the SEG and SR untouched.
"""

from __future__ import annotations

import dataclasses
import json

from pydicom.uid import generate_uid

from analysis.settings import AnalysisSettings

OUTPUT_KINDS = ("segmentation", "measurement_report", "report_pdf")
PRESENTATION_SETTINGS = ("overlay_slices", "include_patient_details")


@dataclasses.dataclass(frozen=True)
class OutputUids:
    """The UIDs of one study's DICOM results: ``series[kind]``, ``instance[kind]``, ``tracking(name)``."""

    key: str
    series: dict[str, str]
    instance: dict[str, str]

    def tracking(self, name: str) -> str:
        """A stable tracking UID for one SR measurement group or SEG segment (``name`` unique)."""
        return generate_uid(entropy_srcs=["emphysema-analyze", self.key, "tracking", name])


def output_uids(
    source_series_uid: str,
    model: str,
    versions: tuple[str, ...] | list[str],
    field_of_view_mm: float,
    settings: AnalysisSettings,
) -> OutputUids:
    """Return the UIDs of the SEG, SR and encapsulated PDF of one analysis of one series."""
    everything = dataclasses.asdict(settings)
    figures = {name: value for name, value in everything.items() if name not in PRESENTATION_SETTINGS}
    key = json.dumps(
        {
            "series": source_series_uid,
            "model": model,
            "versions": sorted(str(version) for version in versions),
            "field_of_view_mm": round(float(field_of_view_mm), 6),
            "settings": figures,
        },
        sort_keys=True,
    )
    presentation = json.dumps(
        {name: getattr(settings, name) for name in PRESENTATION_SETTINGS}, sort_keys=True
    )

    def derive(kind: str, what: str) -> str:
        extra = [presentation] if kind == "report_pdf" else []
        return generate_uid(entropy_srcs=["emphysema-analyze", key, kind, what, *extra])

    return OutputUids(
        key=key,
        series={kind: derive(kind, "series") for kind in OUTPUT_KINDS},
        instance={kind: derive(kind, "instance") for kind in OUTPUT_KINDS},
    )
