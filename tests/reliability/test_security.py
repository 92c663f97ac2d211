"""Security: who can reach what. Triton on loopback with its admin APIs closed, only the app published,
the upload cap enforced by the real server, foreign Host names refused, and no patient data in logs.

All traffic goes to 127.0.0.1. Binding is checked by reading the kernel's socket tables, never by
sending anything to another address.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from streamlit.testing.v1 import AppTest
from tritonclient.utils import InferenceServerException

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
LISTEN = "0A"


def _listening_sockets() -> dict[int, tuple[str, int]]:
    """inode -> (local address, port) of every listening TCP socket, from /proc/net/tcp and tcp6."""
    import ipaddress

    sockets = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] != LISTEN:
                continue
            # The kernel prints addresses as host-order 32-bit words in hex.
            raw = bytes.fromhex(address)
            words = b"".join(raw[index : index + 4][::-1] for index in range(0, len(raw), 4))
            host = str(ipaddress.ip_address(words)) if width == 8 else str(ipaddress.IPv6Address(words))
            sockets[int(fields[9])] = (host, int(port, 16))
    return sockets


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = descriptor.readlink()
        except OSError:
            continue
        if str(target).startswith("socket:["):
            inodes.add(int(str(target)[8:-1]))
    return inodes


@pytest.mark.triton
def test_triton_listens_on_loopback_only(triton_server, rss_reader):
    listening = _listening_sockets()
    owned = set()
    for pid in rss_reader(triton_server.process.pid):  # Triton and its python-backend stubs
        owned |= _socket_inodes(pid)
    endpoints = [listening[inode] for inode in owned if inode in listening]
    ports = {
        triton_server.settings.grpc_port,
        triton_server.settings.http_port,
        triton_server.settings.metrics_port,
    }
    assert ports <= {port for _, port in endpoints}, (ports, endpoints)
    for host, port in endpoints:
        assert _is_loopback(host), f"Triton listens on {host}:{port}, which other machines can reach"


def _is_loopback(host: str) -> bool:
    import ipaddress

    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


@pytest.mark.triton
def test_triton_admin_apis_are_refused_and_the_model_keeps_serving(own_triton, tiny_repository):
    # Its own server: if an unload ever succeeded it must not take the shared one down.
    server = own_triton()
    model = tiny_repository.model_name
    refused = {}
    with grpcclient.InferenceServerClient(server.grpc_url) as client:
        attempts = {
            "load_model": lambda headers: client.load_model(model, headers=headers, client_timeout=10),
            "unload_model": lambda headers: client.unload_model(model, headers=headers, client_timeout=10),
            "load_model_with_code": lambda headers: client.load_model(
                "injected",
                config=json.dumps({"backend": "python", "max_batch_size": 1}),
                files={"file:1/model.py": b"import os\n"},
                headers=headers,
                client_timeout=10,
            ),
            "repository_index": lambda headers: client.get_model_repository_index(
                headers=headers, client_timeout=10
            ),
            "register_system_shared_memory": lambda headers: client.register_system_shared_memory(
                "region", "/emphysema_test_region", 64, headers=headers, client_timeout=10
            ),
            "update_log_settings": lambda headers: client.update_log_settings(
                {"log_verbose_level": 1}, headers=headers, client_timeout=10
            ),
            "update_trace_settings": lambda headers: client.update_trace_settings(
                settings={"trace_level": ["TIMESTAMPS"]}, headers=headers, client_timeout=10
            ),
        }
        for name, attempt in attempts.items():
            with pytest.raises(InferenceServerException) as caught:
                attempt(None)
            refused[name] = str(caught.value)
        # Even with the server's own admin key, model control mode `none` refuses loading code.
        key_header = {"triton-grpc-protocol-admin-key": server.admin_key}
        for name in ("load_model", "unload_model", "load_model_with_code"):
            with pytest.raises(InferenceServerException):
                attempts[name](key_header)
        assert client.is_model_ready(model, client_timeout=10)
        assert client.is_server_ready(client_timeout=10)
        image = grpcclient.InferInput(
            "image", [1, tiny_repository.image_size, tiny_repository.image_size, 1], "UINT8"
        )
        image.set_data_from_numpy(
            np.zeros((1, tiny_repository.image_size, tiny_repository.image_size, 1), np.uint8)
        )
        result = client.infer(model, [image], client_timeout=10)
        assert result.as_numpy("probabilities").shape == (1, 4)
        assert client.get_model_repository_index(headers=key_header, client_timeout=10).models
    for name, message in refused.items():
        lowered = message.lower()
        assert any(word in lowered for word in ("restricted", "not allowed", "explicit")), (name, message)
    assert server.admin_key not in "".join(refused.values())


@pytest.mark.triton
def test_triton_http_admin_routes_are_refused(triton_server, tiny_repository):
    import urllib.error
    import urllib.request

    routes = [
        f"/v2/repository/models/{tiny_repository.model_name}/unload",
        f"/v2/repository/models/{tiny_repository.model_name}/load",
        "/v2/systemsharedmemory/region/attack/register",
        "/v2/repository/index",
        "/v2/logging",
    ]
    for route in routes:
        request = urllib.request.Request(triton_server.http_url + route, data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback only
        assert 400 <= caught.value.code < 500, (route, caught.value.code)
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        assert client.is_model_ready(tiny_repository.model_name, client_timeout=10)


class _RecordingNgrok:
    """Stands in for `pyngrok.ngrok` (the ngrok service cannot be reached here); records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def connect(self, *args, **kwargs):
        from types import SimpleNamespace

        self.calls.append(("connect", args, kwargs))
        return SimpleNamespace(public_url="https://a1b2.ngrok-free.app")

    def disconnect(self, *args, **kwargs):
        self.calls.append(("disconnect", args, kwargs))

    def kill(self, *args, **kwargs):
        self.calls.append(("kill", args, kwargs))


