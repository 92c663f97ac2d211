"""Fixtures for the reliability tests: a corpus of bad files, a good scan, and short-lived servers.

Every bad file is built here from first principles (real PNG chunks with valid CRCs, real DICOM
written by pydicom, a real ZIP), so each test sees what a user could actually upload.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import socket
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC over type and data."""
    checksum = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return struct.pack(">I", len(data)) + kind + data + checksum


def png_claiming(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims ``width x height`` grey pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    # A few rows of real data: a decoder that trusts the header allocates the whole image first.
    rows = zlib.compress(b"\x00" * (width * bit_depth // 8 + 1) * 4)
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")


def encode_image(array: np.ndarray, image_format: str = "PNG") -> bytes:
    """Encode an array with Pillow (uint16 -> 16-bit grey PNG, (H, W, 3) uint8 -> RGB)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format)
    return buffer.getvalue()


def ct_small_path() -> Path:
    """pydicom's real CT slice (128x128, with a patient name and ids to protect)."""
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("CT_small.dcm"))


def dicom_bytes(dataset) -> bytes:
    """Serialise a pydicom Dataset as a DICOM file (preamble + DICM + meta)."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _dicom_without_pixels() -> bytes:
    import pydicom

    dataset = pydicom.dcmread(ct_small_path())
    del dataset.PixelData
    return dicom_bytes(dataset)


def _multiframe_dicom() -> bytes:
    import pydicom

    dataset = pydicom.dcmread(ct_small_path())
    dataset.NumberOfFrames = 2
    dataset.PixelData = dataset.PixelData * 2
    return dicom_bytes(dataset)


def _compressed_dicom() -> bytes:
    """A real 12-bit JPEG Extended codestream (pydicom's test file) labelled CT.

    Pillow decodes only 8-bit JPEG, and highdicom's dependencies bring a JPEG-LS decoder, so a
    12-bit JPEG is the compressed DICOM this environment cannot decode (the `dicom-codecs` extra
    would add pylibjpeg, which can).
    """
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("JPEG-lossy.dcm"))
    try:
        _ = dataset.pixel_array
    except Exception:  # noqa: BLE001 - any decoder failure is what this case needs
        pass
    else:
        raise AssertionError("a 12-bit JPEG decoder is installed here; this case needs one that is not")
    dataset.Modality = "CT"
    return dicom_bytes(dataset)


def _zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scan.png", encode_image(np.zeros((64, 64), np.uint8)))
    return buffer.getvalue()


def _photo() -> bytes:
    """A colourful RGB JPEG, like a phone photo of a screen."""
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    red, green = np.meshgrid(ramp, ramp)
    rgb = np.stack([red, green, 255 - red], axis=-1).astype(np.uint8)
    return encode_image(rgb, "JPEG")


def _sixteen_bit_without_hu() -> bytes:
    """A 16-bit PNG using the whole 0..65535 range: no HU + 1024 convention can explain it."""
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    return encode_image(ramp)


@dataclasses.dataclass(frozen=True)
class BadFile:
    """One file a user might hand us by mistake.

    Attributes:
        name: the file name (the extension is part of the trap).
        data: the bytes.
        hints: words of which at least one must appear in the error message (lower case).
    """

    name: str
    data: bytes
    hints: tuple[str, ...]


def build_bad_files() -> list[BadFile]:
    """The issue's list of bad inputs, one entry each."""
    rng = np.random.default_rng(8)
    random_bytes = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    ct_small = ct_small_path().read_bytes()
    return [
        BadFile("random.png", random_bytes, ("not a recognised", "format")),
        BadFile("notes.dcm", b"Patient seen on Monday; scan to follow.\n" * 8, ("text",)),
        BadFile("truncated.dcm", ct_small[:132], ("dicom", "truncated", "corrupt")),
        BadFile("no_pixels.dcm", _dicom_without_pixels(), ("pixel data",)),
        BadFile("compressed.dcm", _compressed_dicom(), ("decoder", "decode", "compress")),
        BadFile("multiframe.dcm", _multiframe_dicom(), ("frame",)),
        BadFile("bomb.png", png_claiming(30000, 30000), ("30000",)),
        BadFile("archive.png", _zip_archive(), ("zip",)),
        BadFile("empty.png", b"", ("empty",)),
        BadFile("tiny.png", encode_image(np.full((1, 1), 128, np.uint8)), ("1x1", "pixels")),
        BadFile("no_hu_16bit.png", _sixteen_bit_without_hu(), ("hounsfield", "hu")),
        BadFile("photo.jpg", _photo(), ("colour", "color", "rgb")),
    ]


BAD_FILES = build_bad_files()


def pytest_generate_tests(metafunc):
    """Run every test that takes `bad_file` once per bad input, named after the file."""
    if "bad_file" in metafunc.fixturenames:
        metafunc.parametrize("bad_file", BAD_FILES, ids=[bad.name for bad in BAD_FILES])


@pytest.fixture(scope="session")
def bad_files() -> list[BadFile]:
    """Every bad input of issue 8, built once."""
    return BAD_FILES


@pytest.fixture(scope="session")
def ct_small_bytes() -> bytes:
    """The bytes of pydicom's CT_small.dcm: the good file among the bad ones."""
    return ct_small_path().read_bytes()


@pytest.fixture(scope="session")
def ct_small_identity() -> list[str]:
    """The identifying values of CT_small.dcm, read from the file itself (never hard-coded)."""
    import pydicom

    dataset = pydicom.dcmread(ct_small_path(), stop_before_pixels=True)
    values = [str(dataset.PatientName), *str(dataset.PatientName).split("^"), str(dataset.PatientID)]
    for keyword in (
        "OtherPatientIDs",
        "AccessionNumber",
        "StudyID",
        "PatientBirthDate",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
    ):
        value = dataset.get(keyword)
        if value:
            values.append(str(value))
    # Short fragments would match by chance (e.g. "1" in any number); keep distinctive ones.
    return sorted({value.strip() for value in values if len(value.strip()) >= 4})


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_temp(tmp_path, monkeypatch) -> Path:
    """An empty folder made the process's temp dir and working dir, to prove nothing lands on disk.

    Other helpers write to /tmp at the same time, so comparing /tmp itself would be flaky.
    """
    import tempfile

    folder = tmp_path / "private_temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    for variable in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(variable, str(folder))
    monkeypatch.chdir(folder)
    return folder


def list_tree(folder: Path) -> list[str]:
    """Every path under a folder, relative, sorted (to compare before and after)."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture(scope="session")
def tree_lister():
    """`list_tree` as a fixture (tests are imported with importlib, so they cannot import conftest)."""
    return list_tree


@pytest.fixture
def own_triton(tiny_repository):
    """A factory of short-lived embedded Tritons over `tiny_repository`, for tests that kill or freeze one.

    The shared session server is never touched. Every server started through the factory is
    stopped (and its process group killed if it is still around) when the test ends.
    """
    from deploy.embedded import EmbeddedTriton
    from deploy.errors import ServeError
    from deploy.settings import ServeSettings

    started: list[EmbeddedTriton] = []

    def start(
        settings: ServeSettings | None = None, repository: Path | None = None, **overrides
    ) -> EmbeddedTriton:
        # Free ports are only free "a moment ago" on a machine shared with other test runs: when
        # the ports were picked here, one retry on fresh ports absorbs a lost race.
        attempts = 1 if settings is not None else 2
        for attempt in range(attempts):
            chosen = settings
            if chosen is None:
                values = dict(threads=1, exit_timeout_s=10, startup_timeout_s=120)
                chosen = ServeSettings.on_free_ports(**{**values, **overrides})
            server = EmbeddedTriton(repository or tiny_repository.path, chosen)
            started.append(server)
            try:
                server.start()
                server.wait_ready()
                return server
            except ServeError:
                server.stop()
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    yield start
    for server in started:
        process = server.process
        if process is not None and process.poll() is None:
            try:
                os.kill(process.pid, 18)  # SIGCONT, in case a test froze it
            except ProcessLookupError:
                pass
        server.stop()


def build_slow_onnx(image_size: int, seconds_hint_iterations: int = 8000, side: int = 192):
    """A contract-following ONNX model that takes about a second per batch on one core.

    The image feeds the start value of a Loop of matrix products (so nothing can be folded away
    at load time), whose result joins the logits multiplied by zero. It lets a test hold requests
    inside Triton for long enough to send a signal while they are in flight.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["x_in", "w"], ["product"]),
            helper.make_node("Tanh", ["product"], ["x_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "burn",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [side, side]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [side, side]),
        ],
    )
    initializers = [
        numpy_helper.from_array(np.array(1 / 255, np.float32), "scale"),
        numpy_helper.from_array((rng.normal(size=(side, side)) / side).astype(np.float32), "w"),
        numpy_helper.from_array(np.array(seconds_hint_iterations, np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "true"),
        numpy_helper.from_array(np.array(0, np.float32), "zero"),
        numpy_helper.from_array(
            (rng.normal(size=(image_size * image_size, 4)) * 0.05).astype(np.float32), "dense"
        ),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["image_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["image_float", "scale"], ["scaled"]),
        helper.make_node("ReduceMean", ["scaled"], ["mean"], keepdims=0),
        helper.make_node("Add", ["w", "mean"], ["x0"]),
        helper.make_node("Loop", ["trips", "true", "x0"], ["x_final"], body=body),
        helper.make_node("ReduceSum", ["x_final"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Flatten", ["scaled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "dense"], ["logits_raw"]),
        helper.make_node("Add", ["logits_raw", "nothing"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "slow_emphysema",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", image_size, image_size, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 4])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="session")
def slow_repository(tiny_repository, tmp_path_factory) -> Path:
    """A copy of `tiny_repository` (same config and labels) whose model takes about a second per batch."""
    import onnx

    root = tmp_path_factory.mktemp("slow_repository")
    shutil.copytree(tiny_repository.path, root, dirs_exist_ok=True)
    model_path = root / tiny_repository.model_name / "1" / "model.onnx"
    onnx.save(build_slow_onnx(tiny_repository.image_size), model_path)
    return root


def process_tree_rss_kib(root_pid: int) -> dict[int, int]:
    """VmRSS (KiB) of a process and its children (Triton and its python-backend stubs), from /proc."""
    result: dict[int, int] = {}
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                result[pid] = int(line.split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children")
        try:
            pending += [int(child) for child in children.read_text().split()]
        except OSError:
            pass
    return result


@pytest.fixture(scope="session")
def rss_reader():
    """`process_tree_rss_kib` as a fixture."""
    return process_tree_rss_kib


@dataclasses.dataclass
class StreamlitServer:
    """A real Streamlit server running `client/app.py`, its output captured to a file."""

    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_streamlit(
    log_path: Path, triton_url: str, allowed_hosts: tuple[str, ...] = (), timeout_s: float = 60
) -> StreamlitServer:
    """Start the app exactly as `emphysema app`/`publish` do (their command, the repo's config.toml)."""
    import http.client

    from client.launch import AppSettings, app_environment, streamlit_command

    port = free_port()
    settings = AppSettings(port=port, triton_url=triton_url, allowed_hosts=allowed_hosts)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            streamlit_command(settings),
            cwd=REPOSITORY_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=app_environment(settings),
        )
    server = StreamlitServer(port, process, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{server.log()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/_stcore/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop_streamlit(server)
    raise RuntimeError(f"streamlit was not healthy after {timeout_s} s:\n{server.log()}")


def stop_streamlit(server: StreamlitServer) -> None:
    """Stop a server started by `start_streamlit` (terminate, then kill after 10 s)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def streamlit_server(tmp_path):
    """A factory of real Streamlit servers on the project's app; all are stopped after the test."""
    started: list[StreamlitServer] = []

    def start(triton_url: str, allowed_hosts: tuple[str, ...] = ()) -> StreamlitServer:
        server = start_streamlit(tmp_path / f"streamlit_{len(started)}.log", triton_url, allowed_hosts)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_streamlit(server)


class StreamlitSession:
    """Speaks Streamlit's own browser protocol over real HTTP and WebSocket, on loopback only.

    The `Host` header can be set to any name while the TCP connection still goes to 127.0.0.1,
    so a foreign Host can be tested without sending traffic anywhere else.
    """

    XSRF_COOKIE = "_streamlit_xsrf"

    def __init__(self, port: int, host: str | None = None) -> None:
        self.port = port
        self.host = host or f"127.0.0.1:{port}"
        self.messages: list[bytes] = []
        self.xsrf = self._xsrf_token()
        self.session_id: str | None = None
        self.uploader_id: str | None = None
        self._socket = None
        self._connections = contextlib.ExitStack()

    def http(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict | None = None,
        xsrf: bool = True,
    ) -> tuple[int, bytes]:
        """Send one request to the app over loopback; return status and body."""
        import http.client

        headers = {"Host": self.host, **(headers or {})}
        if xsrf and self.xsrf:
            headers.update({"X-Xsrftoken": self.xsrf, "Cookie": f"{self.XSRF_COOKIE}={self.xsrf}"})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            if body is not None and "Transfer-Encoding" not in headers:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            if body is not None:
                try:
                    connection.send(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may refuse and close before reading everything: read its answer
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _xsrf_token(self) -> str:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", "/_stcore/health")
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie") or ""
        return cookie.split(";")[0].split("=", 1)[1] if cookie.startswith(self.XSRF_COOKIE) else ""

    def open(self) -> None:
        """Open the app's WebSocket (raises websockets' InvalidStatus when the server refuses it)."""
        from websockets.sync.client import connect

        tcp = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._socket = self._connections.enter_context(
            connect(
                f"ws://{self.host}/_stcore/stream",
                sock=tcp,
                subprotocols=["streamlit", self.xsrf],
                additional_headers={
                    "Cookie": f"{self.XSRF_COOKIE}={self.xsrf}",
                    "Origin": f"http://{self.host}",
                },
                max_size=None,
                open_timeout=10,
            )
        )

    def close(self) -> None:
        self._connections.close()

    def rerun(self, widget_states=(), settle_s: float = 20.0) -> None:
        """Ask the app to run its script (as a browser does) and read what it sends until it finishes."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = BackMsg()
        message.rerun_script.query_string = ""
        message.rerun_script.page_script_hash = ""
        message.rerun_script.widget_states.widgets.extend(widget_states)
        self._socket.send(message.SerializeToString())
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            try:
                data = self._socket.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            self.messages.append(data)
            forward = ForwardMsg()
            forward.ParseFromString(data)
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                self.session_id = forward.new_session.initialize.session_id
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                if element.WhichOneof("type") == "file_uploader":
                    self.uploader_id = element.file_uploader.id
            elif kind == "script_finished" and forward.script_finished == forward.FINISHED_SUCCESSFULLY:
                break

    def upload(self, name: str, data: bytes, chunked: bool = False) -> tuple[int, str]:
        """PUT one file to the upload endpoint as the browser does; return (status, file id)."""
        import uuid

        file_id = uuid.uuid4().hex
        body = (
            b'--boundary\r\nContent-Disposition: form-data; name="file"; filename="'
            + name.encode()
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data
            + b"\r\n--boundary--\r\n"
        )
        headers = {"Content-Type": "multipart/form-data; boundary=boundary"}
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            parts = [body[start : start + 65536] for start in range(0, len(body), 65536)]
            body = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in parts) + b"0\r\n\r\n"
        status, _ = self.http("PUT", f"/_stcore/upload_file/{self.session_id}/{file_id}", body, headers)
        return status, file_id

    def submit_uploads(self, files: list[tuple[str, int, str]]) -> None:
        """Tell the app's file uploader which uploaded files it holds, and let the script run."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.uploader_id)
        for name, size, file_id in files:
            uploaded = state.file_uploader_state_value.uploaded_file_info
            info = uploaded.add(name=name, size=size, file_id=file_id)
            info.file_urls.file_id = file_id
            info.file_urls.upload_url = f"/_stcore/upload_file/{self.session_id}/{file_id}"
            info.file_urls.delete_url = info.file_urls.upload_url
        self.rerun([state])
        self.rerun()  # the app reruns itself after reading uploads; collect that run too

    def alerts(self) -> list[str]:
        """The bodies of every alert (st.error/warning/info) the app sent so far."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        bodies = []
        for data in self.messages:
            forward = ForwardMsg()
            forward.ParseFromString(data)
            if forward.WhichOneof("type") == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                if element.WhichOneof("type") == "alert":
                    bodies.append(element.alert.body)
        return bodies


@pytest.fixture(scope="session")
def streamlit_session():
    """The `StreamlitSession` class (tests are imported with importlib, so they cannot import conftest)."""
    return StreamlitSession
