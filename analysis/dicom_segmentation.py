"""Write the pattern map as a DICOM SEG on the source CT images (highdicom): one segment per pattern.

Segment ``n`` is the contract's ``n``-th class (1 NT, 2 CLE, 3 PSE, 4 PLE, as in the map), coded
in SNOMED CT (``analysis.dicom_codes``), with the model as its algorithm identification. Frames
are binary, one per segment and source image holding that segment, each on its own source
instance: the map is turned back from volume orientation into the images' stored pixel order
(``SourceSeries.to_stored``). Slices that were not analysed have no frames.
"""

from __future__ import annotations

from pathlib import Path

import highdicom
import numpy as np
from pydicom.sr.codedict import codes

from analysis.dicom_codes import LUNG, PATTERN_CONCEPTS
from analysis.dicom_equipment import (
    DEVICE_SERIAL_NUMBER,
    MANUFACTURER,
    MANUFACTURER_MODEL,
    SERIES_NUMBERS,
    ModelIdentity,
    software_version,
)
from analysis.output_uids import OutputUids
from study.source_series import SourceSeries

CONTENT_LABEL = "EMPHYSEMA"


def segment_descriptions(model: ModelIdentity, uids: OutputUids) -> list[highdicom.seg.SegmentDescription]:
    """One description per pattern, numbered as the pattern map's labels."""
    algorithm = highdicom.AlgorithmIdentificationSequence(
        name=model.name,
        family=codes.DCM.ArtificialIntelligence,
        version=model.version,
        parameters={"field_of_view_mm": f"{model.field_of_view_mm:g}"},
    )
    return [
        highdicom.seg.SegmentDescription(
            segment_number=number,
            segment_label=pattern,
            segmented_property_category=category,
            segmented_property_type=concept,
            algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=uids.tracking(f"segment-{pattern}"),
            tracking_id=f"{pattern}: {description}",
            anatomic_regions=[LUNG],
        )
        for number, (pattern, (category, concept, description)) in enumerate(PATTERN_CONCEPTS.items(), 1)
    ]


def write_segmentation(
    path: Path, labels: np.ndarray, source: SourceSeries, model: ModelIdentity, uids: OutputUids
) -> highdicom.seg.Segmentation:
    """Write the map ``labels`` (volume orientation, 0 background, 1..4 patterns) as a SEG at ``path``."""
    if labels.shape[0] != len(source.headers):
        raise ValueError(f"the map has {labels.shape[0]} slices, the source series {len(source.headers)}")
    segmentation = highdicom.seg.Segmentation(
        source_images=list(source.headers),
        pixel_array=source.to_stored(labels),
        segmentation_type=highdicom.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(model, uids),
        series_instance_uid=uids.series["segmentation"],
        series_number=SERIES_NUMBERS["segmentation"],
        sop_instance_uid=uids.instance["segmentation"],
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MANUFACTURER_MODEL,
        software_versions=software_version(),
        device_serial_number=DEVICE_SERIAL_NUMBER,
        content_label=CONTENT_LABEL,
        content_description=f"Emphysema patterns by {model.name} (research use only)"[:64],
        series_description="Emphysema pattern map (research use only)",
    )
    segmentation.save_as(path)
    return segmentation
