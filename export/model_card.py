"""model_card.json: what a version folder holds, where it came from, and how it was checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from emphysema.versions import package_versions
from export.onnx_graph import TensorSignature
from imaging.contract import CLASS_NAMES
from training.run_folder import Run

# Packages whose versions decide what the graph contains and how it was checked.
RECORDED_PACKAGES: tuple[str, ...] = (
    "keras",
    "tensorflow-cpu",
    "tensorflow",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxconverter-common",
    "numpy",
)


def describe_tensor(signature: TensorSignature) -> dict[str, Any]:
    """A tensor as JSON: name, ONNX type, dims with ``-1`` for the dynamic batch."""
    return {
        "name": signature.name,
        "type": signature.type_name,
        "dims": [-1 if dim is None else dim for dim in signature.dims],
    }


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks (models can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_metrics(run: Run) -> dict[str, Any] | None:
    """The run's own evaluation (``metrics.json``), if training wrote one."""
    path = run.folder / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"error": f"{path.name} is not readable JSON"}


def build_model_card(
    *,
    run: Run,
    model_path: Path,
    version: int,
    checks: dict[str, Any],
    signature: tuple[TensorSignature, TensorSignature],
    opset: int,
    settings: dict[str, Any],
    exported_at: str,
    command: str,
) -> dict[str, Any]:
    """Assemble the card written next to ``model.onnx``.

    Args:
        run: the source training run.
        model_path: the written ``model.onnx`` (for its size and digest).
        version: the version folder's number.
        checks: parity and accuracy figures measured before writing.
        signature: the graph's (input, output).
        opset: the pinned ONNX opset.
        settings: the resolved export settings.
        exported_at: UTC ISO-8601 time of the export.
        command: the command line that made it.
    """
    return {
        "model_name": settings["model_name"],
        "architecture": run.architecture,
        "version": version,
        "precision": settings["precision"],
        # The ROI side (mm) a region model was trained on; None for a slice-level model.
        "field_of_view_mm": run.settings.field_of_view_mm,
        # The lung density reference (HU) its studies were shifted to; None: raw HU.
        "density_reference_hu": run.settings.density_reference_hu,
        "exported_at": exported_at,
        "command": command,
        "source_run": {
            "folder": str(run.folder.resolve()),
            "architecture": run.architecture,
            "image_size": run.image_size,
            "data": run.settings.data,
            "seed": run.settings.seed,
            # "image" means the training metrics come from test patients seen in training.
            "split": run.settings.split,
            "window": {"width": run.window.width, "level": run.window.level},
            "split_sizes": {part: len(entries) for part, entries in run.split.items()},
        },
        "training_metrics": run_metrics(run),
        "checks": checks,
        "interface": {
            "input": describe_tensor(signature[0]),
            "output": describe_tensor(signature[1]),
            "labels": list(CLASS_NAMES),
        },
        "onnx": {
            "file": model_path.name,
            "opset": opset,
            "size_bytes": model_path.stat().st_size,
            "sha256": file_digest(model_path),
        },
        "versions": package_versions(RECORDED_PACKAGES),
        "settings": settings,
    }
