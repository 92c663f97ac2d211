"""The coded concepts of the DICOM results: the patterns, the lung regions and the measurements.

Patterns and anatomy use SNOMED CT (SCT) where a concept exists: centriacinar (= centrilobular)
emphysema 68328006, paraseptal emphysema 31898008, panacinar (= panlobular) emphysema 4981000, lung
parenchyma 113255004 for normal tissue; lung 39607008 and its upper, middle and lower zones with
laterality. Measurements with no standard concept (LAA-950, Perc15, the share of a pattern) use
this project's private scheme ``99EMPHHRCT`` with their definition as the meaning.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

PRIVATE_SCHEME = "99EMPHHRCT"
TISSUE = CodedConcept("85756007", "SCT", "Tissue")
MORPHOLOGICALLY_ABNORMAL = CodedConcept("49755003", "SCT", "Morphologically Abnormal Structure")
LUNG = CodedConcept("39607008", "SCT", "Lung")
EMPHYSEMA = CodedConcept("87433001", "SCT", "Pulmonary emphysema")

# pattern -> (category, type, description)
PATTERN_CONCEPTS: dict[str, tuple[CodedConcept, CodedConcept, str]] = {
    "NT": (TISSUE, CodedConcept("113255004", "SCT", "Parenchyma of lung"), "normal lung tissue"),
    "CLE": (
        MORPHOLOGICALLY_ABNORMAL,
        CodedConcept("68328006", "SCT", "Centriacinar emphysema"),
        "centrilobular emphysema",
    ),
    "PSE": (
        MORPHOLOGICALLY_ABNORMAL,
        CodedConcept("31898008", "SCT", "Paraseptal emphysema"),
        "paraseptal emphysema",
    ),
    "PLE": (
        MORPHOLOGICALLY_ABNORMAL,
        CodedConcept("4981000", "SCT", "Panacinar emphysema"),
        "panlobular emphysema",
    ),
}

ZONE_CONCEPTS = {
    "Upper": CodedConcept("281392002", "SCT", "Upper zone of lung"),
    "Middle": CodedConcept("281393007", "SCT", "Middle zone of lung"),
    "Lower": CodedConcept("281394001", "SCT", "Lower zone of lung"),
}
LATERALITY = {"Right": codes.SCT.Right, "Left": codes.SCT.Left}

VOLUME = codes.SCT.Volume
MILLILITRE = CodedConcept("ml", "UCUM", "milliliter")
PERCENT = codes.UCUM.Percent
HOUNSFIELD_UNIT = codes.UCUM.HounsfieldUnit
LAA950 = CodedConcept("LAA950", PRIVATE_SCHEME, "Lung volume below -950 HU")
PERC15 = CodedConcept("PERC15", PRIVATE_SCHEME, "15th percentile of lung attenuation")
EMPHYSEMA_SHARE = CodedConcept("SHARE-EMPH", PRIVATE_SCHEME, "Lung volume share of emphysema patterns")
DOMINANT_PATTERN = CodedConcept("DOMINANT", PRIVATE_SCHEME, "Dominant lung pattern")
DOMINANT_EMPHYSEMA = CodedConcept("DOMINANT-EMPH", PRIVATE_SCHEME, "Dominant emphysema pattern")
PREDOMINANCE = CodedConcept("PREDOMINANCE", PRIVATE_SCHEME, "Emphysema zone predominance")
PREDOMINANCE_VALUES = {
    "upper": ZONE_CONCEPTS["Upper"],
    "lower": ZONE_CONCEPTS["Lower"],
    "none": CodedConcept("NO-PREDOMINANCE", PRIVATE_SCHEME, "No zone predominance"),
}


def pattern_share(pattern: str) -> CodedConcept:
    """The concept name of one pattern's share of a region's lung volume."""
    return CodedConcept(f"SHARE-{pattern}", PRIVATE_SCHEME, f"Lung volume share of {pattern}")


def finding_site(region: str):
    """Return ``(anatomic location, laterality or None)`` of a region name (``RightUpperThird``...)."""
    side = next((name for name in LATERALITY if region.startswith(name)), None)
    zone = next((name for name in ZONE_CONCEPTS if region.endswith(f"{name}Third")), None)
    location = ZONE_CONCEPTS[zone] if zone else LUNG
    return location, LATERALITY[side] if side else None
