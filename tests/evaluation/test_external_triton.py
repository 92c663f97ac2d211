"""External validation through a model served by the real embedded Triton, with the same metrics code.

The served model is the tiny ONNX classifier of `tiny_repository` (32 px, like `tiny_run`); the
report's probabilities must be the ones onnxruntime computes for that graph on the same inputs.
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from emphysema import cli
from imaging.contract import CLASS_NAMES
from imaging.dataset import load_images, read_dataset
from training.run_folder import read_run

pytestmark = pytest.mark.triton


@pytest.fixture(scope="module")
def second_cohort(tiny_run, tmp_path_factory):
    """`tiny_run`'s data set with other noise in every slice: same file names and labels, other pixels."""
    data = read_run(tiny_run).data_root
    root = tmp_path_factory.mktemp("second") / "hospital_b"
    rng = np.random.default_rng(1)
    for path in data.rglob("*.png"):
        pixels = np.asarray(Image.open(path)).astype(np.int32)
        pixels += rng.integers(-40, 40, pixels.shape)
        (root / path.relative_to(data)).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 4000).astype(np.uint16)).save(root / path.relative_to(data))
    shutil.copy(data / "manifest.csv", root / "manifest.csv")
    return root


def test_a_served_model_is_scored_on_every_slice(
    triton_server, tiny_repository, tiny_run, second_cohort, tmp_path, capsys
):
    import onnxruntime

    out = tmp_path / "served"
    arguments = [
        "evaluate",
        "--run",
        str(tiny_run),
        "--data",
        str(second_cohort),
        "--external",
        "--out",
        str(out),
    ]
    served = ["--url", triton_server.grpc_url, "--model", tiny_repository.model_name]
    assert cli.main([*arguments, *served]) == 0
    assert f"through Triton at {triton_server.grpc_url}" in capsys.readouterr().out
    with open(out / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    samples = {s.path.relative_to(second_cohort).as_posix(): s for s in read_dataset(second_cohort)}
    assert sorted(row["path"] for row in rows) == sorted(samples)
    images = load_images(
        [samples[row["path"]] for row in rows], 32, read_run(tiny_run).window, progress=False
    )
    session = onnxruntime.InferenceSession(str(tiny_repository.onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(["probabilities"], {"image": images})[0]
    written = np.array([[float(row[f"p_{name}"]) for name in CLASS_NAMES] for row in rows])
    np.testing.assert_allclose(written, expected, atol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["count"] == len(rows) == 48
    assert metrics["accuracy"]["value"] == pytest.approx(
        np.mean([r["predicted"] == r["label"] for r in rows])
    )
    report = (out / "report.md").read_text()
    assert (
        f"scored through Triton: model `{tiny_repository.model_name}` version 1 at `{triton_server.grpc_url}`"
        in report
    )
    settings = json.loads((out / "evaluation_settings.json").read_text())
    assert settings["scored_with"] == "triton" and settings["url"] == triton_server.grpc_url


def test_a_model_that_is_not_served_is_named(
    triton_server, tiny_repository, tiny_run, second_cohort, tmp_path, capsys
):
    out = tmp_path / "none"
    arguments = [
        "evaluate",
        "--run",
        str(tiny_run),
        "--data",
        str(second_cohort),
        "--external",
        "--out",
        str(out),
    ]
    assert cli.main([*arguments, "--url", triton_server.grpc_url, "--model", "resnet50"]) == 1
    error = capsys.readouterr().err
    assert "'resnet50' is not served" in error and f"it serves {tiny_repository.model_name}" in error
    assert not out.exists()
