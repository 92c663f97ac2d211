"""`EmbeddedTriton`: run the real tritonserver binary from the nvidia-pytriton wheel on a CPU.

It writes the python-backend twin of an ONNX model repository into a work folder, starts
Triton on it with safe defaults (loopback, model control `none`, strict readiness, admin
protocols restricted), waits until every model is ready, and stops it gracefully: SIGTERM lets
in-flight requests finish, SIGKILL follows only after the exit timeout.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from deploy import processes
from deploy.errors import ServeError
from deploy.ports import check_ports_free
from deploy.settings import RESTRICTED_PROTOCOLS, ServeSettings
from deploy.triton_binary import locate_triton, prepare_backends, triton_environment
from deploy.twin import TwinRepository, write_twin

ADMIN_KEY_NAME = "admin-key"
LOG_FILENAME = "triton.log"
TWIN_FOLDER = "repository"
BACKENDS_FOLDER = "backends"
# glibc raises its mmap threshold after a large buffer is freed, so the next large request buffer
# comes from the heap and often stays resident. A fixed threshold maps every buffer of 4 MiB or
# more on its own and unmaps it when freed. Together with the request pool of 0 (settings.py),
# four refused 60 MB gRPC requests leave tritonserver at 39-142 MiB, not 289 (docs/serving.md).
MALLOC_ENVIRONMENT = {
    "MALLOC_MMAP_THRESHOLD_": str(4 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(4 * 1024 * 1024),
}


class EmbeddedTriton:
    """The embedded Triton server over the twin of one ONNX model repository.

    Use as a context manager (`with EmbeddedTriton(repo) as server:`), or call `start`,
    `wait_ready` and `stop` yourself.

    Attributes:
        repository: the ONNX model repository served.
        settings: how the server is started.
        process: the tritonserver process, once started.
        twin: the twin repository written at start.
        admin_key: the per-server secret that unlocks the restricted admin protocols; a gRPC
            client sends it as header `triton-grpc-protocol-admin-key`, an HTTP client as
            `admin-key`. Never printed.
    """

    def __init__(
        self,
        repository: str | Path,
        settings: ServeSettings | None = None,
        work_directory: str | Path | None = None,
    ) -> None:
        self.repository = Path(repository)
        self.settings = settings or ServeSettings()
        self.process: subprocess.Popen | None = None
        self.twin: TwinRepository | None = None
        self.admin_key = secrets.token_urlsafe(24)
        self._given_work_directory = Path(work_directory) if work_directory else None
        self._temporary: tempfile.TemporaryDirectory | None = None
        self.work_directory: Path | None = None
        self._shm_prefix = f"emphysema{os.getpid()}x{secrets.token_hex(4)}"

    @property
    def grpc_url(self) -> str:
        """The gRPC address for `tritonclient.grpc`, e.g. ``127.0.0.1:8001``."""
        return f"{self.settings.client_host}:{self.settings.grpc_port}"

    @property
    def http_url(self) -> str:
        """HTTP base URL, e.g. ``http://127.0.0.1:8000`` (health: ``/v2/health/ready``)."""
        return f"http://{self.settings.client_host}:{self.settings.http_port}"

    @property
    def metrics_url(self) -> str:
        """Prometheus metrics URL, e.g. ``http://127.0.0.1:8002/metrics``."""
        return f"http://{self.settings.client_host}:{self.settings.metrics_port}/metrics"

    @property
    def log_path(self) -> Path | None:
        """Triton's own log file, once started."""
        return self.work_directory / LOG_FILENAME if self.work_directory else None

    def command(self, backends: Path) -> list[str]:
        """Return the tritonserver command line (binary first) for this server."""
        settings = self.settings
        restricted = f"{','.join(RESTRICTED_PROTOCOLS)}:{ADMIN_KEY_NAME}={self.admin_key}"
        # Triton 2.51 parses a KServe-v2 JSON body without bounds (a huge declared shape aborts it
        # with std::bad_alloc, deep nesting overflows its stack), so HTTP inference is refused before
        # the body is parsed unless the caller holds the key. gRPC, the client's path, is unaffected.
        http_restricted = RESTRICTED_PROTOCOLS + (() if settings.http_inference else ("inference",))
        http_restricted_api = f"{','.join(http_restricted)}:{ADMIN_KEY_NAME}={self.admin_key}"
        return [
            str(locate_triton().binary),
            f"--model-repository={self.twin.path}",
            f"--backend-directory={backends}",
            "--model-control-mode=none",
            "--strict-readiness=true",
            "--exit-on-error=true",
            "--disable-auto-complete-config",
            f"--exit-timeout-secs={settings.exit_timeout_s}",
            f"--log-verbose={settings.log_verbose}",
            f"--grpc-address={settings.host}",
            f"--grpc-port={settings.grpc_port}",
            f"--grpc-infer-allocation-pool-size={settings.grpc_allocation_pool_size}",
            f"--http-address={settings.host}",
            f"--http-port={settings.http_port}",
            f"--metrics-address={settings.host}",
            f"--metrics-port={settings.metrics_port}",
            "--allow-gpu-metrics=false",
            # Off by default, but an inherited AIP_MODE=PREDICTION would switch Vertex AI on.
            "--allow-sagemaker=false",
            "--allow-vertex-ai=false",
            f"--grpc-restricted-protocol={restricted}",
            f"--http-restricted-api={http_restricted_api}",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
            f"--backend-config=python,shm-default-byte-size={settings.shm_default_byte_size}",
            f"--backend-config=python,shm-growth-byte-size={settings.shm_growth_byte_size}",
        ]

    def start(self) -> None:
        """Write the twin and start Triton (returns at once; see `wait_ready`).

        Raises:
            ServeError: for a bad repository, a busy port, or a missing Triton installation.
        """
        if self.process is not None:
            raise ServeError("this EmbeddedTriton was already started")
        distribution = locate_triton()
        check_ports_free(
            self.settings.host,
            {
                "gRPC": self.settings.grpc_port,
                "HTTP": self.settings.http_port,
                "metrics": self.settings.metrics_port,
            },
        )
        if self._given_work_directory is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="emphysema-triton-")
            self.work_directory = Path(self._temporary.name)
        else:
            self.work_directory = self._given_work_directory
            self.work_directory.mkdir(parents=True, exist_ok=True)
            # A reused work folder: the twin and backends of the last run are rewritten afresh.
            for stale in (TWIN_FOLDER, BACKENDS_FOLDER):
                shutil.rmtree(self.work_directory / stale, ignore_errors=True)
        try:
            self.twin = write_twin(
                self.repository,
                self.work_directory / TWIN_FOLDER,
                self.settings.resolved_threads,
                self.settings.memory_arena,
            )
            backends = prepare_backends(distribution, self.work_directory / BACKENDS_FOLDER)
        except BaseException:
            self._remove_work_directory()
            raise
        (self.work_directory / "serve_settings.json").write_text(
            json.dumps(
                {**self.settings.to_json_dict(), "repository": str(self.repository.resolve())}, indent=2
            ),
            encoding="utf-8",
        )
        environment = {**MALLOC_ENVIRONMENT, **triton_environment(distribution)}  # the user's own values win
        self.process = processes.spawn(self.command(backends), environment, self.log_path)

    def wait_ready(self, timeout_s: float | None = None) -> float:
        """Block until the server and every model are ready.

        Args:
            timeout_s: how long to wait; defaults to `settings.startup_timeout_s`.

        Returns:
            Seconds waited.

        Raises:
            ServeError: with Triton's own error lines when it exits (e.g. a model failed to
                load) or is not ready in time.
        """
        import tritonclient.grpc as grpcclient  # noqa: PLC0415 - heavy, only needed once started

        if self.process is None:
            raise ServeError("start() the server before waiting for it")
        timeout_s = self.settings.startup_timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        with grpcclient.InferenceServerClient(self.grpc_url) as client:
            while True:
                self.restrict_shared_memory()
                if self.process.poll() is not None:
                    crashed = self.process.returncode < 0  # killed by a signal, e.g. SIGABRT
                    raise ServeError(
                        f"Triton {processes.describe_exit(self.process.returncode)} while starting:\n"
                        f"{processes.triton_errors(self.log_path, with_tail=crashed)}"
                    )
                if _is_ready(client):
                    self.restrict_shared_memory()
                    return time.monotonic() - started
                if time.monotonic() - started > timeout_s:
                    raise ServeError(
                        f"Triton was not ready after {timeout_s:.0f} s:\n"
                        f"{processes.triton_errors(self.log_path, with_tail=True)}"
                    )
                time.sleep(0.2)

    def restrict_shared_memory(self) -> None:
        """Narrow this server's python-backend shared-memory regions to mode 0600 (owner only)."""
        processes.restrict_shared_memory(self._shm_prefix)

    def stop(self) -> int | None:
        """Stop gracefully: SIGTERM, wait for in-flight requests, SIGKILL after the exit timeout.

        Returns:
            Triton's exit status, or None when it was never started.
        """
        if self.process is None:
            self._remove_work_directory()
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        returncode = processes.wait_or_kill(self.process, self.settings.exit_timeout_s + 10)
        processes.remove_shared_memory(self._shm_prefix)
        self._remove_work_directory()
        return returncode

    def _remove_work_directory(self) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def __enter__(self) -> EmbeddedTriton:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _is_ready(client) -> bool:
    from tritonclient.utils import InferenceServerException  # noqa: PLC0415

    try:
        return bool(client.is_server_ready(client_timeout=2))
    except InferenceServerException:  # not listening yet
        return False
