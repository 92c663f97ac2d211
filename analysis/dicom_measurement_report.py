"""Write the study's figures as a DICOM SR measurement report (TID 1500, highdicom Comprehensive 3D SR).

One measurement group (TID 1501) per region of ``report.json`` (``WholeLung``, each lung, each
third), tracked by the region's name and a stable UID, its finding site the lung or lung zone with
laterality. Each group holds the region's volume (mL), LAA-950 (%), Perc15 (HU), the share of each
pattern and of emphysema (%), and as qualitative evaluations the dominant patterns; the whole lung
also the zone predominance. The source CT images are the evidence (the series referenced); the
observer is a device named after the model.
"""

from __future__ import annotations

from pathlib import Path

import highdicom
import pydicom
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from analysis.dicom_codes import (
    DOMINANT_EMPHYSEMA,
    DOMINANT_PATTERN,
    EMPHYSEMA,
    EMPHYSEMA_SHARE,
    HOUNSFIELD_UNIT,
    LAA950,
    MILLILITRE,
    PATTERN_CONCEPTS,
    PERC15,
    PERCENT,
    PREDOMINANCE,
    PREDOMINANCE_VALUES,
    PRIVATE_SCHEME,
    VOLUME,
    finding_site,
    pattern_share,
)
from analysis.dicom_equipment import MANUFACTURER, MANUFACTURER_MODEL, SERIES_NUMBERS, ModelIdentity
from analysis.output_uids import OutputUids
from study.source_series import SourceSeries

PROCEDURE = CodedConcept("169069000", "SCT", "Computed tomography of chest")
DENSITOMETRY = ("emphysema-hrct densitometry", "CIP definitions")


def _measurements(shares: dict, measured: dict, model: ModelIdentity) -> list[highdicom.sr.Measurement]:
    classifier = highdicom.sr.AlgorithmIdentification(name=model.name, version=model.version)
    densitometry = highdicom.sr.AlgorithmIdentification(*DENSITOMETRY)
    figures = [
        (VOLUME, measured.get("volume_ml") if measured.get("voxels") else None, MILLILITRE, densitometry),
        (LAA950, measured.get("laa950_percent"), PERCENT, densitometry),
        (PERC15, measured.get("perc15_hu"), HOUNSFIELD_UNIT, densitometry),
        *(
            (pattern_share(pattern), shares["pattern_percent"].get(pattern), PERCENT, classifier)
            for pattern in PATTERN_CONCEPTS
        ),
        (EMPHYSEMA_SHARE, shares["emphysema_percent"], PERCENT, classifier),
    ]
    return [
        highdicom.sr.Measurement(name=name, value=float(value), unit=unit, algorithm_id=algorithm)
        for name, value, unit, algorithm in figures
        if value is not None
    ]


def _evaluations(shares: dict, zones: dict | None) -> list[highdicom.sr.QualitativeEvaluation]:
    evaluations = [
        highdicom.sr.QualitativeEvaluation(concept, PATTERN_CONCEPTS[shares[key]][1])
        for concept, key in ((DOMINANT_PATTERN, "dominant"), (DOMINANT_EMPHYSEMA, "dominant_emphysema"))
        if shares[key]
    ]
    if zones is not None:
        evaluations.append(
            highdicom.sr.QualitativeEvaluation(PREDOMINANCE, PREDOMINANCE_VALUES[zones["predominance"]])
        )
    return evaluations


def measurement_groups(
    report: dict, model: ModelIdentity, uids: OutputUids
) -> list[highdicom.sr.MeasurementsAndQualitativeEvaluations]:
    """One TID 1501 group per region with any lung, in ``report.json``'s region order."""
    groups = []
    for region, shares in report["patterns"]["regions"].items():
        measured = report["quantification"]["regions"].get(region, {})
        measurements = _measurements(shares, measured, model)
        if not measurements:
            continue
        location, laterality = finding_site(region)
        whole = region == "WholeLung"
        groups.append(
            highdicom.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=highdicom.sr.TrackingIdentifier(
                    uid=uids.tracking(f"region-{region}"), identifier=region
                ),
                finding_type=EMPHYSEMA,
                finding_sites=[highdicom.sr.FindingSite(location, laterality=laterality)],
                measurements=measurements,
                qualitative_evaluations=_evaluations(shares, report["patterns"]["zones"] if whole else None),
            )
        )
    return groups


def write_measurement_report(
    path: Path, report: dict, source: SourceSeries, model: ModelIdentity, uids: OutputUids
) -> highdicom.sr.Comprehensive3DSR:
    """Write ``report``'s per-lung and per-zone figures as a TID 1500 SR referencing ``source``."""
    device = highdicom.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=highdicom.sr.DeviceObserverIdentifyingAttributes(
            uid=uids.tracking("observer-device"),
            name=model.name,
            manufacturer_name=MANUFACTURER,
            model_name=MANUFACTURER_MODEL,
        ),
    )
    content = highdicom.sr.MeasurementReport(
        observation_context=highdicom.sr.ObservationContext(observer_device_context=device),
        procedure_reported=PROCEDURE,
        imaging_measurements=measurement_groups(report, model, uids),
    )
    document = highdicom.sr.Comprehensive3DSR(
        evidence=list(source.headers),
        content=content,
        series_instance_uid=uids.series["measurement_report"],
        series_number=SERIES_NUMBERS["measurement_report"],
        sop_instance_uid=uids.instance["measurement_report"],
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description="Emphysema measurements (research use only)",
    )
    # A private coding scheme is named in the instance (PS3.3 section 8.2), so a reader can look it up.
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = "emphysema-hrct measurements"
    scheme.CodingSchemeResponsibleOrganization = "the emphysema-hrct project"
    document.CodingSchemeIdentificationSequence = [scheme]
    document.save_as(path)
    return document
