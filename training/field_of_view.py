"""A region model's field of view, read from the ROI data set it is trained on.

`emphysema roi-dataset` writes ``roi_dataset_settings.json`` beside its ROIs with the ROI side
in mm. Training copies it into the run's settings, so `emphysema export` can write it into the
model card and the served config, and a client tiles studies at the size the model learnt.
A data set without the file (whole slices) gives a slice-level model: no field of view.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from imaging.contract import FIELD_OF_VIEW_PARAMETER, ROI_DATASET_SETTINGS
from training.errors import TrainingError
from training.settings import TrainSettings


def read_field_of_view(data_root: Path) -> float | None:
    """Return the ROI side (mm) an ROI data set states, or None for a data set of whole slices.

    Raises:
        TrainingError: the settings file is there but unreadable, or states no positive size.
    """
    path = Path(data_root) / ROI_DATASET_SETTINGS
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))[FIELD_OF_VIEW_PARAMETER]
        millimetres = float(value)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise TrainingError(
            f"{path}: cannot read {FIELD_OF_VIEW_PARAMETER} ({type(error).__name__}: {error}); "
            "write the data set again with `emphysema roi-dataset`"
        ) from error
    if not millimetres > 0:
        raise TrainingError(f"{path}: {FIELD_OF_VIEW_PARAMETER} is {value}, not a positive size in mm")
    return millimetres


def with_data_field_of_view(settings: TrainSettings) -> TrainSettings:
    """Return ``settings`` carrying the field of view of the data set it trains on.

    Raises:
        TrainingError: the settings already state another field of view than the data set's.
    """
    data_mm = read_field_of_view(Path(settings.data))
    if data_mm is None:
        return settings
    if settings.field_of_view_mm is not None and settings.field_of_view_mm != data_mm:
        raise TrainingError(
            f"the settings say a {settings.field_of_view_mm:g} mm field of view but the data set "
            f"{settings.data} holds {data_mm:g} mm ROIs"
        )
    return dataclasses.replace(settings, field_of_view_mm=data_mm)
