"""Studies per minute from a real PACS with 1, 2, ... worker processes against one embedded Triton.

Generates small phantom studies, stores them into a private Orthanc started here, serves a model
repository with the embedded Triton, and for each worker count runs that many
``emphysema analyze --dicomweb URL --study-list FILE --shard-index I --shard-count N`` processes at
once (as the Kubernetes Indexed Job's pods do), timed from their start until the last one exits.

    python -m bench.pacs_throughput --repository /tmp/watchbench/repo --model simple_cnn \
        --studies 8 --workers 1 2 --out bench/results/pacs_throughput/throughput.json

The Markdown table beside the JSON is rendered from it. The repository's model is recorded (name,
ONNX SHA-256, input size, field of view), with the CPU and the load average before and after,
since other jobs on the machine change the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pydicom

from bench.pacs_throughput_results import PacsThroughputResults, ServedModel, StudySet, WorkerRun
from bench.pacs_throughput_table import render_table
from bench.results_json import json_text
from bench.study_sources import served_onnx
from deploy.embedded import EmbeddedTriton
from deploy.ports import free_ports
from deploy.settings import ServeSettings
from emphysema.versions import cpu_facts, package_versions
from export.model_repository import CONFIG_FILENAME, read_model_card
from imaging.staging import write_text_atomically
from pacs.credentials import PASSWORD_VARIABLE, USER_VARIABLE, Credentials
from pacs.dicomweb import connect, store_folder
from pacs.orthanc import running_orthanc
from pacs.settings import PacsSettings
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("CLE+PSE", "PLE", "CLE", "PSE", "NT")


def build_parser() -> argparse.ArgumentParser:
    """Return the benchmark's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.pacs_throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repository", type=Path, required=True, help="model repository to serve")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("--studies", type=int, default=8, help="small phantom studies (default %(default)s)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2, 2, 1],
        help="worker counts, run in this order; repeat them in mirrored order so that a change in the "
        "machine's load hits both alike (default 1 2 2 1)",
    )
    parser.add_argument("--slice-step", type=int, default=2, help="analyse every Nth lung slice (default 2)")
    parser.add_argument("--seed", type=int, default=500, help="first phantom seed (default %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    return parser


def model_facts(repository: Path, model: str) -> ServedModel:
    """Which model was served: its ONNX file's SHA-256, its config and (when exported) its card's command."""
    _, onnx = served_onnx(repository, model)  # the version Triton serves
    card = read_model_card(onnx.parent) or {}
    config = (repository / model / CONFIG_FILENAME).read_text(encoding="utf-8")
    return ServedModel(
        name=model,
        onnx_sha256=hashlib.sha256(onnx.read_bytes()).hexdigest(),
        export_command=card.get("command", ""),
        architecture=card.get("architecture", ""),
        image_size=card.get("source_run", {}).get("image_size"),
        field_of_view_mm_in_config="field_of_view_mm" in config,
    )


def source_commit() -> str:
    """The git commit of the code measured (empty outside a git checkout)."""
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPOSITORY_ROOT, capture_output=True, text=True
    )
    return git.stdout.strip()


def make_studies(root: Path, count: int, first_seed: int) -> list[Path]:
    """``count`` small severe phantom studies, patterns in turn; their DICOM folders."""
    folders = []
    for index in range(count):
        pattern = PATTERNS[index % len(PATTERNS)]
        severity = None if pattern == "NT" else "severe"
        write_study(
            root / f"s{index}", pattern, severity, first_seed + index, settings_for_size("small"), nifti=False
        )
        folders.append(root / f"s{index}" / "dicom")
    return folders


def run_workers(workers: int, common: list[str], out: Path, environment: dict[str, str]) -> WorkerRun:
    """Start ``workers`` shard processes at once; time them until the last exits; read their CSVs."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(  # noqa: S603 - our own command line
            [
                sys.executable,
                "-m",
                "emphysema",
                *common,
                "--shard-index",
                str(index),
                "--shard-count",
                str(workers),
                "--out",
                str(out / f"shard-{index}"),
            ],
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for index in range(workers)
    ]
    errors = [process.communicate()[1] for process in processes]
    seconds = time.perf_counter() - started
    reports = [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.glob("shard-*/*/report.json"))
    ]
    return WorkerRun(
        workers=workers,
        seconds=round(seconds, 2),
        studies_analysed=len(reports),
        studies_per_minute=round(60 * len(reports) / seconds, 2),
        exit_statuses=tuple(process.returncode for process in processes),
        errors=tuple([line for text in errors for line in text.splitlines() if "error" in line.lower()][:5]),
        mean_study_seconds={
            step: round(sum(report["seconds"][step] for report in reports) / max(len(reports), 1), 3)
            for step in (reports[0]["seconds"] if reports else {})
        },
        tiles=sum(report["tiles"]["count"] for report in reports),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON."""
    arguments = build_parser().parse_args(argv)
    credentials = Credentials("bench", secrets.token_hex(16))
    environment = {**os.environ, USER_VARIABLE: credentials.user, PASSWORD_VARIABLE: credentials.password}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pacs-throughput-") as scratch:
        root = Path(scratch)
        folders = make_studies(root / "studies", arguments.studies, arguments.seed)
        uids = [
            pydicom.dcmread(next(f.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID for f in folders
        ]
        (root / "studies.txt").write_text("\n".join(uids) + "\n", encoding="utf-8")
        pacs = PacsSettings(storage=root / "pacs", http_port=free_ports(1)[0])
        serve = ServeSettings.on_free_ports()
        with running_orthanc(pacs, credentials), EmbeddedTriton(arguments.repository, serve):
            client = connect(pacs.dicomweb_url, credentials)
            for folder in folders:
                store_folder(client, folder)
            common = ["analyze", "--dicomweb", pacs.dicomweb_url, "--study-list", str(root / "studies.txt")]
            common += ["--url", f"127.0.0.1:{serve.grpc_port}", "--model", arguments.model, "--slice-step"]
            common += [str(arguments.slice_step), "--settle", "0", "--force", "--quiet"]
            runs = tuple(
                run_workers(count, common, root / f"run-{order}", environment)
                for order, count in enumerate(arguments.workers)
            )
    cpu = cpu_facts()
    results = PacsThroughputResults(
        what="studies per minute, small phantom studies fetched from a real Orthanc (WADO-RS), analysed "
        "through one embedded Triton, results stored back (STOW-RS); N worker processes, one shard each",
        command="python -m bench.pacs_throughput " + " ".join(argv if argv is not None else sys.argv[1:]),
        commit=source_commit(),
        cpu=cpu,
        load_average_before=tuple(round(value, 2) for value in load_before),
        load_average_after=tuple(round(value, 2) for value in os.getloadavg()),
        # Other work was running when the 1-minute load before the start exceeds half the cores.
        shared_machine=load_before[0] > cpu["cores"] / 2,
        versions=package_versions(["onnxruntime", "tritonclient", "numpy", "scipy", "dicomweb-client"]),
        studies=StudySet(arguments.studies, "small", arguments.slice_step),
        model=model_facts(arguments.repository, arguments.model),
        runs=runs,
    )
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(arguments.out, json_text(results))
    write_text_atomically(arguments.out.with_suffix(".md"), render_table(results))
    for run in runs:
        print(f"{run.workers} worker(s): {run.studies_per_minute} studies/min ({run.seconds} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
