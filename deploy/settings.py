"""Settings of the embedded Triton server: the single source of truth for its defaults."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from deploy.ports import free_ports
from imaging.contract import DEFAULT_GRPC_PORT
from imaging.errors import UsageError

# Admin protocols a remote client has no business calling. Model control mode `none` already
# refuses load/unload; restricting them also hides the repository index, the client-facing
# shared-memory registration (the 2025 python-backend shared-memory CVE chain), trace and log
# settings. Health, metadata, model-config, statistics and inference stay open.
RESTRICTED_PROTOCOLS: tuple[str, ...] = ("shared-memory", "model-repository", "trace", "logging")
LOOPBACK = "127.0.0.1"


def available_cores() -> int:
    """Return the number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServeSettings:
    """How the embedded Triton server is started.

    Attributes:
        host: address the gRPC, HTTP and metrics endpoints bind to; loopback unless a user
            deliberately exposes the server.
        grpc_port: gRPC port (the client's protocol).
        http_port: HTTP/REST port (health probes, KServe v2 REST).
        metrics_port: Prometheus metrics port.
        threads: onnxruntime intra-op threads per model; 0 means every available core.
        exit_timeout_s: how long a graceful stop lets in-flight requests finish before Triton
            exits anyway; the launcher waits a little longer, then kills.
        startup_timeout_s: how long to wait for every model to be ready.
        log_verbose: Triton's verbose log level (0 keeps tensor-level details out of the log).
        shm_default_byte_size: python-backend shared memory per stub at start.
        shm_growth_byte_size: python-backend shared memory growth step.
        http_inference: accept KServe-v2 inference over HTTP without the admin key. Off: Triton
            2.51 crashes on some malformed JSON bodies, and every client here speaks gRPC.
        grpc_allocation_pool_size: gRPC request/response objects Triton keeps for reuse. They
            keep the capacity of the largest request they held (four refused 60 MB requests left
            tritonserver at 263-289 MiB); 0 frees each request's memory when it is answered.
        memory_arena: keep onnxruntime's CPU memory arena. On: the python stub stays at its
            high-water mark (measured with simple_cnn at batch 32: about 750 MB); off: it
            returns to about 145 MB after each batch, at about 40 % lower throughput.
        supervisor_port: port of `emphysema serve`'s own status endpoint (/ready, /live,
            /metrics with the restart count); 0 turns it off.
        max_restarts: how many unexpected Triton exits `emphysema serve` restarts from within
            `restart_window_s` before it gives up.
        restart_window_s: the window over which restarts are counted.
    """

    host: str = LOOPBACK
    grpc_port: int = DEFAULT_GRPC_PORT
    http_port: int = 8000
    metrics_port: int = 8002
    threads: int = 0
    exit_timeout_s: int = 30
    startup_timeout_s: float = 180.0
    log_verbose: int = 0
    # PyTriton's values: 1 MiB (Triton's default) is too small for a batch of 224x224 images.
    shm_default_byte_size: int = 4 * 1024 * 1024
    shm_growth_byte_size: int = 1024 * 1024
    http_inference: bool = False
    grpc_allocation_pool_size: int = 0
    memory_arena: bool = True
    supervisor_port: int = 8003
    max_restarts: int = 5
    restart_window_s: float = 300.0

    def __post_init__(self) -> None:
        ports = {"grpc_port": self.grpc_port, "http_port": self.http_port, "metrics_port": self.metrics_port}
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise UsageError(f"{name} must be between 1 and 65535, got {port}")
        if len(set(ports.values())) != len(ports):
            raise UsageError(f"the gRPC, HTTP and metrics ports must differ, got {ports}")
        if self.threads < 0:
            raise UsageError(f"threads must be 0 (all cores) or positive, got {self.threads}")
        if not 0 <= self.supervisor_port <= 65535 or self.supervisor_port in ports.values():
            raise UsageError(
                f"supervisor_port must be 0 (off) or a port unlike the others, got {self.supervisor_port}"
            )
        if self.max_restarts < 0 or self.restart_window_s <= 0:
            raise UsageError("max_restarts must be >= 0 and restart_window_s > 0")
        if self.exit_timeout_s < 0 or self.startup_timeout_s <= 0:
            raise UsageError("exit_timeout_s must be >= 0 and startup_timeout_s > 0")

    @classmethod
    def on_free_ports(cls, **values) -> ServeSettings:
        """Settings whose gRPC, HTTP and metrics ports were free a moment ago (tools and tests).

        A port given in ``values`` wins over the free one.
        """
        ports = dict(zip(("grpc_port", "http_port", "metrics_port"), free_ports(3), strict=True))
        return cls(**{**ports, **values})

    @property
    def resolved_threads(self) -> int:
        """The thread count actually used: `threads`, or every available core when it is 0."""
        return self.threads or available_cores()

    @property
    def client_host(self) -> str:
        """The address a local client connects to (a wildcard bind is reached over loopback)."""
        return LOOPBACK if self.host in {"0.0.0.0", "", "::"} else self.host

    def to_json_dict(self) -> dict:
        """Return the resolved settings as a JSON-ready dict."""
        return {**asdict(self), "threads": self.resolved_threads}
