"""What one benchmark run measured, as typed records.

The measuring modules return them, `goals` derives the ratios and verdicts from them, `report`
and `plots` read them. Their JSON form (results.json) is written and read in one place,
`bench.results_json`. A record lists in ``JSON_PROPERTIES`` the properties its JSON also carries
for a reader of the file (a best level, a ceiling's source); reading ignores them, so they cannot
disagree with the fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from bench.served_results import TritonResults
from bench.settings import BenchSettings

record = dataclasses.dataclass(frozen=True)


@record
class CallTiming:
    """Repeated in-process calls at one batch size: images per second and one call's latency."""

    batch_size: int
    calls: int
    throughput: float
    mean_latency_ms: float
    p50_latency_ms: float
    p95_latency_ms: float
    p99_latency_ms: float


@record
class InProcess:
    """onnxruntime in this process on one execution provider, timed at each batch size."""

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("batch_1", "best")
    provider: str
    batches: tuple[CallTiming, ...]

    @property
    def batch_1(self) -> CallTiming | None:
        """The batch-1 timing, when batch 1 was measured."""
        return next((timing for timing in self.batches if timing.batch_size == 1), None)

    @property
    def best(self) -> CallTiming:
        """The batch size with the highest throughput."""
        return max(self.batches, key=lambda timing: timing.throughput)

    def nearest(self, batch_size: float) -> CallTiming:
        """The measured batch size nearest ``batch_size`` (a served mean batch is fractional)."""
        return min(self.batches, key=lambda timing: abs(timing.batch_size - batch_size))


@record
class GpuResults:
    """onnxruntime on the GPU providers this build offers; ``skipped`` says what was not measured, why."""

    providers: dict[str, InProcess]
    skipped: str | None


@record
class Kernel:
    """One dense float32 kernel on these cores; its speed is the median call's."""

    kernel: str
    flop_per_call: int
    calls: int
    median_seconds: float
    gflops_per_second: float
    best_gflops_per_second: float


@record
class Ceiling:
    """The fastest dense kernel: the most compute a model on these cores can approach."""

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("gflops_per_second", "source")
    kernels: dict[str, Kernel]
    matrix_size: int
    convolution_shape: dict[str, int]
    cores: int | None
    measurements: tuple[float, ...]  # the ceiling each time it was measured (start, end of a run)

    @property
    def gflops_per_second(self) -> float:
        """The ceiling."""
        return max(kernel.gflops_per_second for kernel in self.kernels.values())

    @property
    def source(self) -> str:
        """The kernel that set it."""
        return max(self.kernels.values(), key=lambda kernel: kernel.gflops_per_second).kernel


@record
class ExportFacts:
    """One exported graph: where it is, how it was made, its arithmetic per image."""

    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("gflop_per_image",)
    version: int
    onnx: str
    precision: str
    macs_per_image: int
    macs_by_op: dict[str, int]
    counted_nodes: int
    export_command: str | None
    accuracy_change: dict[str, Any] | None = None  # the model card's int8-against-fp32 evaluation

    @property
    def gflop_per_image(self) -> float:
        """Floating-point operations per image, in GFLOP (2 per multiply-accumulate)."""
        return 2 * self.macs_per_image / 1e9


@record
class ModelFacts:
    """The model measured: its Keras source, its fp32 and int8 exports."""

    name: str
    image_size: int
    keras: str
    fp32: ExportFacts
    int8: ExportFacts | None
    keras_onnx_max_abs_difference: float


@record
class InputFacts:
    """The synthetic inputs every path was timed on."""

    count: int
    shape: tuple[int, ...]
    seed: int
    source: str


@record
class Environment:
    """The machine and software, so the figures can be read (and doubted) later."""

    cpu: dict[str, Any]  # emphysema.versions.cpu_facts
    memory_gib: float | None
    os: str
    load_average_at_start: tuple[float, ...] | None
    packages: dict[str, str]
    date_utc: str
    load_average_at_end: tuple[float, ...] | None = None


@record
class Achieved:
    """A path's throughput as model arithmetic, and its share of the compute ceiling."""

    throughput: float
    gflops_per_second: float
    fraction_of_ceiling: float


@record
class Term:
    """A measured figure a ratio divides, with what it is."""

    label: str
    value: float


@record
class Ratio:
    """One of the report's explicit ratios, with its numerator and denominator."""

    value: float
    numerator: Term
    denominator: Term
    meaning: str


@record
class GoalVerdict:
    """A goal against its ratio; ``met`` is None when it was not measured or not judged (``why``)."""

    name: str
    goal: str
    target: float
    measured: float | None
    met: bool | None
    margin: float | None = None  # +0.10: 10 % above the target; -0.25: 25 % short of it
    why: str | None = None
    what_would_close_it: str | None = None


@record
class BenchResults:
    """Everything one `emphysema bench` run measured and concluded (results.json)."""

    command: str
    settings: BenchSettings
    environment: Environment
    inputs: InputFacts
    model: ModelFacts
    ceiling: Ceiling
    onnxruntime: dict[str, InProcess]  # "fp32", and "int8" when an int8 export was measured
    keras: CallTiming
    gpu: GpuResults
    triton: TritonResults
    # Derived from the measurements above by `bench.goals.judge`.
    achieved: dict[str, Achieved] = dataclasses.field(default_factory=dict)
    ratios: dict[str, Ratio] = dataclasses.field(default_factory=dict)
    goals: tuple[GoalVerdict, ...] = ()
    duration_seconds: float = 0.0
