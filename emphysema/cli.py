"""Dispatch `emphysema SUBCOMMAND ...` to the stage that owns it, and report its errors once.

Each stage keeps its own `main(argv) -> int`; this module routes to it and turns an error into
a message and an exit status (see `EXIT_STATUS_HELP`). Stages are imported lazily, so a
client-only install (no TensorFlow) can run `predict` and `app`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from imaging.errors import EmphysemaError, UsageError

# subcommand -> (module, one-line help). Order follows the data flow.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("imaging.phantom.synthesize", "generate the synthetic HRCT phantom data set"),
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
    "roi-dataset": (
        "analysis.roi_dataset",
        "cut labelled ROIs of a size in mm from studies with a pattern map",
    ),
    "train": ("training.train", "train one architecture into a run folder"),
    "evaluate": ("evaluation.command", "evaluate a run on its test split, or on another cohort (--external)"),
    "compare": ("training.compare", "train and compare architectures on one split"),
    "export": ("export.exporter", "export a run to ONNX into the Triton model repository"),
    "serve": ("deploy.serve", "serve the model repository with the embedded Triton"),
    "predict": ("client.predict", "classify scan files through Triton"),
    "app": ("web.launch", "start the web app: single slices, studies, PACS"),
    "publish": ("web.publish", "publish the web app through an authenticated ngrok tunnel"),
    "analyze": ("analysis.command", "pattern maps and zone summaries of CT studies through Triton"),
    "analysis-eval": (
        "analysis.accuracy_command",
        "pattern maps of held-out phantom studies against their truth, through Triton",
    ),
    "bench": ("bench.run", "benchmark serving against in-process baselines"),
    "pacs": ("pacs.command", "run a private Orthanc PACS with DICOMweb on loopback"),
    "watch": ("analysis.watch_command", "analyse each new CT study of an Orthanc PACS once it is complete"),
}

USAGE_STATUS = 2
FAILURE_STATUS = 1
EXIT_STATUS_HELP = (
    "exit status: 0 done; 2 the command line is wrong (unknown option, impossible value: fix the\n"
    "command); 1 the command ran and failed (a missing or bad file, Triton unreachable, a check\n"
    "refused). The reason is printed on stderr as `emphysema SUBCOMMAND: error: ...`."
)


def _usage() -> str:
    lines = ["usage: emphysema SUBCOMMAND [options]", "", "subcommands:"]
    lines += [f"  {name:<12} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += ["", "Run `emphysema SUBCOMMAND --help` for its options.", "", EXIT_STATUS_HELP]
    return "\n".join(lines)


def build_parser(name: str) -> argparse.ArgumentParser:
    """The argument parser of subcommand ``name`` (each stage's ``build_parser``), for help and tests."""
    module_name, _ = SUBCOMMANDS[name]
    return importlib.import_module(module_name).build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status (2 usage, 1 failure, else the stage's own)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if arguments else USAGE_STATUS
    name, rest = arguments[0], arguments[1:]
    if name not in SUBCOMMANDS:
        print(f"emphysema: unknown subcommand {name!r}\n\n{_usage()}", file=sys.stderr)
        return USAGE_STATUS
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
        return USAGE_STATUS
    try:
        return int(module.main(rest) or 0)
    except EmphysemaError as error:
        print(f"emphysema {name}: error: {error}", file=sys.stderr)
        return USAGE_STATUS if isinstance(error, UsageError) else FAILURE_STATUS
    except (OSError, ValueError) as error:
        # The file system's errors name the path; the numeric layers (splits, metrics) raise
        # ValueError with a message about the input. Anything else is a bug: it keeps its traceback.
        print(f"emphysema {name}: error: {error}", file=sys.stderr)
        return FAILURE_STATUS


if __name__ == "__main__":
    sys.exit(main())
