"""The benchmark's inputs: synthetic HRCT slices through the same pipeline every client uses.

Every path (Keras, onnxruntime, Triton via perf_analyzer) gets the very same uint8 tensors, made
by the phantom generator and `imaging.scan.to_model_input`, so no path is timed on easier data.
"""

from __future__ import annotations

import numpy as np

from imaging.classes import SEVERITIES
from imaging.contract import CLASS_NAMES
from imaging.phantom import PhantomSettings, draw_patient_traits, generate_slice
from imaging.scan import Scan, to_model_input


def synthetic_inputs(count: int, image_size: int, seed: int = 0) -> np.ndarray:
    """``count`` synthetic scans as the model's uint8 input ``(count, S, S, 1)``, S = ``image_size``.

    Classes and severities cycle so the batch looks like a clinic's mix rather than one pattern; the
    phantom's ``seed`` is fixed so every run measures the same data.
    """
    if count < 1:
        raise ValueError(f"need at least one input scan, got {count}")
    rng = np.random.default_rng(seed)
    settings = PhantomSettings()
    images = []
    for index in range(count):
        label = CLASS_NAMES[index % len(CLASS_NAMES)]
        severity = None if label == "NT" else SEVERITIES[(index // len(CLASS_NAMES)) % len(SEVERITIES)]
        hounsfield = generate_slice(label, severity, draw_patient_traits(rng, settings), rng, settings)
        scan = Scan(pixels=hounsfield, is_hounsfield=True, source=f"synthetic_{index:03d}")
        images.append(to_model_input(scan, image_size))
    return np.stack(images)


def batch_of(images: np.ndarray, batch_size: int) -> np.ndarray:
    """Return ``batch_size`` images taken in turn from ``images`` (a batch larger than the pool repeats)."""
    indices = np.arange(batch_size) % len(images)
    return np.ascontiguousarray(images[indices])
