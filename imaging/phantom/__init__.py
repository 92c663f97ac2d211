"""The synthetic HRCT phantom: slices in Hounsfield units with known patterns, patients and files.

Training, tests and benchmarks use it for data with a known truth; the client never does. The
public face is the slice generator; `cohort`, `files` and `synthesize` (`emphysema synth`) build
whole data sets from it.
"""

from imaging.phantom.generator import (
    DEFAULT_KERNELS,
    DEFAULT_SETTINGS,
    KernelProfile,
    PatientTraits,
    PhantomSettings,
    RenderedSlice,
    disease_extent,
    draw_patient_traits,
    generate_slice,
    render_slice,
)

__all__ = [
    "DEFAULT_KERNELS",
    "DEFAULT_SETTINGS",
    "KernelProfile",
    "PatientTraits",
    "PhantomSettings",
    "RenderedSlice",
    "disease_extent",
    "draw_patient_traits",
    "generate_slice",
    "render_slice",
]
