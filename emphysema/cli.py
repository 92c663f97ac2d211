"""Dispatch `emphysema SUBCOMMAND ...` to the stage that owns it.

Each stage keeps its own `main(argv) -> int`; this module only routes to it. Stages are
imported lazily, so a client-only install (no TensorFlow) can run `predict` and `app`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help). Order follows the data flow.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("imaging.synthesize", "generate the synthetic HRCT phantom data set"),
    "synth-study": (
        "study.phantom.command",
        "generate synthetic chest-CT studies (DICOM series) with ground truth",
    ),
    "quantify": (
        "study.quantify_command",
        "segment the lungs of CT studies; report LAA-950, Perc15, volumes",
    ),
    "study-eval": ("study.evaluation", "measure segmentation and LAA-950 against held-out phantom studies"),
    "study-bench": ("study.benchmark", "time reading, segmenting and quantifying a full-size study"),
    "train": ("training.train", "train one architecture into a run folder"),
    "evaluate": ("training.evaluate", "evaluate a run folder on its test split"),
    "compare": ("training.compare", "train and compare architectures on one split"),
    "export": ("export.exporter", "export a run to ONNX into the Triton model repository"),
    "serve": ("deploy.serve", "serve the model repository with the embedded Triton"),
    "predict": ("client.predict", "classify scan files through Triton"),
    "app": ("client.launch", "start the Streamlit web client"),
    "publish": ("client.publish", "publish the web client through an authenticated ngrok tunnel"),
    "bench": ("bench.run", "benchmark serving against in-process baselines"),
}


def _usage() -> str:
    lines = ["usage: emphysema SUBCOMMAND [options]", "", "subcommands:"]
    lines += [f"  {name:<12} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += ["", "Run `emphysema SUBCOMMAND --help` for its options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if arguments else 2
    name, rest = arguments[0], arguments[1:]
    if name not in SUBCOMMANDS:
        print(f"emphysema: unknown subcommand {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _ = SUBCOMMANDS[name]
    # TensorFlow's C++ start-up chatter (oneDNN, CPU features) is noise to a user; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        print(
            f"emphysema {name}: missing dependency {error.name!r}. "
            f"Install the extra for this stage, e.g. `pip install -e '.[all]'`.",
            file=sys.stderr,
        )
        return 2
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
