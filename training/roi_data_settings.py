"""What an ROI data set tells the model trained on it: its field of view and density reference.

`emphysema roi-dataset` writes ``roi_dataset_settings.json`` beside its ROIs with the ROI side
in mm and the density reference (HU) each study was shifted to. Training copies both into the
run's settings, so `emphysema export` can write them into the model card and the served config,
and a client tiles and shifts studies as the model learnt them. A data set without the file
(whole slices) gives a slice-level model: neither.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from imaging.contract import DENSITY_REFERENCE_PARAMETER, FIELD_OF_VIEW_PARAMETER, ROI_DATASET_SETTINGS
from training.errors import TrainingError
from training.settings import TrainSettings


def read_roi_data_settings(data_root: Path) -> tuple[float | None, float | None]:
    """Return ``(field of view mm, density reference HU)`` an ROI data set states.

    Both are None for a data set of whole slices; the reference is None for ROIs of raw HU.

    Raises:
        TrainingError: the settings file is there but unreadable, or states no positive size.
    """
    path = Path(data_root) / ROI_DATASET_SETTINGS
    if not path.is_file():
        return None, None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        value = record[FIELD_OF_VIEW_PARAMETER]
        millimetres = float(value)
        reference = record.get(DENSITY_REFERENCE_PARAMETER)
        reference = None if reference is None else float(reference)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise TrainingError(
            f"{path}: cannot read {FIELD_OF_VIEW_PARAMETER} and {DENSITY_REFERENCE_PARAMETER} "
            f"({type(error).__name__}: {error}); write the data set again with `emphysema roi-dataset`"
        ) from error
    if not millimetres > 0:
        raise TrainingError(f"{path}: {FIELD_OF_VIEW_PARAMETER} is {value}, not a positive size in mm")
    return millimetres, reference


def with_roi_data_settings(settings: TrainSettings) -> TrainSettings:
    """Return ``settings`` carrying the field of view and density reference of its data set.

    Raises:
        TrainingError: the settings already state another value than the data set's.
    """
    data_mm, data_reference = read_roi_data_settings(Path(settings.data))
    if data_mm is None:
        return settings
    for name, stated, data in (
        (FIELD_OF_VIEW_PARAMETER, settings.field_of_view_mm, data_mm),
        (DENSITY_REFERENCE_PARAMETER, settings.density_reference_hu, data_reference),
    ):
        if stated is not None and stated != data:
            raise TrainingError(
                f"the settings say {name} {stated:g} but the data set {settings.data} says {data}"
            )
    return dataclasses.replace(settings, field_of_view_mm=data_mm, density_reference_hu=data_reference)
