"""The names of the files `emphysema analyze` writes, defined once for the writers, the PACS and tests.

Per study (``DIR/STUDY/``): the report in JSON and PDF, the overlay, the pattern map, and the
DICOM results (a SEG of the pattern map, a TID 1500 SR of the figures, the PDF encapsulated in
DICOM). The DICOM files exist only for a study read from DICOM: a NIfTI study has no source
series to refer to (its report says so).
"""

from __future__ import annotations

REPORT_JSON = "report.json"
REPORT_PDF = "report.pdf"
OVERLAY_PNG = "overlay.png"
PATTERN_MAP_NPZ = "pattern_map.npz"
SEGMENTATION_DCM = "pattern_map_seg.dcm"
MEASUREMENT_REPORT_DCM = "measurements_sr.dcm"
REPORT_PDF_DCM = "report_pdf.dcm"
# The cohort's table, one row per study, beside the study folders.
COHORT_CSV = "analysis.csv"

# The DICOM results, in the order a PACS should store them (the SR and PDF may refer to the SEG).
DICOM_OUTPUTS: tuple[str, ...] = (SEGMENTATION_DCM, MEASUREMENT_REPORT_DCM, REPORT_PDF_DCM)

# Said on every report (JSON, PDF): what the results may and may not be used for.
DISCLAIMER = "research use only: not a medical device, not for diagnosis"
