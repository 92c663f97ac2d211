"""The DICOM headers a volume was read from, kept so results can be written back as DICOM.

A DICOM SEG or SR refers to the source images by SOP Instance UID and a SEG's frames must lie in
each source image's stored pixel order, while a Volume is flipped into the canonical orientation
(``study.volume``). ``SourceSeries`` keeps the headers (no pixel data) in the volume's slice order
and remembers the in-plane flips, so a map in volume orientation can be turned back.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom


@dataclasses.dataclass(frozen=True, eq=False)
class SourceSeries:
    """The source instances of a volume read from DICOM.

    Attributes:
        headers: one header per volume slice, without pixel data, lowest slice first (the
            volume's slice order, whatever order the files or the scanner used).
        rows_flipped: the reader reversed the rows (the series' columns ran towards the front).
        columns_flipped: the reader reversed the columns (rows ran towards the patient's right).
    """

    headers: tuple[pydicom.Dataset, ...]
    rows_flipped: bool
    columns_flipped: bool

    @property
    def series_uid(self) -> str:
        """The source SeriesInstanceUID."""
        return str(self.headers[0].SeriesInstanceUID)

    def to_stored(self, array: np.ndarray) -> np.ndarray:
        """Return ``(..., rows, columns)`` in volume orientation as the source images store pixels."""
        if self.rows_flipped:
            array = array[..., ::-1, :]
        if self.columns_flipped:
            array = array[..., ::-1]
        return np.ascontiguousarray(array)