@pytest.mark.triton
@pytest.mark.parametrize("endpoint", ["http_port", "metrics_port", "grpc_port"])
def test_publish_refuses_any_port_of_a_running_triton(endpoint, triton_server, monkeypatch, capsys):
    """Triton on non-default ports: publishing its HTTP or metrics port must be refused, not tunnelled.

    The client's own tests cover Triton's default ports and the `--url` port; a port that some
    other server already holds is the remaining way to expose Triton by mistake.
    """
    from client import publish

    double = _RecordingNgrok()
    monkeypatch.setattr(publish, "ngrok", double)
    monkeypatch.setenv(publish.TOKEN_VARIABLE, "test-token")
    monkeypatch.setenv(publish.AUTH_VARIABLE, "doctor:correct-horse-battery")
    port = getattr(triton_server.settings, endpoint)
    assert publish.main(["--port", str(port), "--url", triton_server.grpc_url]) == 2
    assert double.calls == [], f"ngrok was asked to tunnel Triton's {endpoint} {port}"
    assert str(port) in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The real Streamlit server (`streamlit run client/app.py` with the project's config.toml).


def _configured_upload_limit_bytes() -> int:
    import tomllib

    config = tomllib.loads((REPOSITORY_ROOT / ".streamlit" / "config.toml").read_text())
    return int(config["server"]["maxUploadSize"]) * 1024 * 1024


@pytest.mark.slow
def test_the_real_server_enforces_the_upload_limit_and_xsrf(
    streamlit_server, streamlit_session, ct_small_bytes
):
    limit = _configured_upload_limit_bytes()
    assert limit <= 50 * 1024 * 1024, "config.toml must lower Streamlit's 200 MB default"
    server = streamlit_server("127.0.0.1:1")  # no Triton needed to test uploads
    session = streamlit_session(server.port)
    session.open()
    try:
        session.rerun()
        assert session.session_id
        status, _ = session.upload("small.dcm", ct_small_bytes)
        assert status == 204
        oversized = bytes(limit + 1024)
        status, _ = session.upload("huge.dcm", oversized)
        assert status == 413, "an upload over server.maxUploadSize must get 413 from the server"
        status, _ = session.upload("huge_chunked.dcm", oversized, chunked=True)
        assert status == 413, "a chunked upload (no Content-Length) over the limit must get 413 too"
        forged = session.http(
            "PUT",
            f"/_stcore/upload_file/{session.session_id}/forged",
            b"x",
            {"Content-Type": "multipart/form-data; boundary=b"},
            xsrf=False,
        )
        assert forged[0] == 403, "an upload without the XSRF token must be refused"
    finally:
        session.close()
    assert server.process.poll() is None, "the server died on an oversized upload"


def _on_disk(path: str) -> bool:
    """Whether a path lies on a disk-backed filesystem (its longest matching mount point decides)."""
    memory = {"tmpfs", "ramfs"}
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    containing = [
        fields for fields in mounts if path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")
    ]
    best = max(containing, key=lambda fields: len(fields[1]))
    return best[2] not in memory


@pytest.mark.slow
def test_a_large_upload_never_touches_the_disk_while_it_arrives(streamlit_server, streamlit_session):
    """Streamlit's web server spools uploads over 1 MiB to an unnamed temporary file while they arrive.

    `emphysema app`/`publish` point the app's temporary folder at memory (tmpfs), so the bytes of a
    scan never reach a disk. The upload is sent slowly, and the server's open files are read from
    /proc halfway through.
    """
    import socket
    import time

    server = streamlit_server("127.0.0.1:1")
    session = streamlit_session(server.port)
    session.open()
    try:
        session.rerun()
        size = 3 * 1024 * 1024
        head = (
            b'--boundary\r\nContent-Disposition: form-data; name="file"; filename="big.dcm"\r\n'
            b"Content-Type: application/dicom\r\n\r\n"
        )
        tail = b"\r\n--boundary--\r\n"
        request = (
            f"PUT /_stcore/upload_file/{session.session_id}/big HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n"
            "Content-Type: multipart/form-data; boundary=boundary\r\n"
            f"Content-Length: {len(head) + size + len(tail)}\r\nX-Xsrftoken: {session.xsrf}\r\n"
            f"Cookie: {session.XSRF_COOKIE}={session.xsrf}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            connection.sendall(request + head + bytes(2 * 1024 * 1024))
            open_files: list[str] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any("(deleted)" in name for name in open_files):
                time.sleep(0.2)
                open_files = _regular_files(server.process.pid)
            connection.sendall(bytes(size - 2 * 1024 * 1024) + tail)
            answer = connection.recv(64)
    finally:
        session.close()
    assert answer.startswith(b"HTTP/1.1 204"), answer
    spooled = [name.removesuffix(" (deleted)") for name in open_files if name.endswith(" (deleted)")]
    assert spooled, f"expected Streamlit to spool the upload to a temporary file; open files: {open_files}"
    on_disk = [name for name in spooled if _on_disk(name)]
    assert not on_disk, f"the upload was spooled to a disk-backed file: {on_disk}"


def _regular_files(pid: int) -> list[str]:
    names = []
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(descriptor.readlink())
        except OSError:
            continue
        if target.startswith("/") and not target.startswith(("/dev/pts", "/dev/null", "/proc")):
            names.append(target)
    return names


@pytest.mark.slow
def test_a_crafted_upload_with_a_forbidden_extension_shows_no_traceback(streamlit_server, streamlit_session):
    """The browser only offers allowed extensions; a hand-made request can still send `evil.exe`.

    Streamlit refuses it while deserialising the widget, before the app's code runs, so the app
    cannot turn it into its own message. What must hold: the user sees Streamlit's redacted
    error, not a traceback or a file path, and the server keeps serving.
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    server = streamlit_server("127.0.0.1:1")
    session = streamlit_session(server.port)
    session.open()
    try:
        session.rerun()
        _, evil = session.upload("evil.exe", b"MZ" + bytes(100))
        session.messages.clear()
        session.submit_uploads([("evil.exe", 102, evil)])
    finally:
        session.close()
    exceptions = []
    for data in session.messages:
        forward = ForwardMsg()
        forward.ParseFromString(data)
        if forward.WhichOneof("type") == "delta" and forward.delta.WhichOneof("type") == "new_element":
            element = forward.delta.new_element
            if element.WhichOneof("type") == "exception":
                exceptions.append(element.exception)
    assert exceptions, "expected Streamlit's error element for the refused upload"
    for exception in exceptions:
        assert "redacted" in exception.message
        assert not exception.stack_trace and "Traceback" not in exception.message
        assert "/work" not in exception.message and "site-packages" not in exception.message
    assert server.process.poll() is None
    again = streamlit_session(server.port)
    again.open()
    try:
        again.rerun()
        assert again.session_id, "the server stopped serving new sessions"
    finally:
        again.close()


@pytest.mark.triton
def test_the_app_refuses_a_file_over_its_own_limit_and_keeps_the_others(
    triton_server, ct_small_bytes, monkeypatch
):
    """AppTest skips Streamlit's HTTP upload route, so this is the app's own per-file check."""
    from client.uploads import MAXIMUM_UPLOAD_BYTES

    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", triton_server.grpc_url)
    app = AppTest.from_file(str(REPOSITORY_ROOT / "client" / "app.py"), default_timeout=60)
    app.run()
    oversized = b"\x89PNG\r\n\x1a\n" + bytes(MAXIMUM_UPLOAD_BYTES)
    app.file_uploader[0].set_value(
        [("huge.png", oversized, "image/png"), ("good.dcm", ct_small_bytes, "application/dicom")]
    ).run()
    assert not app.exception
    errors = [str(element.value) for element in app.error]
    assert len([message for message in errors if "huge.png" in message]) == 1, errors
    assert any("limit" in message for message in errors if "huge.png" in message), errors
    assert [entry["name"] for entry in app.session_state["entries"]] == ["good.dcm"]
    assert app.session_state["entries"][0]["predictions"]


@pytest.mark.slow
def test_a_foreign_host_is_refused_when_published(streamlit_server, streamlit_session):
    """`emphysema publish` starts the app with allowed hosts = the tunnel's host and loopback names."""
    from websockets.exceptions import InvalidStatus

    public_host = "a1b2-c3d4.ngrok-free.app"
    server = streamlit_server("127.0.0.1:1", allowed_hosts=(public_host, "localhost", "127.0.0.1"))
    foreign_hosts = (
        "evil.example.com",
        f"evil.example.com:{server.port}",
        "a1b2-c3d4.ngrok-free.app.evil.example",
        f"10.0.0.1:{server.port}",
    )
    for host in foreign_hosts:
        foreign = streamlit_session(server.port, host=host)
        with pytest.raises(InvalidStatus) as caught:
            foreign.open()
        assert caught.value.response.status_code == 403, host
    for host in (public_host, f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
        allowed = streamlit_session(server.port, host=host)
        allowed.open()
        try:
            allowed.rerun()
            assert allowed.session_id, f"the app did not start a session for Host {host}"
        finally:
            allowed.close()


# ---------------------------------------------------------------------------------------------
# Log audit: CT_small.dcm through the CLI, AppTest and the real server; its identity appears nowhere.


def _with_malformed_identity(data: bytes) -> bytes:
    import io

    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(data))
    name = str(dataset.PatientName)
    dataset.PatientName = f"{name}^{'X' * 70}^^^^^extra"  # too long, too many components
    dataset.PatientID = f"{dataset.PatientID}\x01{'9' * 70}"  # control character, too long
    dataset.PatientBirthDate = f"{dataset.PatientID[:4]}-not-a-date"
    malformed_uid = f"{dataset.SOPInstanceUID}\x01x"  # UIDs allow digits and dots only
    dataset.SOPInstanceUID = malformed_uid
    dataset.file_meta.MediaStorageSOPInstanceUID = malformed_uid
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _files_under(*folders: Path) -> list[Path]:
    return [path for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file()]


def _leaks(text: bytes, identity: list[str]) -> list[str]:
    lowered = text.lower()
    return [value for value in identity if value.lower().encode() in lowered]


@pytest.mark.triton
@pytest.mark.slow
def test_patient_identity_appears_in_no_log_or_output(
    triton_server,
    ct_small_bytes,
    ct_small_identity,
    tmp_path,
    capfd,
    caplog,
    monkeypatch,
    streamlit_server,
    streamlit_session,
    private_temp,
):
    from emphysema import cli

    assert ct_small_identity, "CT_small.dcm should carry a patient name and ids to protect"
    assert _leaks(ct_small_bytes, ct_small_identity), "the input itself must contain the identity"
    scans = tmp_path / "scans"
    scans.mkdir()
    scan = scans / "slice_001.dcm"
    scan.write_bytes(ct_small_bytes)
    # A second copy whose identifying values are also malformed, so pydicom would warn about them
    # (with the value quoted) if anything parsed them without silencing it.
    hostile = scans / "slice_002.dcm"
    hostile.write_bytes(_with_malformed_identity(ct_small_bytes))
    inputs = {scan, hostile}
    capfd.readouterr()  # building the hostile copy made pydicom warn here, in the test: not audited
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    outputs = tmp_path / "outputs"
    outputs.mkdir()

    # 1. The CLI, as table, JSON and CSV. `emphysema predict` never imports the app's upload module,
    # which mutes pydicom's logger, so the CLI runs here with pydicom's own default logging.
    pydicom_logger = logging.getLogger("pydicom")
    muted_level = pydicom_logger.level
    pydicom_logger.setLevel(logging.WARNING)
    try:
        for output_format in ([], ["--json"], ["--csv"]):
            status = cli.main(
                ["predict", "--url", triton_server.grpc_url, *output_format, str(scan), str(hostile)]
            )
            assert status == 0
    finally:
        pydicom_logger.setLevel(muted_level)
    cli_output = capfd.readouterr()

    # 2. The app headless (AppTest), including what it renders and keeps in the session.
    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", triton_server.grpc_url)
    app = AppTest.from_file(str(REPOSITORY_ROOT / "client" / "app.py"), default_timeout=60)
    app.run()
    app.file_uploader[0].set_value(
        [
            ("slice_001.dcm", ct_small_bytes, "application/dicom"),
            ("slice_002.dcm", hostile.read_bytes(), "application/dicom"),
        ]
    ).run()
    assert not app.exception
    assert [bool(entry["predictions"]) for entry in app.session_state["entries"]] == [True, True]
    rendered = repr([element for element in app.main]) + repr([element for element in app.sidebar])
    kept = repr(app.session_state["entries"])
    app_output = capfd.readouterr()

    # 3. The real server: the same upload over HTTP, the app's messages captured off the WebSocket.
    server = streamlit_server(triton_server.grpc_url)
    session = streamlit_session(server.port)
    session.open()
    try:
        session.rerun()
        status, file_id = session.upload("slice_001.dcm", ct_small_bytes)
        assert status == 204
        session.submit_uploads([("slice_001.dcm", len(ct_small_bytes), file_id)])
    finally:
        session.close()
    browser_stream = b"".join(session.messages)
    assert b"slice_001.dcm" in browser_stream, "the real server never showed the uploaded scan"
    assert not [alert for alert in session.alerts() if "slice_001.dcm" in alert], session.alerts()

    texts = {
        "cli stdout/stderr": (cli_output.out + cli_output.err).encode(),
        "app stdout/stderr": (app_output.out + app_output.err).encode(),
        "python logging": "\n".join(record.getMessage() for record in caplog.records).encode(),
        "app rendering": rendered.encode(),
        "app session state": kept.encode(),
        "real server websocket stream": browser_stream,
        "real server log": server.log().encode(),
        "triton log": triton_server.log_path.read_bytes() if triton_server.log_path.exists() else b"",
    }
    for path in _files_under(tmp_path, private_temp):
        if path not in inputs:
            texts[str(path)] = path.read_bytes()
    leaks = {where: found for where, text in texts.items() if (found := _leaks(text, ct_small_identity))}
    assert not leaks, f"patient identity found in: {leaks}"
    assert texts["cli stdout/stderr"], "the CLI printed nothing: the audit would prove nothing"
