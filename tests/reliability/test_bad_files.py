"""Bad files everywhere they can enter: the reader, `emphysema predict` and the Streamlit app.

Each bad file must give one clear message that names the file, the good file next to it must
still be classified, no traceback may reach the user, and nothing may be left on disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

# Imported here, not in the test: AppTest makes its own temporary folder on import, which is not the
# app writing to disk.
from streamlit.testing.v1 import AppTest

from imaging.errors import ScanReadError
from imaging.readers import read_scan

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def _check_message(message: str, bad_file) -> None:
    assert bad_file.name in message, f"the message does not name the file: {message!r}"
    assert "\n" not in message.strip(), f"expected one line, got {message!r}"
    assert "Traceback" not in message
    assert len(message) < 500, f"message too long for a person to read: {message!r}"
    lowered = message.lower()
    assert any(hint in lowered for hint in bad_file.hints), (
        f"the message does not say what is wrong (expected one of {bad_file.hints}): {message!r}"
    )


def test_read_scan_refuses_a_bad_file_from_disk_with_one_clear_message(bad_file, tmp_path, tree_lister):
    path = tmp_path / bad_file.name
    path.write_bytes(bad_file.data)
    before = tree_lister(tmp_path)
    with pytest.raises(ScanReadError) as caught:
        read_scan(path)
    _check_message(str(caught.value), bad_file)
    assert tree_lister(tmp_path) == before
    assert path.read_bytes() == bad_file.data, "the reader changed the input file"


def test_read_scan_refuses_a_bad_upload_from_bytes_with_one_clear_message(bad_file):
    with pytest.raises(ScanReadError) as caught:
        read_scan(bad_file.data, name=bad_file.name)
    _check_message(str(caught.value), bad_file)


def test_reading_every_bad_file_leaves_nothing_in_the_temp_or_working_dir(
    bad_files, private_temp, tree_lister
):
    for bad in bad_files:
        with pytest.raises(ScanReadError):
            read_scan(bad.data, name=bad.name)
    assert tree_lister(private_temp) == []


_SPECIAL_FILE_PROBE = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), resource.RLIM_INFINITY))
    from imaging.errors import ScanReadError
    from imaging.readers import read_scan
    results = {}
    for path in sys.argv[3:]:
        try:
            read_scan(path)
            results[path] = "accepted"
        except ScanReadError as error:
            results[path] = "ScanReadError: " + str(error)
        except BaseException as error:
            results[path] = type(error).__name__ + ": " + str(error)
    print(json.dumps(results))
""")


def test_devices_and_pipes_are_refused_without_hanging_or_reading_forever(tmp_path):
    """`emphysema predict /dev/zero` or a named pipe must fail at once, not read forever or block.

    Run in a child with a 1 GiB address-space cap and a time limit, so a reader that trusted the
    (zero) size of a device cannot take the machine's memory or hang the suite.
    """
    import os

    fifo = tmp_path / "scan.dcm"
    os.mkfifo(fifo)
    paths = ["/dev/zero", "/dev/urandom", str(fifo)]
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _SPECIAL_FILE_PROBE, str(REPOSITORY_ROOT), str(1024**3), *paths],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("read_scan hung on a device or a named pipe (no answer within 30 s)")
    assert completed.returncode == 0, completed.stderr
    for path, outcome in json.loads(completed.stdout).items():
        assert outcome.startswith("ScanReadError: "), (path, outcome)
        assert path in outcome and "\n" not in outcome


def test_the_good_file_still_reads(ct_small_bytes):
    scan = read_scan(ct_small_bytes, name="CT_small.dcm")
    assert scan.is_hounsfield and scan.pixels.shape == (128, 128)


# The bombs are read in a child process whose address space is capped at its current size plus
# ADDRESS_SPACE_HEADROOM: a reader that trusted the header would need 400-900 MB and die with
# MemoryError there. The child also reports its peak RSS growth and tracemalloc peak.
ADDRESS_SPACE_HEADROOM = 256 * 1024 * 1024
PEAK_GROWTH_BOUND = 64 * 1024 * 1024
_BOMB_PROBE = textwrap.dedent("""
    import json, resource, sys, tracemalloc
    sys.path.insert(0, sys.argv[1])
    from imaging.errors import ScanReadError
    from imaging.readers import read_scan
    cases = json.loads(sys.stdin.read())
    read_scan(bytes.fromhex(cases.pop("warm_up")), name="warm_up.dcm")  # load every lazy import first
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[2]), resource.RLIM_INFINITY))
    results = {}
    for name, data in cases.items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        try:
            read_scan(bytes.fromhex(data), name=name)
            outcome = "accepted"
        except ScanReadError as error:
            outcome = "ScanReadError: " + str(error)
        except BaseException as error:
            outcome = type(error).__name__ + ": " + str(error)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        results[name] = {"outcome": outcome, "traced_peak": peak, "rss_growth": growth}
    print(json.dumps(results))
""")


def _dicom_claiming(rows: int, columns: int) -> bytes:
    import io

    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.Rows, dataset.Columns = rows, columns
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_decompression_bombs_are_refused_before_any_large_allocation(bad_files, ct_small_bytes):
    bomb = next(bad for bad in bad_files if bad.name == "bomb.png")
    # Also a 16-bit PNG bomb, a DICOM whose header claims 60000x60000 (3.6 G pixels), and a
    # 570 kB zlib TIFF within the side limit whose float64 RGBA pixels would take 512 MiB.
    cases = {
        "bomb.png": bomb.data.hex(),
        "bomb16.png": _png_claiming_16bit(20000, 20000).hex(),
        "bomb.dcm": _dicom_claiming(60000, 60000).hex(),
        "bomb.tif": _compressed_tiff((4096, 4096, 4), np.float64, "rgb").hex(),
        "warm_up": ct_small_bytes.hex(),
    }
    completed = subprocess.run(
        [sys.executable, "-c", _BOMB_PROBE, str(REPOSITORY_ROOT), str(ADDRESS_SPACE_HEADROOM)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    for name, result in results.items():
        assert result["outcome"].startswith("ScanReadError: "), (name, result)
        assert name in result["outcome"]
        assert result["traced_peak"] < PEAK_GROWTH_BOUND, (name, result)
        assert result["rss_growth"] < PEAK_GROWTH_BOUND, (name, result)


def _compressed_tiff(shape: tuple[int, ...], dtype, photometric: str) -> bytes:
    import io

    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros(shape, dtype), compression="zlib", photometric=photometric)
    return buffer.getvalue()


def _png_claiming_16bit(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 2 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------
# `emphysema predict`: the other files are still classified, one line per bad file, exit 1.


@pytest.mark.triton
def test_predict_cli_reports_each_bad_file_and_classifies_the_good_one(
    bad_files, ct_small_bytes, triton_server, tmp_path, capsys, tree_lister, private_temp
):
    from emphysema import cli

    folder = tmp_path / "scans"
    folder.mkdir()
    for bad in bad_files:
        (folder / bad.name).write_bytes(bad.data)
    (folder / "good.dcm").write_bytes(ct_small_bytes)
    files = sorted(str(path) for path in folder.iterdir())
    before = tree_lister(tmp_path)

    status = cli.main(["predict", "--url", triton_server.grpc_url, "--quiet", "--json", *files])

    captured = capsys.readouterr()
    assert status == 1, "the exit code must say that some files failed"
    assert "Traceback" not in captured.out + captured.err
    report = json.loads(captured.out)
    assert [Path(row["file"]).name for row in report["predictions"]] == ["good.dcm"]
    assert report["predictions"][0]["prediction"] in {"NT", "CLE", "PSE", "PLE"}
    assert len(report["errors"]) == len(bad_files)
    for bad in bad_files:
        lines = [line for line in captured.err.splitlines() if f"{bad.name}:" in line]
        assert len(lines) == 1, f"expected one error line for {bad.name}, got {lines}"
        _check_message(lines[0], bad)
    assert tree_lister(tmp_path) == before, "predict wrote files next to the scans or in its temp dir"


@pytest.mark.triton
def test_predict_cli_with_only_bad_files_fails_cleanly(bad_files, triton_server, tmp_path, capsys):
    from emphysema import cli

    paths = []
    for bad in bad_files[:3]:
        path = tmp_path / bad.name
        path.write_bytes(bad.data)
        paths.append(str(path))
    status = cli.main(["predict", "--url", triton_server.grpc_url, "--quiet", *paths])
    captured = capsys.readouterr()
    assert status == 1
    assert "Traceback" not in captured.out + captured.err
    assert "0 classified, 3 failed" in captured.err


# ---------------------------------------------------------------------------------------------
# The Streamlit app (AppTest): an error per bad file, the good one still classified.


def _app_text(app) -> str:
    parts = []
    for kind in (
        "markdown",
        "error",
        "warning",
        "info",
        "success",
        "caption",
        "text",
        "subheader",
        "header",
        "title",
        "metric",
        "exception",
        "code",
    ):
        for element in getattr(app, kind, []):
            value = getattr(element, "value", None)
            if value is None:
                value = getattr(element, "body", None) or getattr(element, "label", "")
            parts.append(str(value))
    for table in list(getattr(app, "dataframe", [])) + list(getattr(app, "table", [])):
        parts.append(table.value.to_csv() if hasattr(table.value, "to_csv") else str(table.value))
    return "\n".join(parts)


@pytest.mark.triton
def test_app_shows_one_error_per_bad_upload_and_still_classifies_the_good_one(
    bad_files, ct_small_bytes, triton_server, private_temp, tree_lister, monkeypatch
):
    monkeypatch.setenv("EMPHYSEMA_TRITON_URL", triton_server.grpc_url)
    app = AppTest.from_file(str(REPOSITORY_ROOT / "client" / "app.py"), default_timeout=60)
    app.run()
    _point_app_at(app, triton_server.grpc_url)
    uploads = [(bad.name, bad.data, "application/octet-stream") for bad in bad_files]
    uploads.append(("good.dcm", ct_small_bytes, "application/dicom"))
    app.file_uploader[0].set_value(uploads).run()

    assert not app.exception, [element.value for element in app.exception]
    errors = [str(element.value) for element in app.error]
    for bad in bad_files:
        naming = [message for message in errors if bad.name in message]
        assert len(naming) == 1, f"expected one error naming {bad.name}, got {naming} in {errors}"
        assert "Traceback" not in naming[0]
    entries = app.session_state["entries"]
    assert [entry["name"] for entry in entries] == ["good.dcm"]
    shown = _app_text(app)
    prediction = next(iter(entries[0]["predictions"].values()))
    assert f"({prediction.label})" in shown, "the good file's prediction is not shown"
    assert "Traceback" not in shown
    assert tree_lister(private_temp) == [], "the app wrote uploads to disk"


def _point_app_at(app, grpc_url: str) -> None:
    """Set the sidebar's server URL field when the app has one (it may also read the environment)."""
    for text_input in app.sidebar.text_input:
        if "url" in str(text_input.label).lower() or "server" in str(text_input.label).lower():
            if text_input.value != grpc_url:
                text_input.set_value(grpc_url).run()
            return
